/**
 * The transport interface (DESIGN.md §1, issue 2 item 3). Everything above it — the lane, RPC,
 * Raft, the node actor — talks to this interface only; implementations:
 *  - `MemoryTransport` (src/transport/memory.ts): in-process, deterministic, for `test/sim`;
 *  - `MatrixaiTransport` (src/transport/matrixai.ts): @matrixai/quic, ALPN `octopii`,
 *    one shared UDP socket, Shipping Lane v1 interop;
 *  - `QuinnTransport` (src/transport/quinn.ts): Rust quinn via @chainsafe/libp2p-quic's binding.
 *
 * Vocabulary is QUIC's: a *connection* to a peer carries many bidirectional *streams*.
 * Connections are pooled by node ID: `dial` to a node already connected returns the same
 * connection.
 */
import type { Identity } from '../identity.js';

export type TransportKind = 'memory' | 'matrixai' | 'quinn';

/**
 * What a connection speaks: `lane-v1` = the seed's ALPN `octopii`, raw Shipping Lane v1 streams
 * only (byte-compatible); `octopii` = octopii's own protocol (a hello on the control stream, a
 * kind preamble on every stream; docs/PROTOCOL.md).
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
  /** What the connection speaks (see {@link ConnectionProtocol}); undefined means `octopii`. */
  readonly protocol?: ConnectionProtocol;
  readonly closed: boolean;
  /**
   * Opens a bidirectional stream. Waits (bounded by `timeoutMs`, default 10,000 ms) while the
   * peer's stream limit is reached. Throws STREAM_LIMIT, CONNECTION_CLOSED, ABORTED.
   */
  openStream(options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<DuplexStream>;
  /** Called for every stream the peer opens. One handler; setting it again replaces it. */
  onStream(handler: (stream: DuplexStream) => void): void;
  /** Called once when the connection closes for any reason (`error` undefined on a clean local close). */
  onClose(handler: (error?: Error) => void): void;
  /** Closes the connection and all its streams; idempotent. */
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
  /** What to speak (default `octopii`). */
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
   * Connects (or returns the pooled connection to `expectedNodeId`). Throws CONNECT_TIMEOUT,
   * CONNECTION_REFUSED, PEER_VERIFICATION_FAILED, TRANSPORT_MISMATCH, ABORTED, CLOSED.
   */
  dial(address: string, options?: DialOptions): Promise<PeerConnection>;
  /** Called for each inbound connection after its peer passed verification. */
  onConnection(handler: (connection: PeerConnection) => void): void;
  /** Open connections, inbound and outbound. */
  connections(): PeerConnection[];
  /** Closes every connection and the socket; idempotent. */
  close(): Promise<void>;
}

/** Parses `host:port`, `[v6]:port` or `v6-with-port-after-last-colon`. Throws INVALID_ARGUMENT. */
export { parseAddress, formatAddress } from './address.js';
