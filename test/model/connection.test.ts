/**
 * Model-based test of the connection machine (issue 2 item 8): @xstate/graph walks the machine
 * itself — shortest paths to every state and every simple path — over the events that can reach
 * it (CONNECT, CLOSE, CONNECTION_LOST, the dial's success / retryable failure / identity
 * failure, the close's completion, the retry backoff elapsing). Each path is then driven against
 * the real thing: the machine provided by src/connection.ts with a MemoryTransport on a
 * MemoryNetwork and XState's SimulatedClock, where every model event is *caused* in the world:
 *
 *   dial succeeds          → the right peer listens at the address, then the dial may proceed
 *   dial fails (retryable) → nobody listens there (CONNECTION_REFUSED)
 *   dial fails (identity)  → an impostor with another key listens there (PEER_VERIFICATION_FAILED)
 *   CONNECTION_LOST        → network.crash(peer) drops the connection
 *   backoff elapses        → the simulated clock advances by exactly the expected delay
 *
 * After every step the real actor must be in the model's state, with the same retry count and
 * error code, and the network must hold exactly the connections that state implies.
 *
 * `TestModel` is used directly: `createTestModel` refuses machines with invocations and
 * delays, which our model handles by listing their done/error/after events explicitly.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TestModel, type TestPath } from '@xstate/graph';
import { createActor, SimulatedClock, type Actor, type SnapshotFrom } from 'xstate';
import { connectionMachine, type ConnectionInput } from '../../machines/connection.js';
import { createConnectionLogic, type ConnectionLogic } from '../../src/connection.js';
import { MemoryNetwork, type MemoryTransport } from '../../src/transport/memory.js';
import { generateIdentity, type Identity } from '../../src/identity.js';
import { abortPromise } from '../../src/errors.js';
import type { DialOptions, PeerConnection, Transport } from '../../src/transport/types.js';

type Snap = SnapshotFrom<typeof connectionMachine>;
type ModelEvent = { type: string; [k: string]: unknown };

const RETRY = { maxRetries: 3, initialMs: 100, maxMs: 150 } as const;
/** Backoff before retry 1, 2, 3: 100 ms doubling, capped at 150 ms. */
const EXPECTED_DELAYS = [100, 150, 150];
const PEER_ADDRESS = '127.0.0.1:7000';

const modelEvents: ModelEvent[] = [
  { type: 'CONNECT' },
  { type: 'CLOSE' },
  { type: 'CONNECTION_LOST', error: { code: 'CONNECTION_CLOSED', message: 'lost' } },
  { type: 'xstate.done.actor.dial', output: 'handle', actorId: 'dial' },
  { type: 'xstate.error.actor.dial', error: { code: 'CONNECTION_REFUSED', message: 'refused' }, actorId: 'dial' },
  { type: 'xstate.error.actor.dial', error: { code: 'PEER_VERIFICATION_FAILED', message: 'impostor' }, actorId: 'dial' },
  { type: 'xstate.done.actor.close', output: undefined, actorId: 'close' },
  { type: 'xstate.after.retryDelay.connection.retrying' },
];

/** What the test compares between model and implementation (the handle and messages differ). */
const observable = (s: Snap) => ({
  value: s.value,
  attempts: s.context.attempts,
  error: s.context.lastError?.code ?? null,
  status: s.status,
});

