/**
 * In-memory, deterministic Transport for simulation tests (issue 2 item 3, DESIGN.md §1;
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
import { OctopiiError, abortPromise, type OctopiiErrorCode } from '../errors.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { formatAddress, parseAddress } from './address.js';
import type {
  ConnectionProtocol,
  DialOptions,
  DuplexStream,
  ListenOptions,
  PeerConnection,
  Transport,
  TransportOptions,
} from './types.js';

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

const DEFAULT_HWM = 64 * 1024;
const DEFAULT_DIAL_TIMEOUT_MS = 5_000;
const DEFAULT_STREAM_TIMEOUT_MS = 10_000;

const err = (code: OctopiiErrorCode, message: string) => new OctopiiError(code, message);

function canonical(address: string): string {
  const { host, port } = parseAddress(address);
  return formatAddress(host, port);
}

function checkDelay(ms: number): number {
  if (!(Number.isFinite(ms) && ms >= 0)) throw err('INVALID_ARGUMENT', `a delivery delay must be a finite number of ms ≥ 0 (got ${ms})`);
  return ms;
}

/** Invariant check (TigerBeetle style): a broken invariant is a bug in this file, not an I/O error. */
function assert(ok: boolean, what: string): asserts ok {
  if (!ok) throw new Error(`memory transport invariant broken: ${what}`);
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

/** A connection between two transports: two {@link MemoryConnection} ends sharing the streams. */
class Link {
  readonly client: MemoryConnection;
  readonly server: MemoryConnection;
  closed = false;
  readonly streams = new Set<StreamPair>();

  constructor(
    readonly network: MemoryNetwork,
    readonly id: number,
    clientT: MemoryTransport,
    serverT: MemoryTransport,
    readonly protocol: ConnectionProtocol,
  ) {
    this.client = new MemoryConnection(this, clientT, 'outbound');
    this.server = new MemoryConnection(this, serverT, 'inbound');
  }

  other(end: MemoryConnection): MemoryConnection {
    return end === this.client ? this.server : this.client;
  }

  /** Closes the link; `byEnd` closed it cleanly (its handlers get no error), the other end gets `error`. */
  terminate(error: OctopiiError, byEnd?: MemoryConnection): void {
    if (this.closed) return;
    this.closed = true;
    this.network.linkClosed(this);
    for (const s of this.streams) s.fail(error);
    this.streams.clear();
    this.client._closed(byEnd === this.client ? undefined : error);
    this.server._closed(byEnd === this.server ? undefined : error);
  }
}

/** How a pipe moves chunks: the link's current delay and the network clock. */
interface Transit {
  /** Delivery delay in ms for a chunk written now (0 = at once, in the write call). */
  delayMs(): number;
  readonly clock: Clock;
}

/**
 * One direction of a stream: the writer's WritableStream and the reader's ReadableStream.
 * With a delay, chunks (and the FIN) wait in `#transit` and reach the reader in write order,
 * each `delayMs` after its write on the clock; bytes in transit count against the reader's
 * buffer, so a writer still waits once `highWaterMark` bytes are queued or on their way.
 */
class Pipe {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  #rc!: ReadableStreamDefaultController<Uint8Array>;
  #wc!: WritableStreamDefaultController;
  #waiter: { resolve: () => void; reject: (e: unknown) => void } | null = null;
  #failure: OctopiiError | null = null;
  /** In order: chunks (and `'fin'`) written but not yet delivered, with their due time. */
  readonly #transit: Array<{ due: number; chunk: Uint8Array | 'fin' }> = [];
  #transitBytes = 0;
  #timer: unknown;
  #timerSet = false;
  ended = false;

  constructor(
    highWaterMark: number,
    private readonly send: (chunk: Uint8Array) => void,
    private readonly onEnd: () => void,
    private readonly transit: Transit,
  ) {
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.#rc = c;
        },
        pull: () => {
          const w = this.#waiter;
          this.#waiter = null;
          w?.resolve();
        },
        // The reader gave up (QUIC STOP_SENDING): the writer's next write fails.
        cancel: () => {
          this.fail(err('STREAM_ABORTED', 'the reader cancelled the stream'));
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark }),
    );
    this.writable = new WritableStream<Uint8Array>(
      {
        start: (c) => {
          this.#wc = c;
        },
        write: (chunk) => this.#write(chunk),
        close: () => {
          if (this.#failure) throw this.#failure;
          if (this.#transit.length > 0) this.#schedule('fin');
          else this.#finish();
        },
        // The writer reset the stream (QUIC RESET_STREAM).
        abort: () => {
          this.fail(err('STREAM_ABORTED', 'the writer aborted the stream'));
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark }),
    );
  }

  async #write(chunk: Uint8Array): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (!(chunk instanceof Uint8Array)) throw err('INVALID_ARGUMENT', 'streams carry Uint8Array chunks only');
    if (chunk.byteLength === 0) return;
    const copy = chunk.slice();
    if (this.transit.delayMs() > 0 || this.#transit.length > 0) {
      this.#schedule(copy);
    } else {
      this.send(copy); // checks the link and records the delivery; throws when the link is gone
      this.#rc.enqueue(copy);
    }
    while ((this.#rc.desiredSize ?? 0) - this.#transitBytes <= 0) {
      if (this.#failure) throw this.#failure;
      await new Promise<void>((resolve, reject) => {
        this.#waiter = { resolve, reject };
      });
    }
  }

  /** Queues `chunk` for delivery `delayMs` from now, after everything queued before it. */
  #schedule(chunk: Uint8Array | 'fin'): void {
    const now = this.transit.clock.now();
    const last = this.#transit.at(-1)?.due ?? now;
    this.#transit.push({ due: Math.max(now + this.transit.delayMs(), last), chunk });
    if (chunk !== 'fin') this.#transitBytes += chunk.byteLength;
    this.#arm();
  }

  /** One timer at a time, for the head of the transit queue. */
  #arm(): void {
    const head = this.#transit[0];
    if (!head || this.#timerSet) return;
    this.#timerSet = true;
    this.#timer = this.transit.clock.setTimeout(() => {
      this.#timerSet = false;
      this.#arrive();
    }, Math.max(0, head.due - this.transit.clock.now()));
  }

  /** Delivers every chunk that is due, in order. */
  #arrive(): void {
    const now = this.transit.clock.now();
    while (this.#transit.length > 0 && this.#transit[0]!.due <= now && !this.#failure) {
      const { chunk } = this.#transit.shift()!;
      if (chunk === 'fin') {
        this.#finish();
        continue;
      }
      this.#transitBytes -= chunk.byteLength;
      this.send(chunk); // asserts the link is still up: a closed link has failed this pipe already
      this.#rc.enqueue(chunk);
    }
    this.#wakeWriter();
    this.#arm();
  }

  #wakeWriter(): void {
    if ((this.#rc.desiredSize ?? 0) - this.#transitBytes > 0) {
      const w = this.#waiter;
      this.#waiter = null;
      w?.resolve();
    }
  }

  #finish(): void {
    this.#rc.close();
    this.#end();
  }

  #end(): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd();
  }

  /** Fails both ends with `error` (idempotent; a cleanly finished direction keeps its data). */
  fail(error: OctopiiError): void {
    if (this.#failure) return;
    this.#failure = error;
    // Chunks still in transit are lost with the connection.
    if (this.#timerSet) this.transit.clock.clearTimeout(this.#timer);
    this.#timerSet = false;
    this.#transit.length = 0;
    this.#transitBytes = 0;
    try {
      this.#rc.error(error);
    } catch {
      /* already closed or errored */
    }
    try {
      this.#wc.error(error);
    } catch {
      /* already closed or errored */
    }
    const w = this.#waiter;
    this.#waiter = null;
    w?.reject(error);
    this.#end();
  }
}

/** Both directions of one stream; each connection end gets a {@link DuplexStream} view. */
class StreamPair {
  /** opener → acceptor, acceptor → opener */
  readonly forward: Pipe;
  readonly backward: Pipe;
  readonly openerEnd: DuplexStream;
  readonly acceptorEnd: DuplexStream;

  constructor(
    readonly link: Link,
    readonly id: number,
    opener: MemoryConnection,
    onDone: (pair: StreamPair) => void,
  ) {
    const acceptor = link.other(opener);
    const hwm = link.network.highWaterMark;
    const sender = (from: MemoryConnection, to: MemoryConnection) => (chunk: Uint8Array) => {
      if (link.closed) throw err('CONNECTION_CLOSED', 'connection closed');
      link.network.deliver(link, from, to, id, chunk.byteLength);
    };
    const ended = () => {
      if (this.forward?.ended && this.backward?.ended) onDone(this);
    };
    const transit: Transit = { delayMs: () => link.network.delayOf(link), clock: link.network.clock };
    this.forward = new Pipe(hwm, sender(opener, acceptor), ended, transit);
    this.backward = new Pipe(hwm, sender(acceptor, opener), ended, transit);
    const abort = () => this.fail(err('STREAM_ABORTED', 'stream aborted'));
    this.openerEnd = { id, readable: this.backward.readable, writable: this.forward.writable, abort };
    this.acceptorEnd = { id, readable: this.forward.readable, writable: this.backward.writable, abort };
  }

  fail(error: OctopiiError): void {
    this.forward.fail(error);
    this.backward.fail(error);
  }
}

/** One end of a memory connection. */
export class MemoryConnection implements PeerConnection {
  readonly direction: 'inbound' | 'outbound';
  readonly localAddress: string;
  #closed = false;
  #closeError: Error | undefined;
  #streamHandler: ((s: DuplexStream) => void) | undefined;
  readonly #pendingStreams: DuplexStream[] = [];
  readonly #closeHandlers: Array<(error?: Error) => void> = [];
  /** Streams this end opened that are not finished (the peer's stream limit counts them). */
  #openedActive = 0;
  readonly #slotWaiters: Array<() => void> = [];
  #nextStreamId: number;

  constructor(
    private readonly link: Link,
    readonly transport: MemoryTransport,
    direction: 'inbound' | 'outbound',
  ) {
    this.direction = direction;
    this.localAddress = transport.localAddress!;
    // QUIC numbering: client-initiated bidirectional streams 0, 4, 8 …; server-initiated 1, 5, 9 …
    this.#nextStreamId = direction === 'outbound' ? 0 : 1;
  }

  get remoteNodeId(): string {
    return this.link.other(this).transport.nodeId;
  }

  /** The dial's protocol, on both ends. */
  get protocol(): ConnectionProtocol {
    return this.link.protocol;
  }

  get remoteAddress(): string {
    return this.link.other(this).localAddress;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Network-wide id of the connection (same on both ends). */
  get id(): number {
    return this.link.id;
  }

  /**
   * Opens a bidirectional stream; the peer's `onStream` handler sees it at once. Waits up to
   * `timeoutMs` (default 10,000, on the network clock) while `maxStreams` of ours are open.
   * Throws CONNECTION_CLOSED, STREAM_LIMIT, ABORTED.
   */
  async openStream(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<DuplexStream> {
    if (options.signal?.aborted) throw err('ABORTED', 'openStream aborted');
    if (this.#closed) throw err('CONNECTION_CLOSED', 'connection closed');
    const limit = this.link.network.maxStreams;
    if (this.#openedActive >= limit) await this.#waitForSlot(options);
    if (this.#closed) throw err('CONNECTION_CLOSED', 'connection closed');
    const id = this.#nextStreamId;
    this.#nextStreamId += 4;
    this.#openedActive++;
    const pair = new StreamPair(this.link, id, this, () => {
      // Both directions ended (finished, aborted or closed with the connection): free the slot.
      this.link.streams.delete(pair);
      this.#openedActive--;
      this.#slotWaiters.shift()?.();
    });
    this.link.streams.add(pair);
    this.link.other(this)._acceptStream(pair.acceptorEnd);
    return pair.openerEnd;
  }

  async #waitForSlot(options: { signal?: AbortSignal; timeoutMs?: number }): Promise<void> {
    const clock = this.link.network.clock;
    const ms = options.timeoutMs ?? DEFAULT_STREAM_TIMEOUT_MS;
    let timer: unknown;
    let wake!: () => void;
    const slot = new Promise<void>((resolve) => {
      wake = resolve;
      this.#slotWaiters.push(resolve);
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(() => reject(err('STREAM_LIMIT', `stream limit ${this.link.network.maxStreams} reached for ${ms} ms`)), ms);
    });
    try {
      await Promise.race([slot, timeout, ...(options.signal ? [abortPromise(options.signal)!] : [])]);
    } finally {
      clock.clearTimeout(timer);
      const i = this.#slotWaiters.indexOf(wake);
      if (i >= 0) this.#slotWaiters.splice(i, 1);
    }
  }

  onStream(handler: (stream: DuplexStream) => void): void {
    this.#streamHandler = handler;
    while (this.#pendingStreams.length > 0) handler(this.#pendingStreams.shift()!);
  }

  /** Adds a close handler (several allowed); called at once (in a promise job) if already closed. */
  onClose(handler: (error?: Error) => void): void {
    if (this.#closed) {
      const e = this.#closeError;
      queueMicrotask(() => handler(e));
      return;
    }
    this.#closeHandlers.push(handler);
  }

  /** Closes the connection and all its streams (the peer sees CONNECTION_CLOSED); idempotent. */
  async close(reason?: string): Promise<void> {
    this.link.terminate(err('CONNECTION_CLOSED', `closed by peer${reason ? `: ${reason}` : ''}`), this);
  }

  /** @internal */
  _acceptStream(stream: DuplexStream): void {
    if (this.#streamHandler) this.#streamHandler(stream);
    else this.#pendingStreams.push(stream);
  }

  /** @internal */
  _closed(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    this.#pendingStreams.length = 0;
    for (const wake of this.#slotWaiters.splice(0)) wake();
    this.transport._forget(this);
    for (const h of this.#closeHandlers.splice(0)) h(error);
  }
}

/**
 * `Transport` over a {@link MemoryNetwork} (kind `memory`). Make it with
 * `network.transport({ identity, allowPeers? })`.
 */
export class MemoryTransport implements Transport {
  readonly kind = 'memory' as const;
  readonly nodeId: string;
  /** Listen address, or the ephemeral one given at the first dial. @internal */
  localAddress: string | undefined;
  /** @internal set by MemoryNetwork.crash / restart */
  _down = false;
  #listening: string | undefined;
  #closed = false;
  #connectionHandler: ((c: PeerConnection) => void) | undefined;
  readonly #pendingConnections: MemoryConnection[] = [];
  readonly #connections = new Set<MemoryConnection>();
  readonly #allow: ReadonlySet<string> | undefined;

  constructor(
    readonly network: MemoryNetwork,
    readonly options: TransportOptions,
  ) {
    this.nodeId = options.identity.nodeId;
    this.#allow = options.allowPeers && options.allowPeers.length > 0 ? new Set(options.allowPeers) : undefined;
    network.register(this);
  }

  get address(): string | undefined {
    return this.#listening;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Binds `address` on the network. Throws CLOSED, INVALID_ARGUMENT (bad or taken address, second call). */
  async listen(options: ListenOptions): Promise<{ address: string }> {
    if (this.#closed) throw err('CLOSED', 'transport is closed');
    if (this.#listening) throw err('INVALID_ARGUMENT', `already listening on ${this.#listening}`);
    const bound = this.network.bind(this, options.address, true);
    this.#listening = bound;
    this.localAddress = bound;
    return { address: bound };
  }

  /**
   * Opens a new connection to `address` (one per call; nothing is pooled). Throws
   * CONNECTION_REFUSED (nobody listens, or either node is down), CONNECT_TIMEOUT (partitioned;
   * after `timeoutMs`, default 5,000 ms, on the network clock), PEER_VERIFICATION_FAILED,
   * ABORTED, CLOSED, INVALID_ARGUMENT.
   */
  async dial(address: string, options: DialOptions = {}): Promise<PeerConnection> {
    if (this.#closed) throw err('CLOSED', 'transport is closed');
    if (options.signal?.aborted) throw err('ABORTED', 'dial aborted');
    const target = canonical(address);
    const attempt = this.#connect(target, options);
    const signal = options.signal;
    return signal ? Promise.race([attempt, abortPromise(signal)!]) : attempt;
  }

  async #connect(target: string, options: DialOptions): Promise<MemoryConnection> {
    await Promise.resolve(); // a dial always completes in a later promise job
    if (this.#closed) throw err('CLOSED', 'transport is closed');
    if (this.localAddress === undefined) {
      this.localAddress = this.network.bind(this, formatAddress(parseAddress(target).host, 0), false);
    }
    if (this._down) throw err('CONNECTION_REFUSED', `cannot dial ${target}: this node is down`);
    const server = this.network.listenerAt(target);
    if (!server || server.closed || server._down) throw err('CONNECTION_REFUSED', `nothing listens on ${target}`);
    if (server === this) throw err('CONNECTION_REFUSED', `dialled our own address ${target}`);
    if (this.network.partitioned(this, server)) await this.#timeOut(target, options);
    // Client-side verification.
    const expected = options.expectedNodeId;
    if (expected !== undefined && server.nodeId !== expected) {
      throw err('PEER_VERIFICATION_FAILED', `peer at ${target} is ${server.nodeId}, expected ${expected}`);
    }
    if (expected === undefined && this.#allow && !this.#allow.has(server.nodeId)) {
      throw err('PEER_VERIFICATION_FAILED', `peer ${server.nodeId} at ${target} is not in allowPeers`);
    }
    // Server-side verification.
    if (!server._admits(this.nodeId)) {
      throw err('PEER_VERIFICATION_FAILED', `peer at ${target} refused us: ${this.nodeId} is not in its allowPeers`);
    }
    if (options.signal?.aborted) throw err('ABORTED', 'dial aborted');
    const link = this.network.connect(this, server, options.protocol ?? this.options.dialProtocol ?? 'octopii');
    this.#connections.add(link.client);
    server._accept(link.server);
    return link.client;
  }

  /** Across a partition: nothing answers; fail after the dial timeout. */
  #timeOut(target: string, options: DialOptions): Promise<never> {
    const ms = options.timeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS;
    return new Promise<never>((_, reject) => {
      const timer = this.network.clock.setTimeout(
        () => reject(err('CONNECT_TIMEOUT', `dial ${target} timed out after ${ms} ms`)),
        ms,
      );
      options.signal?.addEventListener(
        'abort',
        () => {
          this.network.clock.clearTimeout(timer);
          reject(err('ABORTED', 'dial aborted'));
        },
        { once: true },
      );
    });
  }

  /** @internal */
  _admits(nodeId: string): boolean {
    return !this.#allow || this.#allow.has(nodeId);
  }

  /** @internal */
  _accept(conn: MemoryConnection): void {
    this.#connections.add(conn);
    if (this.#connectionHandler) this.#connectionHandler(conn);
    else this.#pendingConnections.push(conn);
  }

  /** @internal */
  _forget(conn: MemoryConnection): void {
    this.#connections.delete(conn);
    const i = this.#pendingConnections.indexOf(conn);
    if (i >= 0) this.#pendingConnections.splice(i, 1);
  }

  onConnection(handler: (connection: PeerConnection) => void): void {
    this.#connectionHandler = handler;
    while (this.#pendingConnections.length > 0) handler(this.#pendingConnections.shift()!);
  }

  connections(): PeerConnection[] {
    return [...this.#connections];
  }

  /** Closes every connection (peers see CONNECTION_CLOSED) and frees the address; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of [...this.#connections]) await c.close('transport closed');
    this.network.unregister(this);
  }
}
