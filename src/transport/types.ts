/**
 * The transport interface (DESIGN.md §1). Everything above it — the lane, RPC,
 * Raft, the node actor — talks to this interface only; implementations:
 *  - `MemoryTransport` (src/transport/memory/): in-process, deterministic on a `Clock`, with
 *    fault injection, for whole-node simulations in `test/sim`;
 *  - `MatrixaiTransport` (src/transport/matrixai/): @matrixai/quic, ALPN `octopii/2` and
 *    `octopii` (Shipping Lane v1 interop), one shared UDP socket;
 *  - `QuinnTransport` (src/transport/quinn/): Rust quinn via @chainsafe/libp2p-quic's binding,
 *    ALPN `libp2p`.
 *
 * Vocabulary is QUIC's: a *connection* to a peer carries many bidirectional *streams*.
 * Transports only listen, dial and accept (DESIGN.md §1 "Peers and streams"): every `dial`
 * makes a new connection and every inbound connection is handed to `onConnection`. Nothing is
 * pooled or de-duplicated here: the peer actor of a remote node ID owns its one connection and
 * resolves simultaneous opens.
 */
import type { Identity } from '../identity.js';
import { OctopiiError } from '../errors.js';

export type TransportKind = 'memory' | 'matrixai' | 'quinn';

/**
 * What a connection carries, fixed for its lifetime:
 *  - `'octopii'`: octopii's own protocol (a hello, then a kind preamble on every stream; built
 *    above the transport). ALPN `octopii/2` on @matrixai/quic; on quinn the ALPN is fixed
 *    (`libp2p`) and every connection is `'octopii'`.
 *  - `'lane-v1'`: the seed's ALPN `octopii`, raw Shipping Lane v1 streams only, byte-compatible
 *    with the Rust Octopii and `--insecure` peers. @matrixai/quic only.
 */
export type ConnectionProtocol = 'octopii' | 'lane-v1';

/** A bidirectional stream as Web Streams. Bytes only; no framing at this level. */
export interface DuplexStream {
  /** Implementation-specific stream id (QUIC stream id where there is one). */
  readonly id: number | string;
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** Resets both directions at once; pending reads/writes reject with STREAM_ABORTED. */
  abort(reason?: unknown): void;
}

