/**
 * QuinnTransport: the {@link Transport} interface on Rust quinn, through the native binding of
 * `@chainsafe/libp2p-quic` (`@chainsafe/libp2p-quic-linux-x64-gnu`, pinned exact).
 * Only src/transport/quinn/ touches the binding; everything above sees the interface.
 *
 * Why: quinn does its UDP I/O, packet loop, pacing and congestion control in Rust threads, so
 * the JavaScript event loop only sees one promise per (large) read or write — measured 10–50×
 * faster than the JavaScript-driven @matrixai/quic (bench/README.md).
 *
 * What the binding fixes for us (learned from ChainSafe/js-libp2p-quic, `rust/*.rs`):
 *  - TLS is libp2p-tls (libp2p/specs `tls/tls.md`): each side presents a self-signed certificate
 *    carrying its libp2p public key, signed by that key; both sides verify it. The peer ID comes
 *    from `Connection.remoteMultiaddr()` (`/ip4/…/udp/…/quic-v1/p2p/<peerId>`). Our node ID *is*
 *    the libp2p peer ID of the node's Ed25519 key (src/identity.ts), so a node has one node ID on
 *    both transports.
 *  - ALPN is fixed to `libp2p`, so every connection's `protocol` is `'octopii'` and a dial asking
 *    for `'lane-v1'` rejects TRANSPORT_MISMATCH at once. A quinn client dialing an @matrixai/quic
 *    server (ALPN `octopii/2`, `octopii`) gets TLS alert 120 (`no_application_protocol`) within
 *    one round trip; we report it as TRANSPORT_MISMATCH.
 *  - Server and client are separate quinn endpoints, hence separate UDP sockets: a node has its
 *    listening socket plus one ephemeral client socket per address family. The remote address of
 *    an inbound connection is therefore the peer's client socket, not its listen address.
 *  - Keep-alive and idle timeout are `TransportOptions.keepAliveMs` / `idleTimeoutMs` (1 s / 4 s):
 *    a killed peer closes the connection in ~4 s (CONNECTION_CLOSED, quinn's `timed out`).
 *  - No unidirectional streams, no datagrams; `handshakeTimeout` is ignored (a dead address fails
 *    only after `maxIdleTimeout`), and `outboundStream()` waits silently at the peer's stream
 *    limit: both are bounded here by our own timeouts (CONNECT_TIMEOUT, STREAM_LIMIT).
 *  - Every binding error has code `Unknown`; `mapError` (quinn/errors.ts) turns quinn's messages into
 *    OctopiiError codes.
 *  - `Stream.read(n)` allocates n bytes per call; reads here adapt between 2 KiB and 1 MiB.
 *  - The binding's `Stream` holds one mutex per direction across a pending read/write, so a
 *    reset cannot overtake a pending native call: `QuinnStream.abort` (quinn/stream.ts) errors the Web
 *    Streams at once, and the native reset goes out when the pending call ends (at once in the
 *    usual case; a write blocked because the peer stopped reading delays it until the peer reads
 *    or the connection closes).
 *  - A stream counts against the peer's limit (`maxConcurrentStreamLimit`, default 256) until
 *    both directions are over: read it to its end (or cancel it) AND close (or abort) its
 *    writable. A stream is visible to the peer only once its first bytes are written.
 *  - Errors are typed but the close reason text is not sent: the binding closes connections
 *    with application code 0 and no reason, so the peer sees CONNECTION_CLOSED.
 *
 * Peer policy (src/transport/types.ts `PeerPolicy`): every libp2p-tls peer proves its key, so
 * "no verifiable identity" cannot happen here. `insecure` only admits peers whose libp2p key is
 * not Ed25519 (secp256k1, RSA libp2p nodes); their `remoteNodeId` is `null`. Interop with
 * non-libp2p QUIC peers (seed v1, ALPN `octopii`) is the @matrixai/quic transport's job.
 * `loopback` has no effect: quinn discovers the path MTU itself.
 */
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { OctopiiError } from '../../errors.js';
import { isNodeId } from '../../identity.js';
import { formatAddress, parseAddress } from '../address.js';
import {
  livenessTimes,
  type DialOptions,
  type ListenOptions,
  type PeerConnection,
  type Transport,
  type TransportOptions,
} from '../types.js';
import { loadBinding, parseRemoteMultiaddr, privateKeyProto, type NativeClient, type NativeConnection, type NativeQuinnConfig, type NativeServer } from './binding.js';
import { Cancel } from './cancel.js';
import { QuinnConnection } from './connection.js';
import { mapError } from './errors.js';

