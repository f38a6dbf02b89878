/**
 * In-memory, deterministic Transport for simulation tests (DESIGN.md §1;
 * the fault-injecting network is TigerBeetle's VOPR / etcd-raft's `network` idea).
 *
 * - `MemoryNetwork` is the wire: it knows every `MemoryTransport` on it, who listens where, which
 *   pairs are partitioned and which nodes are down. Transports on different networks never meet.
 * - Deterministic: every timer — the caller's own timeouts (`DialOptions.timeoutMs` across a
 *   partition, `openStream`'s `timeoutMs` at the stream limit) and delayed deliveries — runs on
 *   the network's {@link Clock} (src/runtime/clock.ts; default the system clock, XState's
 *   `SimulatedClock` in simulations: then no global timer is ever set). Everything else settles
 *   through promise jobs, in the order the calls were made; without a delay a byte written is
 *   enqueued at the peer's readable at once, in write order.
 * - Same peer verification semantics as the QUIC transports: `expectedNodeId` must match the
 *   listener's node ID, else PEER_VERIFICATION_FAILED; without it the client's `allowPeers` (if
 *   non-empty) must list the server; the server's `allowPeers` (if non-empty) must list the
 *   client, else the dial rejects PEER_VERIFICATION_FAILED and the server never sees it. Every
 *   memory transport has an Ed25519 identity, so `insecure` changes nothing here.
 * - Dialling an address where nobody listens (or a crashed node) rejects CONNECTION_REFUSED at
 *   once; dialling across a partition waits the dial's `timeoutMs` (default 5,000 ms) on the
 *   clock, then rejects CONNECT_TIMEOUT (datagrams vanish, as on a real network).
 * - Listen, dial, accept only: every dial makes a new connection (its `protocol` is the dial's,
 *   seen on both ends) and every inbound one goes to `onConnection`; nothing is pooled.
 * - Streams are Web Streams pairs with bounded buffers: each direction holds at most
 *   `highWaterMark` bytes in the writer's queue plus `highWaterMark` bytes in the reader's
 *   queue (ByteLengthQueuingStrategy); a writer past that waits (`writer.ready` / the write
 *   promise) until the reader pulls. Chunks are copied on write, like a real network.
 * - Faults: `partition(a, b)` closes every connection between the two sides at once (both see
 *   CONNECTION_CLOSED — an idle timeout that elapses at once) and blocks new ones until
 *   `heal`; `crash(a)` closes every connection of a node (peers see CONNECTION_CLOSED) and keeps
 *   it down — refusing and unable to dial — until `restart(a)`. The transport object survives a
 *   crash, as a restarted process with the same identity and address would.
 *   `setDelay(a, b, ms)` (or `delayMs` for every link) delivers each chunk `ms` after its write
 *   on the clock, in order; `dropConnection(a, b)` loses every connection between two nodes at
 *   once (CONNECTION_CLOSED on both ends, chunks in transit lost) without blocking new dials.
 *   A simulation draws these from its seeded PRNG (test/sim/transport-memory.test.ts).
 *
 * Addresses are `host:port` strings like the QUIC transports' (`127.0.0.1:4000`, `[::1]:4000`);
 * port 0 picks a free port. A transport that dials before it listens gets an ephemeral address
 * on the dialled host's family.
 */
import { systemClock, type Clock } from '../../runtime/clock.js';
import { formatAddress, parseAddress } from '../address.js';
import type { ConnectionProtocol, TransportOptions } from '../types.js';
import { DEFAULT_HWM, err, canonical, checkDelay, assert } from './shared.js';
import { Link } from './link.js';
import type { MemoryConnection } from './connection.js';
import { MemoryTransport } from './transport.js';

export interface MemoryNetworkOptions {
  /**
   * Every timer of the network — dial and stream-limit timeouts, delayed deliveries — runs on
   * this clock (default: {@link systemClock}; give XState's `SimulatedClock` in simulations, and
   * the network sets no timer of its own anywhere else).
   */
  clock?: Clock;
  /** Delivery delay in ms of every link without its own (default 0: at once). See {@link MemoryNetwork.setDelay}. */
  delayMs?: number;
  /** Bytes buffered per stream direction, in each of the writer's and reader's queues (default 64 KiB). */
  highWaterMark?: number;
  /** Concurrent streams one side may have open to the other on a connection (default 1,000). */
  maxStreams?: number;
  /** First port handed out for port 0 (default 40,000). */
  firstPort?: number;
}

/** One chunk that crossed the network (see {@link MemoryNetwork.onDeliver}). */
export interface Delivery {
  /** Local address of the sender and the receiver at delivery time. */
  from: string;
  to: string;
  fromNodeId: string;
  toNodeId: string;
  connectionId: number;
  streamId: number;
  bytes: number;
}