const model = new TestModel(connectionMachine as never, {
  // Only events the state handles: no self-loops of ignored events in the paths.
  events: (state: Snap) => modelEvents.filter((e) => state.can(e as never)),
  input: { address: PEER_ADDRESS, retry: RETRY },
  serializeState: (s: unknown) => JSON.stringify(observable(s as Snap)),
} as never) as unknown as TestModel<Snap, ModelEvent, ConnectionInput>;

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A one-shot latch the test opens; waits are abortable. */
class Gate {
  #waiters: Array<() => void> = [];
  #permits = 0;
  wait(signal?: AbortSignal): Promise<void> {
    if (this.#permits > 0) {
      this.#permits--;
      return Promise.resolve();
    }
    const p = new Promise<void>((resolve) => this.#waiters.push(resolve));
    return signal ? Promise.race([p, abortPromise(signal)!]) : p;
  }
  get waiting(): number {
    return this.#waiters.length;
  }
  open(): void {
    const w = this.#waiters.shift();
    if (w) w();
    else this.#permits++;
  }
}

/**
 * The client's transport, gated: a dial waits until the test has arranged the world for the
 * outcome the path asks for; a close waits for the model's `done.actor.close` step.
 */
function gatedTransport(inner: MemoryTransport, dialGate: Gate, closeGate: Gate): Transport {
  const wrap = (c: PeerConnection): PeerConnection => ({
    get remoteNodeId() {
      return c.remoteNodeId;
    },
    get remoteAddress() {
      return c.remoteAddress;
    },
    get protocol() {
      return c.protocol;
    },
    get direction() {
      return c.direction;
    },
    get closed() {
      return c.closed;
    },
    openStream: (o) => c.openStream(o),
    onStream: (h) => c.onStream(h),
    onClose: (h) => c.onClose(h),
    close: async (reason) => {
      await closeGate.wait();
      await c.close(reason);
    },
  });
  return {
    kind: inner.kind,
    nodeId: inner.nodeId,
    get address() {
      return inner.address;
    },
    listen: (o) => inner.listen(o),
    dial: async (address: string, options?: DialOptions) => {
      await dialGate.wait(options?.signal);
      return wrap(await inner.dial(address, options));
    },
    onConnection: (h) => inner.onConnection(h),
    connections: () => inner.connections(),
    close: () => inner.close(),
  };
}

/** One path's world: a network, our node, and whoever listens at PEER_ADDRESS. */
class World {
  readonly clock = new SimulatedClock();
  readonly network = new MemoryNetwork({ clock: this.clock });
  readonly peerIdentity: Identity = generateIdentity();
  readonly dialGate = new Gate();
  readonly closeGate = new Gate();
  readonly client: MemoryTransport;
  readonly logic: ConnectionLogic;
  readonly actor: Actor<ConnectionLogic>;
  peer: MemoryTransport | undefined;
  peerKind: 'right' | 'impostor' | 'none' = 'none';
  /** Inbound connections the peer(s) accepted. */
  accepted = 0;

  constructor() {
    this.client = this.network.transport({ identity: generateIdentity() });
    this.logic = createConnectionLogic(gatedTransport(this.client, this.dialGate, this.closeGate));
    this.actor = createActor(this.logic, {
      clock: this.clock,
      input: { address: PEER_ADDRESS, expectedNodeId: this.peerIdentity.nodeId, dialTimeoutMs: 1_000, retry: RETRY },
    });
  }

  /** Puts the right peer, an impostor, or nobody at PEER_ADDRESS. */
  async setPeer(kind: 'right' | 'impostor' | 'none'): Promise<void> {
    if (kind === this.peerKind && !(this.peer && this.network.isDown(PEER_ADDRESS))) return;
    await this.peer?.close();
    this.peer = undefined;
    this.peerKind = kind;
    if (kind === 'none') return;
    const identity = kind === 'right' ? this.peerIdentity : generateIdentity();
    this.peer = this.network.transport({ identity });
    this.peer.onConnection(() => this.accepted++);
    await this.peer.listen({ address: PEER_ADDRESS });
  }

  /** Lets the pending dial run against the world as it is now. */
  async releaseDial(): Promise<void> {
    expect(this.dialGate.waiting, 'a dial is pending').toBe(1);
    this.dialGate.open();
    await flush();
  }

