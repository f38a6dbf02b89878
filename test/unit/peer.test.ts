/**
 * The peer machine (machines/peer.ts) on its own: its effects are fakes the test drives, time is
 * XState's SimulatedClock. Each test pins one behaviour of the chart; expectations come from
 * the chart's documented rules (keep-alive, dead-after, backoff 200·2^n, budget, the
 * simultaneous-open tie-break), not from the machine's own output.
 */
import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise, SimulatedClock, type EventObject } from 'xstate';
import { peerMachine, type DialInput, type PeerInput, type PeerLink } from '../../machines/peer.js';
import { OctopiiError, type ErrorInfo } from '../../src/errors.js';
import { stateString } from '../../src/node/inspect.js';

interface PendingDial {
  input: DialInput;
  resolve(link: PeerLink): void;
  reject(e: unknown): void;
  aborted: () => boolean;
}

function harness(input: Partial<PeerInput> = {}, options: { closeFails?: boolean } = {}) {
  const clock = new SimulatedClock();
  const dials: PendingDial[] = [];
  const pings: number[] = [];
  const closedLinks: PeerLink[] = [];
  const closes: PeerLink[] = [];
  const emitted: Array<{ type: string; error?: ErrorInfo }> = [];
  const logic = peerMachine.provide({
    actors: {
      dial: fromPromise<PeerLink, DialInput>(
        ({ input, signal }) =>
          new Promise((resolve, reject) => dials.push({ input, resolve, reject, aborted: () => signal.aborted })),
      ),
      watch: fromCallback<EventObject, { link: PeerLink }>(({ receive }) => {
        receive((e) => {
          if (e.type === 'PING') pings.push((e as unknown as { n: number }).n);
        });
      }),
      close: fromPromise<void, { link: PeerLink }>(async ({ input }) => {
        closes.push(input.link);
        if (options.closeFails) throw new OctopiiError('IO_ERROR', 'close failed');
      }),
    },
    actions: {
      closeLink: (_, params: { link: PeerLink | null }) => {
        if (params.link) closedLinks.push(params.link);
      },
    },
  });
  const actor = createActor(logic, {
    clock,
    input: { nodeId: 'B', address: '10.0.0.2:4000', localNodeId: 'M', keepAliveMs: 1000, deadAfterMs: 3000, ...input },
  });
  for (const t of ['peer.up', 'peer.lost', 'peer.unreachable'] as const) actor.on(t, (e) => emitted.push(e as { type: string; error?: ErrorInfo }));
  actor.start();
  const flush = () => new Promise((r) => setImmediate(r));
  return {
    actor,
    clock,
    dials,
    pings,
    closedLinks,
    closes,
    emitted,
    state: () => stateString(actor.getSnapshot().value),
    tick: async (ms: number) => {
      clock.increment(ms);
      await flush();
    },
    flush,
  };
}

const link = (name: string, dialled: boolean, control: unknown = { name }): PeerLink => ({
  connection: { name },
  control,
  dialled,
  remoteNodeId: 'B',
  kinds: ['lane'],
});
const err = (code: OctopiiError['code']) => new OctopiiError(code, code.toLowerCase());