/** An open connection as the network sees it (for assertions). */
export interface LinkInfo {
  id: number;
  /** Dialling side. */
  client: { nodeId: string; address: string };
  /** Listening side. */
  server: { nodeId: string; address: string };
}

/**
 * The simulated wire. Create one per test; make transports with {@link MemoryNetwork.transport}.
 */
export class MemoryNetwork {
  readonly clock: Clock;
  readonly highWaterMark: number;
  readonly maxStreams: number;
  readonly #transports = new Set<MemoryTransport>();
  readonly #listeners = new Map<string, MemoryTransport>();
  readonly #links = new Set<Link>();
  readonly #partitions: Array<[string, string]> = [];
  readonly #delays: Array<[string, string, number]> = [];
  readonly #defaultDelayMs: number;
  readonly #deliveryListeners = new Set<(d: Delivery) => void>();
  #nextPort: number;
  #nextLinkId = 1;

  constructor(options: MemoryNetworkOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.#defaultDelayMs = checkDelay(options.delayMs ?? 0);
    this.highWaterMark = options.highWaterMark ?? DEFAULT_HWM;
    this.maxStreams = options.maxStreams ?? 1_000;
    this.#nextPort = options.firstPort ?? 40_000;
  }

  /** Creates a transport on this network (not yet listening). */
  transport(options: TransportOptions): MemoryTransport {
    return new MemoryTransport(this, options);
  }