  async close(): Promise<void> {
    this.actor.stop();
    await this.client.close();
    await this.peer?.close();
  }
}

const worlds: World[] = [];
afterEach(async () => {
  await Promise.all(worlds.splice(0).map((w) => w.close()));
});

async function run(path: TestPath<Snap, ModelEvent>): Promise<void> {
  const w = new World();
  worlds.push(w);
  w.actor.start();
  await path.test({
    events: {
      CONNECT: async () => {
        w.actor.send({ type: 'CONNECT' });
        await flush();
      },
      CLOSE: async () => {
        w.actor.send({ type: 'CLOSE' });
        await flush();
      },
      CONNECTION_LOST: async () => {
        w.network.crash(PEER_ADDRESS);
        await flush();
      },
      'xstate.done.actor.dial': async () => {
        await w.setPeer('right');
        await w.releaseDial();
      },
      'xstate.error.actor.dial': async (step: { event: ModelEvent }) => {
        const code = (step.event.error as { code: string }).code;
        await w.setPeer(code === 'PEER_VERIFICATION_FAILED' ? 'impostor' : 'none');
        await w.releaseDial();
      },
      'xstate.done.actor.close': async () => {
        w.closeGate.open();
        await flush();
      },
      'xstate.after.retryDelay.connection.retrying': async () => {
        const attempts = w.actor.getSnapshot().context.attempts;
        const delay = EXPECTED_DELAYS[attempts - 1]!;
        w.clock.increment(delay - 1);
        await flush();
        expect(w.actor.getSnapshot().value, `still waiting 1 ms before the ${delay} ms backoff ends`).toBe('retrying');
        w.clock.increment(1);
        await flush();
      },
    } as never,
    states: {
      '*': (state: Snap) => {
        const real = w.actor.getSnapshot();
        expect(observable(real)).toEqual(observable(state));
        // Side effects visible in the network: a connection exists exactly while open/closing.
        const connected = real.matches('open') || real.matches('closing');
        expect(w.client.connections()).toHaveLength(connected ? 1 : 0);
        expect(w.network.links()).toHaveLength(connected ? 1 : 0);
        if (connected) {
          const conn = real.context.connection as PeerConnection;
          expect(conn.closed).toBe(false);
          expect(conn.remoteNodeId).toBe(w.peerIdentity.nodeId);
        }
        // The impostor never gets a connection.
        if (w.peerKind === 'impostor') expect(w.peer!.connections()).toHaveLength(0);
        if (real.status === 'done') {
          expect(real.output).toMatchObject({
            status: state.value,
            address: PEER_ADDRESS,
            attempts: state.context.attempts,
          });
        }
      },
    },
  });
}

/** `CONNECT → dial ok → CONNECTION_LOST → … ⇒ closed` */
function title(path: TestPath<Snap, ModelEvent>): string {
  const label = (e: ModelEvent): string => {
    if (e.type === 'xstate.done.actor.dial') return 'dial ok';
    if (e.type === 'xstate.error.actor.dial') return `dial ${(e.error as { code: string }).code}`;
    if (e.type === 'xstate.done.actor.close') return 'close done';
    if (e.type.startsWith('xstate.after.')) return 'backoff elapsed';
    return e.type;
  };
  const events = path.steps.filter((s) => s.event.type !== 'xstate.init').map((s) => label(s.event));
  return `${events.join(' → ') || '(start)'} ⇒ ${JSON.stringify(path.state.value)} (attempts ${path.state.context.attempts})`;
}

const shortest = model.getShortestPaths();
const simple = model.getSimplePaths();

describe('connection machine, model-based, against MemoryTransport', () => {
  it('the model reaches every state of the machine', () => {
    const reached = new Set([...shortest, ...simple].flatMap((p) => p.steps.map((s) => JSON.stringify(s.state.value))));
    expect([...reached].sort()).toEqual(
      ['closed', 'closing', 'connecting', 'failed', 'idle', 'open', 'retrying'].map((s) => JSON.stringify(s)).sort(),
    );
  });

  describe('shortest paths', () => {
    for (const path of shortest) it(title(path), () => run(path));
  });

  describe('simple paths', () => {
    for (const path of simple) it(title(path), () => run(path));
  });
});
