/**
 * Flow control, admission, breaker, recovery and inspection of calls on the simulated network.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SimWorld } from '../helpers/simWorld.js';
import { kv, kvHandlers, settle } from '../helpers/rpcFixtures.js';
import { defineService, INITIAL_CREDIT, type RpcError } from '../../src/rpc/index.js';

let world: SimWorld;
beforeEach(async () => {
  world = await SimWorld.create({ receive: 'memory', peer: { keepAliveMs: 200, deadAfterMs: 500, retryInitialMs: 50 } });
  await world.start('a');
  await world.start('b');
});
afterEach(async () => {
  await world.close();
});

const codeOf = (r: { ok: boolean; error?: unknown }) => (r.ok ? 'OK' : (r.error as RpcError).code);

const ticker = defineService('ticker', {
  ticks: { input: z.object({}), output: z.object({ n: z.number() }), stream: 'server' },
  slow: { input: z.object({ id: z.number() }), output: z.object({ id: z.number() }), idempotent: true },
});

describe('flow control', () => {
  it('a consumer that stops reading stops its producer within the credit window', async () => {
    let produced = 0;
    world.node('b').serve(ticker, {
      ticks: async function* () {
        for (let n = 0; n < 100_000; n++) {
          produced++;
          yield { n };
        }
      },
      slow: ({ id }) => ({ id }),
    });
    const it = world.node('a').client(ticker, world.ref('b')).ticks({})[Symbol.asyncIterator]();
    await settle(world, it.next());
    await world.advance(500);
    expect(produced).toBeLessThanOrEqual(INITIAL_CREDIT + 2);
  });

  it('a consumer that breaks out of the loop cancels the producer', async () => {
    let aborted = '';
    world.node('b').serve(ticker, {
      ticks: async function* (_i, ctx) {
        ctx.signal.addEventListener('abort', () => (aborted = String((ctx.signal.reason as { code: string }).code)));
        for (let n = 0; ; n++) yield { n };
      },
      slow: ({ id }) => ({ id }),
    });
    const c = world.node('a').client(ticker, world.ref('b'));
    const read = (async () => {
      for await (const t of c.ticks({})) if (t.n === 5) break;
    })();
    await settle(world, read);
    await world.until(() => aborted !== '', 1_000);
    expect(aborted).toBe('CANCELLED');
  });
});

describe('admission', () => {
  it('past the in-flight limit and a full queue, calls fail RESOURCE_EXHAUSTED', async () => {
    await world.stop('a');
    const a = await world.start('a');
    // A client with a limit of 2 in flight and a queue of 1 (options of its own).
    const { RpcClient } = await import('../../src/rpc/client.js');
    const small = new RpcClient({ clock: world.clock, maxMessageBytes: 1 << 20, openStream: (p, s) => a.openStream(p, 'rpc', { signal: s }) }, { maxInFlightPerPeer: 2, maxQueuedPerPeer: 1 });
    world.node('b').serve(kv, kvHandlers(new Map()));
    const stub = small.client(kv, world.ref('b'));
    const calls = [1, 2, 3, 4].map(() => stub.never({}, { deadlineMs: 1_000 }));
    for (const p of calls) p.catch(() => undefined);
    const fourth = await settle(world, calls[3]!, 100);
    expect([codeOf(fourth), small.peerState(`peer:${world.ref('b').nodeId}`)?.admission]).toEqual(['RESOURCE_EXHAUSTED', 'saturated']);
  });

  it('the server refuses calls past its per-peer limit with RESOURCE_EXHAUSTED', async () => {
    await world.stop('b');
    world.nodes.get('b')!.node = null;
    const { OctopiiNode } = await import('../../src/node.js');
    const n = world.nodes.get('b')!;
    const b = await OctopiiNode.start({
      identity: n.identity,
      listen: n.address,
      runtime: { clock: world.clock, transport: world.network.transport({ identity: n.identity }), hasher: { createSha256: () => { throw new Error('unused'); } } as never },
      rpc: { serverMaxInFlightPerPeer: 3 },
    });
    n.node = b;
    b.serve(kv, kvHandlers(new Map()));
    const stub = world.node('a').client(kv, world.ref('b'));
    const calls = [1, 2, 3, 4].map(() => stub.never({}, { deadlineMs: 5_000 }));
    for (const p of calls) p.catch(() => undefined);
    const fourth = await settle(world, calls[3]!, 100);
    expect(codeOf(fourth)).toBe('RESOURCE_EXHAUSTED');
  });
});

describe('call actors', () => {
  it('a call in flight shows in inspect() as peer:<id>/call#n under its peer', async () => {
    world.node('b').serve(kv, kvHandlers(new Map()));
    void world.node('a').client(kv, world.ref('b')).never({}, { deadlineMs: 10_000 }).catch(() => undefined);
    await world.advance(50);
    const peer = `peer:${world.ref('b').nodeId}`;
    const peerNode = world.node('a').inspect().tree.children.find((c) => c.id === peer);
    const calls = peerNode?.children.find((c) => c.id === `${peer}/rpc`)?.children ?? [];
    expect(calls.map((c) => [c.id.replace(peer, 'peer:b'), c.machine, c.state])).toEqual([['peer:b/call#1', 'rpcCall', 'active.awaiting']]);
  });
});

describe('recovery', () => {
  it('calls in flight fail UNAVAILABLE at once when the peer is lost', async () => {
    world.node('b').serve(kv, kvHandlers(new Map()));
    const c = world.node('a').client(kv, world.ref('b'));
    await settle(world, c.get({ key: 'x' }));
    const p = c.never({}, { deadlineMs: 30_000 });
    p.catch(() => undefined); // it fails while the kill runs; settle() below reads the outcome
    await world.advance(20);
    await world.kill('b');
    const t0 = world.now;
    const r = await settle(world, p);
    expect([codeOf(r), world.now - t0 < 1_000]).toEqual(['UNAVAILABLE', true]);
  });

  it('a call still connecting when its own node stops fails CLOSED (found by seed 2 of rpc-seeded)', async () => {
    await world.kill('b');
    const p = world.node('a').client(kv, world.ref('b')).get({ key: 'k' }, { deadlineMs: 30_000 });
    p.catch(() => undefined); // it fails while the stop runs; settle() below reads the outcome
    await world.advance(10);
    await world.stop('a');
    const r = await settle(world, p, 100);
    expect(codeOf(r)).toBe('CLOSED');
  });

  it('after the peer restarts, new calls succeed without the caller doing anything', async () => {
    world.node('b').serve(kv, kvHandlers(new Map([['k', 'v1']])));
    const c = world.node('a').client(kv, world.ref('b'));
    await settle(world, c.get({ key: 'k' }));
    await world.kill('b');
    await world.advance(1_000);
    (await world.start('b')).serve(kv, kvHandlers(new Map([['k', 'v2']])));
    const r = await settle(world, c.get({ key: 'k' }));
    expect(r).toEqual({ ok: true, value: { value: 'v2' } });
  });

  it('an idempotent call in flight when the peer restarts is retried on the new connection', async () => {
    const served: number[] = [];
    let hang = true;
    const handlers = {
      ticks: async function* () {},
      slow: ({ id }: { id: number }) => {
        served.push(id);
        return hang ? new Promise<{ id: number }>(() => undefined) : { id };
      },
    };
    world.node('b').serve(ticker, handlers);
    const c = world.node('a').client(ticker, world.ref('b'));
    const p = c.slow({ id: 7 }, { deadlineMs: 30_000 });
    await world.until(() => served.length === 1, 1_000);
    await world.kill('b');
    hang = false;
    (await world.start('b')).serve(ticker, handlers);
    const r = await settle(world, p);
    expect(r).toEqual({ ok: true, value: { id: 7 } });
  });
});

describe('circuit breaker', () => {
  it('opens after consecutive failures to an unreachable peer and fails fast with UNAVAILABLE', async () => {
    world.node('b').serve(kv, kvHandlers(new Map()));
    const c = world.node('a').client(kv, world.ref('b'));
    await settle(world, c.get({ key: 'x' }));
    await world.kill('b');
    for (let i = 0; i < 5; i++) await settle(world, c.get({ key: 'x' }, { deadlineMs: 300 }));
    const state = world.node('a').rpc.client.peerState(`peer:${world.ref('b').nodeId}`);
    expect(state?.breaker).toBe('open');
  });
});