/**
 * quinn tuning (bytes, ms). Defaults suit loopback and LAN bulk transfer on a small machine.
 * The idle timeout and keep-alive come from `TransportOptions.idleTimeoutMs` / `keepAliveMs`.
 */
export interface QuinnTuning {
  /** Concurrent bidirectional streams the peer may open. Default 256. */
  maxConcurrentStreamLimit: number;
  /**
   * Per-stream receive window in bytes. Default 2 MiB: quinn buffers up to the window when the
   * reader is slower than the sender, and a receiving `octopii serve` grew 98 → 44 MiB on a
   * 2 GiB receive with 2 MiB windows and the other memory defaults (src/nodeFlags.ts, one hash
   * thread; `npm run bench:memory`) at the same loopback throughput. A stream moves at most
   * one window per round trip: 2 MiB caps a stream at ~40 MB/s over a 50 ms path, so raise it
   * (config `quinnReceiveWindow`) for fast long-distance links.
   */
  maxStreamData: number;
  /** Per-connection receive window in bytes. Default 4 MiB (twice the stream's, so a bulk stream leaves room to the others). */
  maxConnectionData: number;
  /** UDP socket buffers in bytes (clamped by the OS to net.core.[rw]mem_max). Default 4 MiB. */
  receiveBufferSize: number;
  sendBufferSize: number;
}

export const DEFAULT_QUINN_TUNING: QuinnTuning = {
  maxConcurrentStreamLimit: 256,
  maxStreamData: 2 << 20,
  maxConnectionData: 4 << 20,
  receiveBufferSize: 4 << 20,
  sendBufferSize: 4 << 20,
};

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Longest `close()` waits for the native server to stop (ms). */
const SERVER_ABORT_MS = 1_000;
/** Concurrent native accepts: the binding awaits each handshake inside `inboundConnection()`. */
const ACCEPT_CONCURRENCY = 4;

export interface QuinnTransportOptions extends TransportOptions {
  /** quinn tuning; see {@link DEFAULT_QUINN_TUNING}. */
  quinn?: Partial<QuinnTuning>;
  /**
   * Worker threads of the binding's tokio runtime (process-wide; only the first quinn transport
   * of a process can choose it). Default: `TOKIO_WORKER_THREADS`, else one per CPU core. Two
   * nodes sharing a 2-core machine did best with 1 each (`npm run bench`: sender CPU −0.3 s/GiB,
   * sender event-loop p99 ~6.4 → ~5.0 ms).
   */
  runtimeThreads?: number;
}

/**
 * Transport over Rust quinn (kind `'quinn'`). See the file comment for what the binding implies.
 *
 * Usage: `const t = await QuinnTransport.create({ identity }); await t.listen({ address:
 * '127.0.0.1:0' }); const c = await t.dial('127.0.0.1:4000', { expectedNodeId })`.
 */
export class QuinnTransport implements Transport {
  readonly kind = 'quinn' as const;
  readonly nodeId: string;
  #options: QuinnTransportOptions;
  #config: NativeQuinnConfig;
  #server: NativeServer | undefined;
  #clients: { 4?: NativeClient; 6?: NativeClient } = {};
  #address: string | undefined;
  #closed = false;
  #connectionHandler: ((c: PeerConnection) => void) | undefined;
  #connections = new Set<QuinnConnection>();
  /** Inbound connections that arrived before `onConnection`. */
  #unclaimed: QuinnConnection[] = [];
  #closing = new Cancel();
  #allow: Set<string> | undefined;

  private constructor(options: QuinnTransportOptions, config: NativeQuinnConfig) {
    this.#options = options;
    this.#config = config;
    this.nodeId = options.identity.nodeId;
    this.#allow = options.allowPeers && options.allowPeers.length > 0 ? new Set(options.allowPeers) : undefined;
  }

