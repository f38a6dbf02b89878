/**
 * RPC between real nodes over real QUIC on 127.0.0.1, both transports: every call shape,
 * thousands of concurrent calls, a consumer that never reads, a peer that restarts, and calls
 * interleaved with a 100 MiB lane transfer to the same peer.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { OctopiiNode } from '../../src/node.js';
import { defineService, INITIAL_CREDIT, nodeService, type RpcError } from '../../src/rpc/index.js';
import { NodePool, rm, tempDir } from '../helpers/laneFixtures.js';
import { collect, kv, kvHandlers } from '../helpers/rpcFixtures.js';

const MiB = 1024 * 1024;
const ticker = defineService('ticker', {
  ticks: { input: z.object({ upTo: z.number() }), output: z.object({ n: z.number() }), stream: 'server' },
});

describe.each(['quinn', 'matrixai'] as const)('rpc over %s', (transport) => {
  let root: string;
  let pool: NodePool;
  let a: OctopiiNode;
  let b: OctopiiNode;
  let produced = 0;
  const peerOf = (n: OctopiiNode) => ({ address: n.address, nodeId: n.nodeId });

  beforeAll(async () => {
    root = await tempDir('octopii-rpc-');
    pool = new NodePool(root);
    // Both nodes share this process and a loaded CI machine: a generous dead-peer deadline.
    a = await pool.start({ transport, peer: { deadAfterMs: 10_000, retryInitialMs: 100 } });
    b = await pool.start({ transport, receiveDir: `${root}/b-in`, peer: { deadAfterMs: 10_000 } });
    b.serve(kv, kvHandlers(new Map([['k', 'v']])));
    b.serve(ticker, {
      ticks: async function* ({ upTo }) {
        for (let n = 0; n < upTo; n++) {
          produced++;
          yield { n };
        }
      },
    });
  });
  afterAll(async () => {
    await pool.stopAll();
    await rm(root, { recursive: true, force: true });
  });

  it('a unary call returns the handler output', async () => {
    expect(await a.client(kv, peerOf(b)).get({ key: 'k' })).toEqual({ value: 'v' });
  });

  it('node.methods lists kv with its input schema as JSON Schema', async () => {
    const { services } = await a.client(nodeService, peerOf(b)).methods({});
    const get = services.find((s) => s.name === 'kv')?.methods.find((m) => m.name === 'get');
    expect(get?.input).toMatchObject({ type: 'object', properties: { key: { type: 'string' } } });
  });

  it('server, client and bidirectional streams complete', async () => {
    const c = a.client(kv, peerOf(b));
    const watched = await collect(c.watch({ prefix: 'w', count: 1000 }));
    const put = await c.putMany(Array.from({ length: 1000 }, (_, i) => ({ key: `p${i}`, value: 'x' })));
    const echoed = await collect(c.echo([{ s: 'x' }, { s: 'y' }]));
    expect([watched.length, put.count, echoed]).toEqual([1000, 1000, [{ s: 'X' }, { s: 'Y' }]]);
  });

  it('5,000 concurrent calls all complete', async () => {
    const c = a.client(kv, peerOf(b));
    const out = await Promise.all(Array.from({ length: 5000 }, () => c.get({ key: 'k' })));
    expect(out.every((o) => o.value === 'v')).toBe(true);
  });

  it('a consumer that never reads holds its producer within the credit window', async () => {
    produced = 0;
    const it = a.client(ticker, peerOf(b)).ticks({ upTo: 1_000_000 })[Symbol.asyncIterator]();
    await it.next();
    // Give the producer every chance to run ahead: more calls round-trip on the same stream meanwhile.
    for (let i = 0; i < 20; i++) await a.client(kv, peerOf(b)).get({ key: 'k' });
    const seen = produced;
    await it.return!();
    expect(seen).toBeLessThanOrEqual(INITIAL_CREDIT + 2);
  });

  it('a handler that never answers fails DEADLINE_EXCEEDED', async () => {
    const r = await a.client(kv, peerOf(b)).never({}, { deadlineMs: 200 }).catch((e: RpcError) => e.code);
    expect(r).toBe('DEADLINE_EXCEEDED');
  });

  it('a 100 MiB lane transfer and 3,000 calls to the same peer all complete', async () => {
    const c = a.client(kv, peerOf(b));
    const transfer = a.send(peerOf(b), { kind: 'memory', data: randomBytes(100 * MiB) });
    const calls = Promise.all(Array.from({ length: 3000 }, () => c.get({ key: 'k' })));
    const [result, replies] = await Promise.all([transfer, calls]);
    expect([result.success, replies.length]).toEqual([true, 3000]);
  });

  it('after the peer restarts on the same address, a new call succeeds without the caller doing anything', async () => {
    const c = pool;
    const addr = b.address;
    const id = b.identity;
    await c.stop(b);
    b = await c.start({ transport, listen: addr, identity: id, receiveDir: `${root}/b-in`, peer: { deadAfterMs: 10_000 } });
    b.serve(kv, kvHandlers(new Map([['k', 'v2']])));
    const r = await a.client(kv, peerOf(b)).get({ key: 'k' }, { deadlineMs: 30_000 });
    expect(r).toEqual({ value: 'v2' });
  });
});