describe('peer machine: dialling', () => {
  it('dials on DIAL with the address, node ID, protocol and timeout, then is connected and says so', async () => {
    const h = harness();
    expect(h.state()).toBe('idle');
    h.actor.send({ type: 'DIAL' });
    expect(h.state()).toBe('connecting');
    expect(h.dials.map((d) => d.input)).toEqual([{ address: '10.0.0.2:4000', nodeId: 'B', protocol: 'octopii', timeoutMs: 5000 }]);
    h.dials[0]!.resolve(link('L1', true));
    await h.flush();
    expect(h.state()).toBe('connected.alive');
    expect(h.actor.getSnapshot().context).toMatchObject({ connects: 1, attempts: 0, link: { connection: { name: 'L1' } } });
    expect(h.emitted.map((e) => e.type)).toEqual(['peer.up']);
  });

  it('takes a new address with DIAL, and refuses to dial without one', async () => {
    const h = harness({ address: null });
    h.actor.send({ type: 'DIAL' });
    expect(h.state()).toBe('idle');
    h.actor.send({ type: 'DIAL', address: '10.0.0.9:1' });
    expect(h.dials[0]!.input.address).toBe('10.0.0.9:1');
  });

  it('retries a retryable dial failure after 200, 400, 800 ms, then gives up: idle, unreachable', async () => {
    const h = harness();
    h.actor.send({ type: 'DIAL' });
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      h.dials[i]!.reject(err('CONNECT_TIMEOUT'));
      await h.flush();
      expect(h.state()).toBe('backoff');
      const before = h.dials.length;
      let waited = 0;
      while (h.dials.length === before) {
        await h.tick(100);
        waited += 100;
      }
      delays.push(waited);
    }
    expect(delays).toEqual([200, 400, 800]);
    h.dials[3]!.reject(err('CONNECT_TIMEOUT'));
    await h.flush();
    expect(h.state()).toBe('idle');
    expect(h.actor.getSnapshot().context.attempts).toBe(4);
    expect(h.emitted).toEqual([{ type: 'peer.unreachable', error: { code: 'CONNECT_TIMEOUT', message: 'connect_timeout' } }]);
  });

  it('gives up at once on an error a retry cannot fix', async () => {
    const h = harness();
    h.actor.send({ type: 'DIAL' });
    h.dials[0]!.reject(err('PEER_VERIFICATION_FAILED'));
    await h.flush();
    expect(h.state()).toBe('idle');
    expect(h.emitted.map((e) => [e.type, e.error?.code])).toEqual([['peer.unreachable', 'PEER_VERIFICATION_FAILED']]);
    await h.tick(10_000);
    expect(h.dials).toHaveLength(1);
  });

  it('a DIAL after giving up starts a fresh budget', async () => {
    const h = harness({ retry: { maxRetries: 0 } });
    h.actor.send({ type: 'DIAL' });
    h.dials[0]!.reject(err('CONNECTION_REFUSED'));
    await h.flush();
    expect(h.state()).toBe('idle');
    h.actor.send({ type: 'DIAL' });
    expect(h.state()).toBe('connecting');
    expect(h.actor.getSnapshot().context.attempts).toBe(0);
  });
});

describe('peer machine: keep-alive and dead peers', () => {
  async function connected(input: Partial<PeerInput> = {}) {
    const h = harness(input);
    h.actor.send({ type: 'DIAL' });
    h.dials[0]!.resolve(link('L1', true));
    await h.flush();
    return h;
  }

  it('pings after keepAliveMs of quiet and goes back to alive on the pong', async () => {
    const h = await connected();
    await h.tick(999);
    expect([h.state(), h.pings]).toEqual(['connected.alive', []]);
    await h.tick(1);
    expect([h.state(), h.pings]).toEqual(['connected.probing', [1]]);
    h.actor.send({ type: 'PONG', n: 1 });
    expect(h.state()).toBe('connected.alive');
    await h.tick(1000);
    expect(h.pings).toEqual([1, 2]);
  });

  it('declares the peer dead deadAfterMs after an unanswered ping: closes the link, reports UNAVAILABLE, redials', async () => {
    const h = await connected();
    await h.tick(1000);
    await h.tick(2999);
    expect(h.state()).toBe('connected.probing');
    await h.tick(1);
    expect(h.state()).toBe('backoff');
    expect(h.closedLinks.map((l) => (l.connection as { name: string }).name)).toEqual(['L1']);
    expect(h.emitted.map((e) => [e.type, e.error?.code])).toEqual([['peer.up', undefined], ['peer.lost', 'UNAVAILABLE']]);
    expect(h.actor.getSnapshot().context).toMatchObject({ link: null, losses: 1, lastError: { code: 'UNAVAILABLE' } });
    await h.tick(200);
    expect([h.state(), h.dials.length]).toEqual(['connecting', 2]);
  });

  it('takes a lost link (connection closed) to backoff, and to idle when it must not redial', async () => {
    const h = await connected();
    h.actor.send({ type: 'LINK_LOST', connection: { name: 'other' } as unknown, error: { code: 'CONNECTION_CLOSED', message: 'x' } });
    expect(h.state()).toBe('connected.alive'); // not the current link: ignored
    const conn = h.actor.getSnapshot().context.link!.connection;
    h.actor.send({ type: 'LINK_LOST', connection: conn, error: { code: 'CONNECTION_CLOSED', message: 'gone' } });
    expect(h.state()).toBe('backoff');
    const h2 = await connected({ reconnect: false });
    h2.actor.send({ type: 'LINK_LOST', error: { code: 'CONNECTION_CLOSED', message: 'gone' } });
    expect(h2.state()).toBe('idle');
  });

  it('never pings a Shipping Lane v1 link (no control channel)', async () => {
    const h = harness({ protocol: 'lane-v1' });
    h.actor.send({ type: 'DIAL' });
    h.dials[0]!.resolve(link('V1', true, null));
    await h.flush();
    expect(h.state()).toBe('connected.passive');
    await h.tick(60_000);
    expect([h.state(), h.pings]).toEqual(['connected.passive', []]);
  });
});