  /**
   * Builds the quinn configuration (TLS certificate from `options.identity`, libp2p-tls).
   * Throws INVALID_IDENTITY (bad key), INVALID_ARGUMENT (binding not loadable on this platform).
   */
  static async create(options: QuinnTransportOptions): Promise<QuinnTransport> {
    const b = loadBinding(options.runtimeThreads);
    const tuning = { ...DEFAULT_QUINN_TUNING, ...options.quinn };
    const { keepAliveMs, idleTimeoutMs } = livenessTimes(options);
    let config: NativeQuinnConfig;
    try {
      config = new b.QuinnConfig({
        privateKeyProto: privateKeyProto(options.identity),
        handshakeTimeout: idleTimeoutMs, // ignored by the binding
        maxIdleTimeout: idleTimeoutMs,
        keepAliveInterval: keepAliveMs,
        ...tuning,
      });
    } catch (e) {
      if (e instanceof OctopiiError) throw e;
      throw new OctopiiError('INVALID_IDENTITY', `quinn rejected the identity: ${(e as Error).message}`, { cause: e });
    }
    return new QuinnTransport(options, config);
  }

  get address(): string | undefined {
    return this.#address;
  }

  /**
   * Binds the server socket (`host:port`, port 0 = any; IPv6 sockets are v6-only) and accepts
   * connections. Throws CLOSED, INVALID_ARGUMENT (listening twice, bad address), IO_ERROR (bind).
   */
  async listen(options: ListenOptions): Promise<{ address: string }> {
    if (this.#closed) throw new OctopiiError('CLOSED', 'transport is closed');
    if (this.#server) throw new OctopiiError('INVALID_ARGUMENT', `already listening on ${this.#address}`);
    const { host, port } = parseAddress(options.address);
    const ip = await resolveHost(host);
    let server: NativeServer;
    try {
      server = new (loadBinding().Server)(this.#config, ip, port);
    } catch (e) {
      throw mapError(e, 'listen');
    }
    if (this.#closed) {
      await server.abort();
      throw new OctopiiError('CLOSED', 'transport is closed');
    }
    this.#server = server;
    this.#address = formatAddress(ip, server.port());
    for (let i = 0; i < ACCEPT_CONCURRENCY; i++) void this.#acceptLoop(server);
    return { address: this.#address };
  }

  async #acceptLoop(server: NativeServer): Promise<void> {
    while (!this.#closed) {
      let native: NativeConnection;
      try {
        native = await server.inboundConnection();
      } catch (e) {
        if (/server closed/.test((e as Error)?.message ?? '')) return;
        continue; // a failed handshake; keep accepting
      }
      this.#admitInbound(native);
    }
  }

  #admitInbound(native: NativeConnection): void {
    if (this.#closed) {
      native.abort();
      return;
    }
    let peer: { address: string; peerId: string };
    try {
      peer = parseRemoteMultiaddr(native.remoteMultiaddr());
    } catch {
      native.abort();
      return;
    }
    const nodeId = this.#admit(peer.peerId, undefined);
    if (nodeId === false) {
      native.abort(); // refused before any stream is accepted
      return;
    }
    const conn = new QuinnConnection(native, this, 'inbound', nodeId, peer.address);
    this.#connections.add(conn);
    conn.start();
    if (this.#connectionHandler) this.#handOver(conn);
    else this.#unclaimed.push(conn);
  }

  #handOver(conn: QuinnConnection): void {
    try {
      this.#connectionHandler!(conn);
    } catch {
      /* the handler's own problem */
    }
  }

  /**
   * Policy check for a verified libp2p peer ID. Returns the node ID to record (`null` for a
   * non-Ed25519 peer admitted by `insecure`), or false to refuse.
   * Outbound with `expectedNodeId`: must match. Otherwise `allowPeers` (if non-empty) must list it.
   */
  #admit(peerId: string, expectedNodeId: string | undefined): string | null | false {
    if (expectedNodeId !== undefined) return peerId === expectedNodeId ? peerId : false;
    if (!isNodeId(peerId)) return this.#options.insecure && !this.#allow ? null : false;
    if (this.#allow && !this.#allow.has(peerId)) return false;
    return peerId;
  }

  /** Called by a connection when it closes. */
  forget(conn: QuinnConnection): void {
    this.#connections.delete(conn);
    const i = this.#unclaimed.indexOf(conn);
    if (i >= 0) this.#unclaimed.splice(i, 1);
  }

  /**
   * Opens a new connection to `address` (`host:port`); the peer's node ID is checked before the
   * connection is returned (a mismatch aborts it). Throws CONNECT_TIMEOUT (default 5,000 ms),
   * PEER_VERIFICATION_FAILED, TRANSPORT_MISMATCH (peer runs @matrixai/quic / ALPN `octopii`;
   * or `protocol: 'lane-v1'` asked, which quinn cannot speak), CONNECTION_REFUSED, ABORTED,
   * CLOSED, INVALID_ARGUMENT.
   */
  async dial(address: string, options: DialOptions = {}): Promise<PeerConnection> {
    if (this.#closed) throw new OctopiiError('CLOSED', 'transport is closed');
    const protocol = options.protocol ?? this.#options.dialProtocol ?? 'octopii';
    if (protocol !== 'octopii') {
      throw new OctopiiError('TRANSPORT_MISMATCH', `the quinn transport speaks only octopii's protocol (ALPN "libp2p"), not "${protocol}"; use --transport matrixai for Shipping Lane v1 peers`);
    }
    const { host, port } = parseAddress(address);
    const ip = await resolveHost(host);
    const key = formatAddress(ip, port);
    const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const connecting = this.#connect(ip, port, key, options.expectedNodeId, timeoutMs);
    try {
      return await new Cancel().wrap(connecting, { signal: options.signal, what: `dial ${key}` });
    } catch (e) {
      // Aborted by the caller: a connection that completes later belongs to nobody; close it.
      connecting.then((c) => void c.close(), () => {});
      throw e;
    }
  }

  async #connect(ip: string, port: number, key: string, expectedNodeId: string | undefined, timeoutMs: number): Promise<QuinnConnection> {
    const client = this.#client(isIP(ip) === 6 ? 6 : 4);
    const native = client.outboundConnection(ip, port);
    let conn: NativeConnection;
    try {
      conn = await this.#closing.wrap(native, { timeoutMs, code: 'CONNECT_TIMEOUT', what: `dial ${key}` });
    } catch (e) {
      // A late success after our timeout must not leave a connection behind.
      native.then((c) => c.abort(), () => {});
      throw mapError(e, 'dial');
    }
    if (this.#closed) {
      conn.abort();
      throw new OctopiiError('CLOSED', 'transport is closed');
    }
    let peer: { address: string; peerId: string };
    try {
      peer = parseRemoteMultiaddr(conn.remoteMultiaddr());
    } catch (e) {
      conn.abort();
      throw e;
    }
    const nodeId = this.#admit(peer.peerId, expectedNodeId);
    if (nodeId === false) {
      conn.abort(); // before any stream is opened or accepted
      throw new OctopiiError(
        'PEER_VERIFICATION_FAILED',
        expectedNodeId !== undefined
          ? `peer at ${key} proved node ID ${peer.peerId}, expected ${expectedNodeId}`
          : `peer at ${key} (${peer.peerId}) is not admitted by this node's peer policy`,
      );
    }
    const wrapped = new QuinnConnection(conn, this, 'outbound', nodeId, key);
    this.#connections.add(wrapped);
    wrapped.start();
    return wrapped;
  }

  #client(family: 4 | 6): NativeClient {
    let c = this.#clients[family];
    if (!c) {
      try {
        c = new (loadBinding().Client)(this.#config, family === 6 ? 1 : 0);
      } catch (e) {
        throw new OctopiiError('CONNECTION_REFUSED', `cannot open an IPv${family} client socket: ${(e as Error).message}`, { cause: e });
      }
      this.#clients[family] = c;
    }
    return c;
  }

  onConnection(handler: (connection: PeerConnection) => void): void {
    this.#connectionHandler = handler;
    const waiting = this.#unclaimed;
    this.#unclaimed = [];
    for (const c of waiting) this.#handOver(c);
  }

  connections(): PeerConnection[] {
    return [...this.#connections];
  }

  /** Closes every connection, the client sockets and the server socket; idempotent; bounded (≤ ~1 s). */
  async close(): Promise<void> {
    if (this.#closed) return this.#closedP;
    this.#closed = true;
    this.#closing.fire(new OctopiiError('CLOSED', 'transport closed during dial'));
    this.#closedP = (async () => {
      for (const c of [...this.#connections]) await c.close();
      for (const c of Object.values(this.#clients)) c.abort();
      this.#clients = {};
      const server = this.#server;
      this.#server = undefined;
      // The native abort waits for the endpoint to go idle; a vanished peer must not hold us.
      if (server) await new Cancel().wrap(server.abort(), { timeoutMs: SERVER_ABORT_MS }).catch(() => {});
    })();
    return this.#closedP;
  }
  #closedP: Promise<void> = Promise.resolve();
}

async function resolveHost(host: string): Promise<string> {
  if (isIP(host)) return host;
  try {
    return (await lookup(host)).address;
  } catch (e) {
    throw new OctopiiError('INVALID_ARGUMENT', `cannot resolve host "${host}": ${(e as Error).message}`, { cause: e });
  }
}