export interface PeerConnection {
  /**
   * Verified node ID of the peer (see docs/PROTOCOL.md, Node ID), or `null` for a peer admitted
   * with `insecure` that presented no Ed25519 identity.
   */
  readonly remoteNodeId: string | null;
  /** `host:port` of the peer (IPv6 hosts in brackets: `[::1]:4000`). */
  readonly remoteAddress: string;
  /** Which side opened the connection. */
  readonly direction: 'inbound' | 'outbound';
  /** What the connection carries: the dial's `protocol`, or what the dialler negotiated (ALPN). */
  readonly protocol: ConnectionProtocol;
  readonly closed: boolean;
  /**
   * Opens a bidirectional stream. Waits (bounded by `timeoutMs`, default 10,000 ms) while the
   * peer's stream limit is reached. Throws STREAM_LIMIT, CONNECTION_CLOSED, ABORTED.
   */
  openStream(options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<DuplexStream>;
  /**
   * Called for every stream the peer opens (streams that arrive before a handler is set wait for
   * it). One handler per connection; setting it again replaces it. The node's stream router owns
   * it: everything else gets its streams from the router.
   */
  onStream(handler: (stream: DuplexStream) => void): void;
  /**
   * Called once when the connection closes for any reason (`error` undefined on a clean local
   * close; an OctopiiError otherwise, e.g. CONNECTION_CLOSED after the QUIC idle timeout when the
   * peer vanished). Several handlers may be added; one added after the close is called at once.
   */
  onClose(handler: (error?: Error) => void): void;
  /**
   * Closes the connection and all its streams; idempotent. Bounded: it never waits on the peer
   * (a vanished peer cannot hold it beyond a short grace, at most ~1 s).
   */
  close(reason?: string): Promise<void>;
}

export interface ListenOptions {
  /** `host:port`; port 0 picks a free port. Hosts: IPv4, IPv6 (`::1` or `[::1]`), `localhost`. */
  address: string;
}

export interface DialOptions {
  /** Refuse the peer unless it proves this node ID (TLS certificate key). */
  expectedNodeId?: string;
  /** Connect timeout in ms (default 5,000). Throws CONNECT_TIMEOUT. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * What the connection will carry (default: the transport's `dialProtocol`, else `'octopii'`).
   * The client offers exactly this one ALPN; a transport that cannot speak it rejects
   * TRANSPORT_MISMATCH at once (quinn: `'lane-v1'`), a peer that does not rejects
   * TRANSPORT_MISMATCH after one round trip.
   */
  protocol?: ConnectionProtocol;
}

/**
 * Who may connect (server side) / whom we accept (client side, besides expectedNodeId):
 *  - `allowPeers`: node IDs admitted inbound; empty/undefined = any authenticated peer;
 *  - `insecure`: admit peers with no verifiable identity (any self-signed certificate, seed 001
 *    interop). Without it, such peers are refused during the handshake.
 */
export interface PeerPolicy {
  allowPeers?: readonly string[];
  insecure?: boolean;
}

export interface TransportOptions extends PeerPolicy {
  identity: Identity;
  /** Loopback tuning (e.g. large datagrams) is only applied when true. Default: auto-detect from the listen address. */
  loopback?: boolean;
  /**
   * QUIC keep-alive period in ms (default 1,000): a PING when nothing else was sent, so an idle
   * but live connection never reaches `idleTimeoutMs`. Must be below `idleTimeoutMs`.
   */
  keepAliveMs?: number;
  /**
   * QUIC idle timeout in ms (default 4,000; RFC 9000 §10.1, the smaller of both peers' values
   * applies): a peer silent this long is gone (killed, unplugged), the connection closes with
   * CONNECTION_CLOSED and its pending stream reads/writes reject. Not used by the memory
   * transport, whose faults are explicit.
   */
  idleTimeoutMs?: number;
  /** Protocol of a dial that names none (default `'octopii'`). See {@link DialOptions.protocol}. */
  dialProtocol?: ConnectionProtocol;
}

/** Default {@link TransportOptions.keepAliveMs}. */
export const DEFAULT_KEEP_ALIVE_MS = 1_000;
/** Default {@link TransportOptions.idleTimeoutMs}. */
export const DEFAULT_IDLE_TIMEOUT_MS = 4_000;

/** Checks keep-alive and idle timeout (positive, keep-alive below idle). Throws INVALID_ARGUMENT. */
export function livenessTimes(options: Pick<TransportOptions, 'keepAliveMs' | 'idleTimeoutMs'>): { keepAliveMs: number; idleTimeoutMs: number } {
  const keepAliveMs = options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  if (!(keepAliveMs > 0 && idleTimeoutMs > 0 && keepAliveMs < idleTimeoutMs)) {
    throw new OctopiiError('INVALID_ARGUMENT', `keepAliveMs (${keepAliveMs}) and idleTimeoutMs (${idleTimeoutMs}) must be positive with keepAliveMs < idleTimeoutMs`);
  }
  return { keepAliveMs, idleTimeoutMs };
}

export interface Transport {
  readonly kind: TransportKind;
  /** Our own node ID. */
  readonly nodeId: string;
  /** Bound address after `listen` (`host:port`), or undefined before. */
  readonly address: string | undefined;
  /** Binds the node's socket and starts accepting connections. Call at most once. */
  listen(options: ListenOptions): Promise<{ address: string }>;
  /**
   * Opens a new connection to `address` (never reuses one). Throws CONNECT_TIMEOUT,
   * CONNECTION_REFUSED, PEER_VERIFICATION_FAILED, TRANSPORT_MISMATCH, ABORTED, CLOSED.
   */
  dial(address: string, options?: DialOptions): Promise<PeerConnection>;
  /**
   * Called for each inbound connection after its peer passed verification (connections that
   * arrive before a handler is set wait for it). Every one, even a second one from the same node.
   */
  onConnection(handler: (connection: PeerConnection) => void): void;
  /** Open connections, inbound and outbound (inspection; `close` closes them all). */
  connections(): PeerConnection[];
  /**
   * Closes every connection (peers see CONNECTION_CLOSED) and the socket; idempotent. Bounded:
   * it never waits on a vanished peer (≈1 s at most), and leaves no handle that keeps the process
   * alive.
   */
  close(): Promise<void>;
}

/** Parses `host:port`, `[v6]:port` or `v6-with-port-after-last-colon`. Throws INVALID_ARGUMENT. */
export { parseAddress, formatAddress } from './address.js';