describe('peer machine: inbound links and simultaneous open', () => {
  it('adopts an inbound link when idle or backing off', async () => {
    const h = harness();
    h.actor.send({ type: 'ADOPT', link: link('IN', false) });
    expect(h.state()).toBe('connected.alive');
    const h2 = harness();
    h2.actor.send({ type: 'DIAL' });
    h2.dials[0]!.reject(err('CONNECT_TIMEOUT'));
    await h2.flush();
    h2.actor.send({ type: 'ADOPT', link: link('IN', false) });
    expect(h2.state()).toBe('connected.alive');
  });

  it("while dialling, takes the peer's link at once when the peer's ID is smaller", async () => {
    const h = harness({ localNodeId: 'M', nodeId: 'B' });
    h.actor.send({ type: 'DIAL' });
    h.actor.send({ type: 'ADOPT', link: link('IN', false) });
    expect(h.state()).toBe('connected.alive');
    expect(h.dials[0]!.aborted()).toBe(true);
  });

  it('while dialling, keeps the peer\'s link as a spare when our ID is smaller, and closes it when our dial wins', async () => {
    const h = harness({ localNodeId: 'A', nodeId: 'B' });
    h.actor.send({ type: 'DIAL' });
    h.actor.send({ type: 'ADOPT', link: { ...link('IN', false), remoteNodeId: 'B' } });
    expect(h.state()).toBe('connecting');
    h.dials[0]!.resolve(link('OUT', true));
    await h.flush();
    expect(h.state()).toBe('connected.alive');
    expect((h.actor.getSnapshot().context.link!.connection as { name: string }).name).toBe('OUT');
    expect(h.closedLinks.map((l) => (l.connection as { name: string }).name)).toEqual(['IN']);
  });

  it('uses the spare when its own dial fails', async () => {
    const h = harness({ localNodeId: 'A', nodeId: 'B' });
    h.actor.send({ type: 'DIAL' });
    h.actor.send({ type: 'ADOPT', link: link('IN', false) });
    h.dials[0]!.reject(err('CONNECT_TIMEOUT'));
    await h.flush();
    expect(h.state()).toBe('connected.alive');
    expect((h.actor.getSnapshot().context.link!.connection as { name: string }).name).toBe('IN');
  });

  it('when connected, keeps the link dialled by the smaller ID and closes the other', async () => {
    const h = harness({ localNodeId: 'A', nodeId: 'B' });
    h.actor.send({ type: 'DIAL' });
    h.dials[0]!.resolve(link('OUT', true));
    await h.flush();
    h.actor.send({ type: 'ADOPT', link: link('IN', false) }); // dialled by B > A: loses
    expect((h.actor.getSnapshot().context.link!.connection as { name: string }).name).toBe('OUT');
    expect(h.closedLinks.map((l) => (l.connection as { name: string }).name)).toEqual(['IN']);
  });

  it('when connected, a new link from the same dialler replaces the old one (the peer came back)', async () => {
    const h = harness();
    h.actor.send({ type: 'ADOPT', link: link('IN1', false) });
    h.actor.send({ type: 'ADOPT', link: link('IN2', false) });
    expect((h.actor.getSnapshot().context.link!.connection as { name: string }).name).toBe('IN2');
    expect(h.closedLinks.map((l) => (l.connection as { name: string }).name)).toEqual(['IN1']);
    expect(h.actor.getSnapshot().context.connects).toBe(2);
  });
});

describe('peer machine: closing', () => {
  it('CLOSE closes the link and stops', async () => {
    const h = harness();
    h.actor.send({ type: 'ADOPT', link: link('IN', false) });
    h.actor.send({ type: 'CLOSE' });
    await h.flush();
    expect(h.actor.getSnapshot().status).toBe('done');
    expect(h.closes.map((l) => (l.connection as { name: string }).name)).toEqual(['IN']);
  });

  it('CLOSE stops even when closing the link fails', async () => {
    const h = harness({}, { closeFails: true });
    h.actor.send({ type: 'ADOPT', link: link('IN', false) });
    h.actor.send({ type: 'CLOSE' });
    await h.flush();
    expect([h.actor.getSnapshot().status, h.closes.length]).toEqual(['done', 1]);
  });

  it('CLOSE without a link stops at once', () => {
    const h = harness();
    h.actor.send({ type: 'CLOSE' });
    expect(h.actor.getSnapshot().status).toBe('done');
    expect(h.closes).toEqual([]);
  });
});