  /**
   * Cuts `a` off from `b` (each an address or a node ID): closes the connections between them
   * (CONNECTION_CLOSED on both sides) and makes dials between them time out until healed.
   */
  partition(a: string, b: string): void {
    if (!this.isPartitioned(a, b)) this.#partitions.push([a, b]);
    for (const link of [...this.#links]) {
      if (this.#linkCut(link)) link.terminate(err('CONNECTION_CLOSED', `network partition between ${a} and ${b}`));
    }
  }

  /**
   * Sets the one-way delivery delay between `a` and `b` (addresses or node IDs, both
   * directions) to `ms` on the network clock: each chunk, and a stream's end, reaches the reader
   * `ms` after its write, in write order (a later, shorter delay never overtakes). Applies to
   * chunks written from now on; `ms = 0` delivers at once again. Throws INVALID_ARGUMENT for a
   * negative or non-finite `ms`.
   */
  setDelay(a: string, b: string, ms: number): void {
    checkDelay(ms);
    for (let i = this.#delays.length - 1; i >= 0; i--) {
      const [x, y] = this.#delays[i]!;
      if ((x === a && y === b) || (x === b && y === a)) this.#delays.splice(i, 1);
    }
    this.#delays.push([a, b, ms]);
  }

  /**
   * Loses every open connection between `a` and `b` (addresses or node IDs) at once, as a
   * network that dropped them: both ends see CONNECTION_CLOSED, chunks in transit are lost.
   * Unlike {@link partition}, new dials succeed at once. Returns how many connections it closed.
   */
  dropConnection(a: string, b: string): number {
    const ta = this.#resolve(a);
    const tb = this.#resolve(b);
    const between = (l: Link) =>
      (ta.includes(l.client.transport) && tb.includes(l.server.transport)) ||
      (tb.includes(l.client.transport) && ta.includes(l.server.transport));
    const lost = [...this.#links].filter(between);
    for (const link of lost) link.terminate(err('CONNECTION_CLOSED', `connection lost between ${a} and ${b}`));
    return lost.length;
  }

  /** Heals the partition between `a` and `b`, or every partition when called without arguments. */
  heal(a?: string, b?: string): void {
    if (a === undefined || b === undefined) {
      this.#partitions.length = 0;
      return;
    }
    for (let i = this.#partitions.length - 1; i >= 0; i--) {
      const [x, y] = this.#partitions[i]!;
      if ((x === a && y === b) || (x === b && y === a)) this.#partitions.splice(i, 1);
    }
  }

  /** Whether `a` and `b` (addresses or node IDs) are partitioned from each other. */
  isPartitioned(a: string, b: string): boolean {
    const ta = this.#resolve(a);
    const tb = this.#resolve(b);
    if (ta.length === 0 || tb.length === 0) {
      return this.#partitions.some(([x, y]) => (x === a && y === b) || (x === b && y === a));
    }
    return ta.some((x) => tb.some((y) => this.partitioned(x, y)));
  }

  /** Crashes the node at `address` (or node ID): every connection of it closes; it stays down until {@link restart}. */
  crash(address: string): void {
    for (const t of this.#resolve(address)) {
      t._down = true;
      for (const link of [...this.#links]) {
        if (link.client.transport === t || link.server.transport === t) {
          link.terminate(err('CONNECTION_CLOSED', `node ${t.localAddress ?? t.nodeId} crashed`));
        }
      }
    }
  }

  /** Brings a crashed node back (same identity, same address, no connections). */
  restart(address: string): void {
    for (const t of this.#resolve(address)) t._down = false;
  }

  isDown(address: string): boolean {
    return this.#resolve(address).some((t) => t._down);
  }

  /** Calls `listener` for every chunk delivered. Returns an unsubscribe function. */
  onDeliver(listener: (d: Delivery) => void): () => void {
    this.#deliveryListeners.add(listener);
    return () => this.#deliveryListeners.delete(listener);
  }

  /** Open connections. */
  links(): LinkInfo[] {
    return [...this.#links].map((l) => ({
      id: l.id,
      client: { nodeId: l.client.transport.nodeId, address: l.client.localAddress },
      server: { nodeId: l.server.transport.nodeId, address: l.server.localAddress },
    }));
  }

  // --- internal (used by MemoryTransport / MemoryConnection) -------------------------------

  /** @internal */
  partitioned(a: MemoryTransport, b: MemoryTransport): boolean {
    const m = (key: string, t: MemoryTransport) => key === t.nodeId || key === t.localAddress;
    return this.#partitions.some(([x, y]) => (m(x, a) && m(y, b)) || (m(x, b) && m(y, a)));
  }

  /** @internal Current one-way delay of `link` in ms (the last matching {@link setDelay}, else the default). */
  delayOf(link: Link): number {
    const a = link.client.transport;
    const b = link.server.transport;
    const m = (key: string, t: MemoryTransport) => key === t.nodeId || key === t.localAddress;
    for (let i = this.#delays.length - 1; i >= 0; i--) {
      const [x, y, ms] = this.#delays[i]!;
      if ((m(x, a) && m(y, b)) || (m(x, b) && m(y, a))) return ms;
    }
    return this.#defaultDelayMs;
  }

  #linkCut(link: Link): boolean {
    return this.partitioned(link.client.transport, link.server.transport);
  }

  #resolve(key: string): MemoryTransport[] {
    let addr: string | undefined;
    try {
      addr = canonical(key);
    } catch {
      addr = undefined;
    }
    return [...this.#transports].filter((t) => t.nodeId === key || (addr !== undefined && t.localAddress === addr));
  }

  /** @internal */
  register(t: MemoryTransport): void {
    this.#transports.add(t);
  }

  /** @internal */
  unregister(t: MemoryTransport): void {
    this.#transports.delete(t);
    for (const [a, owner] of this.#listeners) if (owner === t) this.#listeners.delete(a);
  }

  /** @internal Binds `address` (port 0 = next free port). Throws INVALID_ARGUMENT when taken. */
  bind(t: MemoryTransport, address: string, listen: boolean): string {
    const { host, port } = parseAddress(address);
    let bound: string;
    if (port === 0) {
      do bound = formatAddress(host, this.#nextPort++);
      while (this.#inUse(bound));
    } else {
      bound = formatAddress(host, port);
      if (this.#inUse(bound)) throw err('INVALID_ARGUMENT', `address ${bound} is in use`);
    }
    if (listen) this.#listeners.set(bound, t);
    return bound;
  }

  #inUse(address: string): boolean {
    return [...this.#transports].some((t) => t.localAddress === address);
  }

  /** @internal */
  listenerAt(address: string): MemoryTransport | undefined {
    return this.#listeners.get(address);
  }

  /** @internal */
  connect(client: MemoryTransport, server: MemoryTransport, protocol: ConnectionProtocol): Link {
    const link = new Link(this, this.#nextLinkId++, client, server, protocol);
    this.#links.add(link);
    return link;
  }

  /** @internal */
  linkClosed(link: Link): void {
    this.#links.delete(link);
  }

  /** @internal Called for every chunk before it is enqueued at the receiver. */
  deliver(link: Link, from: MemoryConnection, to: MemoryConnection, streamId: number, bytes: number): void {
    assert(!link.closed, 'delivery on a closed connection');
    assert(!this.partitioned(from.transport, to.transport), `delivery across a partition (${from.localAddress} → ${to.localAddress})`);
    assert(!from.transport._down && !to.transport._down, 'delivery to or from a crashed node');
    const d: Delivery = {
      from: from.localAddress,
      to: to.localAddress,
      fromNodeId: from.transport.nodeId,
      toNodeId: to.transport.nodeId,
      connectionId: link.id,
      streamId,
      bytes,
    };
    for (const l of this.#deliveryListeners) l(d);
  }
}
