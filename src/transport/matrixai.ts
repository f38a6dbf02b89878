/**
 * Transport on @matrixai/quic 2.0.9 (issue 2 item 3; DESIGN.md §1 "Transport").
 *
 * - ONE UDP socket per node (`QUICSocket`), shared by the node's `QUICServer` and every
 *   outbound `QUICClient` (the library's injected-socket mode).
 * - TLS: the certificate is made from the node's Ed25519 identity (`createNodeCertificate`);
 *   both sides check the peer's certificate in `verifyCallback` with `nodeIdFromCertificate`
 *   (client: the dialled `expectedNodeId`, else `allowPeers`, else any Ed25519 peer; server:
 *   `allowPeers`, else any Ed25519 peer). With `insecure`, a peer whose certificate is not an
 *   Ed25519 self-signed one (seed 001 v1 interop: any QUIC stack, ALPN `octopii`, any
 *   self-signed certificate) is admitted with `remoteNodeId === null`. A peer that presents no
 *   certificate at all is refused by the library's TLS layer (verifyPeer is always on).
 * - Listen, dial, accept only: every dial makes a new connection, every inbound connection goes
 *   to `onConnection`; nothing is pooled.
 * - ALPN says what a connection carries (`PeerConnection.protocol`): the server offers
 *   `octopii/2` (octopii's own protocol) and `octopii` (seed 001, raw Shipping Lane v1); a
 *   client offers exactly the one its dial asks for; the negotiated one (quiche's
 *   `applicationProto()`) sets `protocol` on both sides.
 * - Liveness: keep-alive PINGs every `keepAliveMs` and an idle timeout of `idleTimeoutMs`
 *   (library `keepAliveIntervalTime` / `maxIdleTimeout`), so a killed peer closes the
 *   connection within `idleTimeoutMs` (4 s by default).
 * - Tuning from the measured facts in issue 2: 4 MiB UDP buffers, 64 KiB readable chunks, 32 KiB
 *   datagrams only on loopback (no path-MTU discovery in the library), `initialMaxStreamsBidi`
 *   1000, stream opens wait for peer stream credit instead of tripping `ErrorQUICStreamLimit`.
 * - Every close in this library surfaces as an error event; they are all mapped to OctopiiError
 *   codes here, and every stream still open is cancelled with that OctopiiError before the
 *   library destroys it, so reads and writes on a `DuplexStream` only ever reject with
 *   OctopiiErrors (no wrapper streams, no per-chunk cost).
 *
 * Known limit (TLS 1.3 with client certificates): the client finishes its handshake before the
 * server has judged the client's certificate, so `dial` to a server whose allowlist refuses us
 * resolves; the connection then closes ~1 RTT later with PEER_VERIFICATION_FAILED and every
 * stream on it fails with that code (see the contract suite, test/transport/contract.ts).
 */
import { createHmac, timingSafeEqual, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import { QUICClient, QUICServer, QUICSocket, errors as quicErrors, events as quicEvents } from '@matrixai/quic';
import type QUICConnection from '@matrixai/quic/QUICConnection.js';
import type QUICStream from '@matrixai/quic/QUICStream.js';
import { OctopiiError, type OctopiiErrorCode } from '../errors.js';
import { createNodeCertificate, nodeIdFromCertificate, type NodeCertificate } from './certificate.js';
import { formatAddress, isLoopbackHost, parseAddress } from './address.js';
import {
  livenessTimes,
  type ConnectionProtocol,
  type DialOptions,
  type DuplexStream,
  type ListenOptions,
  type PeerConnection,
  type Transport,
  type TransportOptions,
} from './types.js';

/** Options of {@link MatrixaiTransport.create}. */
export interface MatrixaiTransportOptions extends TransportOptions {
  /** Bidirectional streams the peer may open at once (default 1,000). */
  maxStreams?: number;
  /** Raw @matrixai/quic `QUICConfig` overrides (measurement only; e.g. flow-control windows in bytes). */
  quicConfig?: Record<string, unknown>;
}

// ------------------------------------------------------------------------------------------
// Tuning (issue 2, "Known facts about @matrixai/quic 2.0.9").

const UDP_BUFFER_BYTES = 4 * 1024 * 1024;
const READABLE_CHUNK_BYTES = 64 * 1024;
const LOOPBACK_DATAGRAM_BYTES = 32 * 1024;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_OPEN_TIMEOUT_MS = 10_000;

/** TLS ALPN of each {@link ConnectionProtocol}. */
export const ALPN: Record<ConnectionProtocol, string> = { octopii: 'octopii/2', 'lane-v1': 'octopii' };

/** The protocol of a negotiated ALPN (`undefined` for one we never offer). */
function protocolOfAlpn(alpn: string): ConnectionProtocol | undefined {
  return alpn === ALPN.octopii ? 'octopii' : alpn === ALPN['lane-v1'] ? 'lane-v1' : undefined;
}
/** An inbound handshake that has not finished after this long is dropped. */
const SERVER_HANDSHAKE_TIMEOUT_MS = 10_000;
/** How long a closing connection may wait for its peer before we stop waiting (see teardown). */
const CLOSE_GRACE_MS = 250;

/**
 * After `onGrace`, how long a library teardown may still run before we stop waiting for it.
 * Its steps (stream destroys, the final send) can wait on a peer that vanished; nothing of
 * ours depends on them finishing, and {@link abandon} has already cancelled its timers.
 */
const ABANDON_MS = 500;

/** Whether `p` settled within `ms`. */
async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Awaits `p` for at most `ms + ABANDON_MS`: if it has not settled after `ms`, calls `onGrace`
 * (which should make it settle) and waits at most ABANDON_MS more. Returns whether it settled.
 * This is what makes every close bounded, whatever the library waits on.
 */
async function withGrace(p: Promise<unknown>, ms: number, onGrace: () => void): Promise<boolean> {
  if (await settledWithin(p, ms)) return true;
  onGrace();
  return settledWithin(p, ABANDON_MS);
}

/**
 * Ends a library connection's closing period now: cancels its quiche and keep-alive timers
 * (so no handle of it keeps the process alive) and resolves the promise its `stop()` /
 * `start()` wait on. Only for connections we are closing anyway.
 */
function abandon(qc: QUICConnection): void {
  const q = qc as unknown as {
    connTimeoutTimer?: { cancel(): void };
    keepAliveIntervalTimer?: { cancel(): void };
    resolveClosedP?: () => void;
  };
  q.connTimeoutTimer?.cancel();
  q.keepAliveIntervalTimer?.cancel();
  q.resolveClosedP?.();
}

/** TLS alert codes offset by 0x100 (RFC 9001 §4.8), the library's `CryptoError`. */
/** QUIC CRYPTO_ERROR codes: 0x100 + TLS alert (RFC 9001 §4.8). 376 = no_application_protocol (120). */
const CryptoAlert = { BadCertificate: 298, UnsupportedCertificate: 299, AccessDenied: 305, NoApplicationProtocol: 376 } as const;

/** Stream reset codes on the wire (RESET_STREAM / STOP_SENDING). */
const StreamCode = { ABORTED: 1, CONNECTION_CLOSED: 2 } as const;

/** The library logs through @matrixai/logger; we keep it quiet (errors reach callers typed). */
const silentLogger = {
  info() {},
  debug() {},
  warn() {},
  error() {},
  getChild() {
    return silentLogger;
  },
};

// Library internals we rely on (present in 2.0.9's JS, protected in its .d.ts).
interface QuicheConn {
  peerStreamsLeftBidi(): number;
  /** The negotiated ALPN protocol (empty before the handshake). */
  applicationProto(): Uint8Array;
}
interface ConnectionInternals {
  conn: QuicheConn;
  streamMap: Map<number, QUICStream>;
  streamIdClientBidi: number;
  streamIdServerBidi: number;
  streamIdUsedClientBidi: number;
  streamIdUsedServerBidi: number;
  streamIdUsedSet: Set<number>;
}
const internals = (c: QUICConnection) => c as unknown as ConnectionInternals;
interface ConnectionMapInternals {
  serverConnections: ReadonlyMap<string, QUICConnection>;
  clientConnections: ReadonlyMap<string, QUICConnection>;
}
interface SocketInternals {
  socket: import('node:dgram').Socket;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const errorName = (e: unknown): string => (e instanceof Error ? e.constructor.name : typeof e);

/** Host without IPv4-mapped-IPv6 wrapping (`::ffff:127.0.0.1` → `127.0.0.1`). */
function plainHost(host: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return m ? m[1]! : host;
}

/** Error code of a TLS alert a connection error carries, if any. */
function cryptoCode(e: unknown): number | undefined {
  const data = (e as { data?: { errorCode?: number } } | undefined)?.data;
  const code = data?.errorCode;
  return typeof code === 'number' && code >= 0x100 && code <= 0x1ff ? code : undefined;
}

/** Maps a library connection-level error to an OctopiiError (`alpn`: what we offered, client side). */
function mapConnectionError(e: unknown, refusal?: OctopiiError, alpn?: string): OctopiiError {
  if (e instanceof OctopiiError) return e;
  if (refusal) return refusal;
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof quicErrors.ErrorQUICConnectionPeerTLS) {
    const code = cryptoCode(e);
    if (code === CryptoAlert.NoApplicationProtocol) {
      // The peer speaks another ALPN: a node on the quinn transport (ALPN `libp2p`), or a seed
      // v1 peer (`octopii` only) asked for `octopii/2`.
      return new OctopiiError('TRANSPORT_MISMATCH',
        `peer does not speak ALPN "${alpn ?? `${ALPN.octopii}" or "${ALPN['lane-v1']}`}" — a node on another transport (--transport quinn) or a Shipping Lane v1 peer (protocol 'lane-v1'); ${msg}`, { cause: e });
    }
    const verification = code === CryptoAlert.BadCertificate || code === CryptoAlert.AccessDenied ||
      code === CryptoAlert.UnsupportedCertificate || code === 372 /* CertificateRequired */;
    return new OctopiiError(verification ? 'PEER_VERIFICATION_FAILED' : 'CONNECTION_REFUSED',
      `peer refused the TLS handshake (${msg})`, { cause: e });
  }
  if (e instanceof quicErrors.ErrorQUICConnectionLocalTLS) {
    return new OctopiiError('PEER_VERIFICATION_FAILED', `peer certificate refused (${msg})`, { cause: e });
  }
  if (e instanceof quicErrors.ErrorQUICConnectionIdleTimeout) {
    return new OctopiiError('CONNECTION_CLOSED', 'connection idle timeout', { cause: e });
  }
  if (e instanceof quicErrors.ErrorQUICConnectionPeer) {
    return new OctopiiError('CONNECTION_CLOSED', `peer closed the connection (${msg})`, { cause: e });
  }
  return new OctopiiError('CONNECTION_CLOSED', `connection closed (${errorName(e)}: ${msg})`, { cause: e });
}

/** Server-side cookie/token crypto the library needs (HMAC-SHA256 with a per-node random key). */
function serverCrypto() {
  const key = randomBytes(32);
  const sign = async (k: ArrayBuffer, data: ArrayBuffer): Promise<ArrayBuffer> => {
    const mac = createHmac('sha256', Buffer.from(k)).update(Buffer.from(data)).digest();
    return mac.buffer.slice(mac.byteOffset, mac.byteOffset + mac.byteLength);
  };
  return {
    key: key.buffer.slice(key.byteOffset, key.byteOffset + key.byteLength),
    ops: {
      sign,
      async verify(k: ArrayBuffer, data: ArrayBuffer, sig: ArrayBuffer): Promise<boolean> {
        const want = Buffer.from(await sign(k, data));
        const got = Buffer.from(sig);
        return got.byteLength === want.byteLength && timingSafeEqual(got, want);
      },
    },
  };
}

const clientCrypto = {
  ops: {
    async randomBytes(data: ArrayBuffer): Promise<void> {
      webcrypto.getRandomValues(new Uint8Array(data));
    },
  },
};

/**
 * Decides whether a peer certificate chain is admitted. Returns the peer's node ID (null for an
 * admitted foreign peer under `insecure`) or a refusal.
 */
function judgePeer(
  certs: Uint8Array[],
  policy: { expectedNodeId?: string; allowPeers?: readonly string[]; insecure?: boolean },
): { nodeId: string | null } | { refusal: OctopiiError; alert: number } {
  const leaf = certs[0];
  if (!leaf) {
    return policy.insecure && !policy.expectedNodeId
      ? { nodeId: null }
      : { refusal: new OctopiiError('PEER_VERIFICATION_FAILED', 'peer presented no certificate'), alert: CryptoAlert.BadCertificate };
  }
  let nodeId: string | null;
  try {
    nodeId = nodeIdFromCertificate(leaf);
  } catch (e) {
    const refusal = e instanceof OctopiiError ? e : new OctopiiError('PEER_VERIFICATION_FAILED', String(e));
    return { refusal, alert: CryptoAlert.BadCertificate };
  }
  if (policy.expectedNodeId !== undefined) {
    return nodeId === policy.expectedNodeId
      ? { nodeId }
      : {
          refusal: new OctopiiError('PEER_VERIFICATION_FAILED',
            `peer is ${nodeId ?? 'not an Ed25519 node'}, expected ${policy.expectedNodeId}`),
          alert: CryptoAlert.BadCertificate,
        };
  }
  if (nodeId === null) {
    return policy.insecure
      ? { nodeId: null }
      : {
          refusal: new OctopiiError('PEER_VERIFICATION_FAILED',
            'peer certificate is not an Ed25519 node certificate (use insecure to admit it)'),
          alert: CryptoAlert.UnsupportedCertificate,
        };
  }
  if (policy.allowPeers && policy.allowPeers.length > 0 && !policy.allowPeers.includes(nodeId)) {
    return { refusal: new OctopiiError('PEER_VERIFICATION_FAILED', `peer ${nodeId} is not in allowPeers`), alert: CryptoAlert.AccessDenied };
  }
  return { nodeId };
}

// ------------------------------------------------------------------------------------------

/** A QUIC bidirectional stream; `readable`/`writable` are the library's own Web Streams. */
class MatrixaiStream implements DuplexStream {
  readonly id: number;
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  constructor(private readonly quic: QUICStream) {
    this.id = quic.streamId;
    this.readable = quic.readable as unknown as ReadableStream<Uint8Array>;
    this.writable = quic.writable as unknown as WritableStream<Uint8Array>;
    // Stream handlers are async; a failure there would otherwise become an uncaught exception.
    quic.addEventListener('EventError', () => {});
  }
  abort(reason?: unknown): void {
    const msg = reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
    cancelStream(this.quic, new OctopiiError('STREAM_ABORTED', `stream aborted: ${msg}`, { cause: reason }));
  }
}

function cancelStream(s: QUICStream, reason: OctopiiError): void {
  try {
    s.cancel(reason);
  } catch {
    // Already shut down in quiche: nothing left to cancel.
  }
}

/** One QUIC connection to a peer. */
class MatrixaiConnection implements PeerConnection {
  closed = false;
  private streamHandler: ((s: DuplexStream) => void) | undefined;
  private queued: QUICStream[] = [];
  private closeHandlers: ((e?: Error) => void)[] = [];
  private closeError: OctopiiError | undefined;
  private localClose = false;
  private stopping: Promise<void> | undefined;
  /** Set when our own verifyCallback refused (client side): reported instead of the library's error. */
  refusal: OctopiiError | undefined;

  constructor(
    readonly quic: QUICConnection,
    readonly remoteNodeId: string | null,
    readonly direction: 'inbound' | 'outbound',
    readonly protocol: ConnectionProtocol,
    private readonly client: QUICClient | undefined,
    private readonly onClosed: (c: MatrixaiConnection) => void,
  ) {
    quic.addEventListener('EventError', () => {});
    client?.addEventListener('EventError', () => {});
    quic.addEventListener(quicEvents.EventQUICConnectionError.name, (evt: Event) =>
      this.fail((evt as quicEvents.EventQUICConnectionError).detail),
    );
    if (quic.closed) queueMicrotask(() => this.fail(new quicErrors.ErrorQUICConnectionClosed()));
  }

  get remoteAddress(): string {
    return formatAddress(plainHost(this.quic.remoteHost), this.quic.remotePort);
  }

  /** A stream the peer opened (delivered now or when a handler is set). */
  deliver(s: QUICStream): void {
    if (this.closed) return void cancelStream(s, this.closeError ?? new OctopiiError('CONNECTION_CLOSED', 'connection closed'));
    if (this.streamHandler) this.streamHandler(new MatrixaiStream(s));
    else this.queued.push(s);
  }

  onStream(handler: (stream: DuplexStream) => void): void {
    this.streamHandler = handler;
    const q = this.queued;
    this.queued = [];
    for (const s of q) this.deliver(s);
  }

  onClose(handler: (error?: Error) => void): void {
    if (this.closed) queueMicrotask(() => handler(this.closeError));
    else this.closeHandlers.push(handler);
  }

  /**
   * Opens a bidirectional stream. The peer sees it (onStream) only once a first byte is written.
   * Waits with backoff while the peer's stream limit is reached.
   * Throws STREAM_LIMIT, CONNECTION_CLOSED, ABORTED.
   */
  async openStream(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<DuplexStream> {
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS);
    let delay = 2;
    for (;;) {
      if (this.closed) throw this.closeError ?? new OctopiiError('CONNECTION_CLOSED', 'connection is closed');
      if (options.signal?.aborted) throw new OctopiiError('ABORTED', `openStream aborted: ${String(options.signal.reason ?? '')}`);
      const q = internals(this.quic);
      if (q.conn.peerStreamsLeftBidi() > 0) {
        const client = this.quic.type === 'client';
        const sid = client ? q.streamIdClientBidi : q.streamIdServerBidi;
        try {
          return new MatrixaiStream(this.quic.newStream('bidi'));
        } catch (e) {
          if (!(e instanceof quicErrors.ErrorQUICStreamLimit)) {
            if (this.closed) throw this.closeError ?? new OctopiiError('CONNECTION_CLOSED', 'connection is closed');
            throw new OctopiiError('CONNECTION_CLOSED', `cannot open a stream: ${(e as Error).message}`, { cause: e });
          }
          // newStream marked the id as used before failing; un-mark it so a retry can reuse it.
          if (client && q.streamIdUsedClientBidi === sid) q.streamIdUsedClientBidi = sid - 4;
          else if (!client && q.streamIdUsedServerBidi === sid) q.streamIdUsedServerBidi = sid - 4;
          else q.streamIdUsedSet.delete(sid);
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new OctopiiError('STREAM_LIMIT', 'peer stream limit reached and did not clear in time');
      await sleep(Math.min(delay, left));
      delay = Math.min(delay * 2, 100);
    }
  }

  /** The connection ended with a library error (peer close, refusal, idle timeout, local close). */
  fail(e: unknown): void {
    if (this.closed) return;
    this.closed = true;
    const err = this.localClose ? undefined : mapConnectionError(e, this.refusal);
    this.closeError = err;
    // Cancel the open streams with the typed error before the library destroys them with its own.
    const reason = err ?? new OctopiiError('CONNECTION_CLOSED', 'connection closed locally');
    for (const s of internals(this.quic).streamMap.values()) cancelStream(s, reason);
    for (const s of this.queued) cancelStream(s, reason);
    this.queued = [];
    // Let the library finish its own teardown; our close() awaits it.
    this.stopping ??= this.teardown();
    this.onClosed(this);
    const handlers = this.closeHandlers;
    this.closeHandlers = [];
    for (const h of handlers) {
      try {
        h(err);
      } catch {
        // A close handler's failure must not break the transport.
      }
    }
  }

  /**
   * Stops the library connection, bounded (at most CLOSE_GRACE_MS + ABANDON_MS). Its closing
   * period (3 × PTO, RFC 9000 §10.2) can last seconds when the peer went away at the same
   * moment (e.g. both sides close right after the handshake, or the peer process exited right
   * after answering); after CLOSE_GRACE_MS we stop waiting: the CONNECTION_CLOSE was sent, only
   * its retransmission is given up, and the library's timers are cancelled so none of them
   * keeps the process alive.
   */
  private async teardown(): Promise<void> {
    const stop = (this.client ? this.client.destroy({ force: true }) : this.quic.stop({ force: true })).catch(() => {});
    await withGrace(stop, CLOSE_GRACE_MS, () => abandon(this.quic));
  }

  async close(_reason?: string): Promise<void> {
    if (!this.closed) {
      this.localClose = true;
      this.fail(undefined);
    }
    await this.stopping;
  }
}

// ------------------------------------------------------------------------------------------

/**
 * Transport on @matrixai/quic. Create with {@link MatrixaiTransport.create}, then `listen` (optional
 * for a pure client) and `dial`.
 */
export class MatrixaiTransport implements Transport {
  readonly kind = 'matrixai' as const;
  readonly nodeId: string;
  private socket: QUICSocket | undefined;
  private socketStarting: Promise<QUICSocket> | undefined;
  private server: QUICServer | undefined;
  private listenAddress: string | undefined;
  private connectionHandler: ((c: PeerConnection) => void) | undefined;
  private readonly open = new Set<MatrixaiConnection>();
  /** Inbound connections that arrived before `onConnection`. */
  private unclaimed: MatrixaiConnection[] = [];
  /** Server-side connections whose streams arrived before the connection was wrapped. */
  private readonly early = new Map<QUICConnection, QUICStream[]>();
  private readonly wrapped = new WeakMap<QUICConnection, MatrixaiConnection>();
  private readonly background = new Set<Promise<unknown>>();
  private readonly shutdown = new AbortController();
  private closing: Promise<void> | undefined;

  private readonly liveness: { keepAliveMs: number; idleTimeoutMs: number };

  private constructor(
    private readonly options: MatrixaiTransportOptions,
    private readonly cert: NodeCertificate,
  ) {
    this.nodeId = options.identity.nodeId;
    this.liveness = livenessTimes(options);
  }

  /**
   * Creates a transport for `options.identity` (its TLS certificate is made here). Nothing is
   * bound until `listen` or the first `dial`.
   */
  static async create(options: MatrixaiTransportOptions): Promise<MatrixaiTransport> {
    return new MatrixaiTransport(options, await createNodeCertificate(options.identity));
  }

  get address(): string | undefined {
    return this.listenAddress;
  }

  onConnection(handler: (connection: PeerConnection) => void): void {
    this.connectionHandler = handler;
    const waiting = this.unclaimed;
    this.unclaimed = [];
    for (const c of waiting) if (!c.closed) handler(c);
  }

  connections(): PeerConnection[] {
    return [...this.open];
  }

  /** Library config shared by server and clients; `alpns` in preference order. */
  private baseConfig(loopback: boolean, alpns: string[]) {
    return {
      key: this.cert.keyPem,
      cert: this.cert.certPem,
      verifyPeer: true,
      applicationProtos: alpns,
      readableChunkSize: READABLE_CHUNK_BYTES,
      initialMaxStreamsBidi: this.options.maxStreams ?? 1000,
      initialMaxStreamsUni: 0,
      maxIdleTimeout: this.liveness.idleTimeoutMs,
      keepAliveIntervalTime: this.liveness.keepAliveMs,
      ...(loopback ? { maxSendUdpPayloadSize: LOOPBACK_DATAGRAM_BYTES, maxRecvUdpPayloadSize: LOOPBACK_DATAGRAM_BYTES } : {}),
      ...this.options.quicConfig,
    };
  }

  /** Starts the node's single UDP socket on `host:port` and applies the buffer tuning. */
  private async startSocket(host: string, port: number): Promise<QUICSocket> {
    const socket = new QUICSocket({ logger: silentLogger as never });
    try {
      await socket.start({ host, port });
    } catch (e) {
      throw new OctopiiError('INVALID_ARGUMENT', `cannot bind UDP ${formatAddress(host, port)}: ${(e as Error).message}`, { cause: e });
    }
    socket.addEventListener('EventError', () => {});
    const dgram = (socket as unknown as SocketInternals).socket;
    try {
      dgram.setRecvBufferSize(UDP_BUFFER_BYTES);
      dgram.setSendBufferSize(UDP_BUFFER_BYTES);
    } catch {
      // The kernel caps these at net.core.{r,w}mem_max; a failure only costs speed.
    }
    return socket;
  }

  /** The socket for outbound dials: the listening one, or a dual-stack ephemeral one. */
  private async clientSocket(): Promise<QUICSocket> {
    if (this.socket) return this.socket;
    this.socketStarting ??= (async () => {
      let s: QUICSocket;
      try {
        s = await this.startSocket('::', 0);
      } catch {
        s = await this.startSocket('0.0.0.0', 0); // no IPv6 on this host
      }
      this.socket = s;
      return s;
    })();
    return this.socketStarting;
  }

  /**
   * Binds the node's UDP socket on `options.address` and accepts connections. Returns the bound
   * address (`host:port`, IPv6 in brackets). Throws INVALID_ARGUMENT (bad address, bind failed,
   * already listening or already dialling), CLOSED.
   */
  async listen(options: ListenOptions): Promise<{ address: string }> {
    if (this.closing) throw new OctopiiError('CLOSED', 'transport is closed');
    if (this.server || this.socketStarting) {
      throw new OctopiiError('INVALID_ARGUMENT', 'listen must be called once, before any dial (one UDP socket per node)');
    }
    const { host, port } = parseAddress(options.address);
    const starting = this.startSocket(host, port);
    this.socketStarting = starting;
    const socket = await starting;
    this.socket = socket;
    const loopback = this.options.loopback ?? isLoopbackHost(host);
    const server = new QUICServer({
      socket,
      crypto: serverCrypto(),
      config: {
        ...this.baseConfig(loopback, [ALPN.octopii, ALPN['lane-v1']]),
        verifyCallback: async (certs: Uint8Array[]) => {
          const verdict = judgePeer(certs, { allowPeers: this.options.allowPeers, insecure: this.options.insecure });
          return 'refusal' in verdict ? verdict.alert : undefined;
        },
      } as never,
      minIdleTimeout: SERVER_HANDSHAKE_TIMEOUT_MS,
      reasonToCode: reasonToCode,
      codeToReason: codeToReason,
      logger: silentLogger as never,
    });
    server.addEventListener('EventError', () => {});
    server.addEventListener(quicEvents.EventQUICServerError.name, () => {});
    // Streams of server connections are re-dispatched here; one may arrive before the connection
    // is announced, so streams of unknown connections wait in `early`.
    server.addEventListener(quicEvents.EventQUICConnectionStream.name, (evt: Event) => {
      const s = (evt as quicEvents.EventQUICConnectionStream).detail;
      const qc = (s as unknown as { connection: QUICConnection }).connection;
      const c = this.wrapped.get(qc);
      if (c) return c.deliver(s);
      let list = this.early.get(qc);
      if (!list) this.early.set(qc, (list = []));
      list.push(s);
    });
    server.addEventListener(quicEvents.EventQUICServerConnection.name, (evt: Event) =>
      this.accept((evt as quicEvents.EventQUICServerConnection).detail),
    );
    await server.start();
    this.server = server;
    this.listenAddress = formatAddress(plainHost(socket.host), socket.port);
    return { address: this.listenAddress };
  }

  /** An inbound connection passed our verifyCallback and the handshake. */
  private accept(qc: QUICConnection): void {
    const early = this.early.get(qc) ?? [];
    this.early.delete(qc);
    if (this.closing) {
      void qc.stop({ force: true }).catch(() => {});
      return;
    }
    let nodeId: string | null = null;
    try {
      nodeId = nodeIdFromCertificate(qc.getRemoteCertsChain()[0] ?? new Uint8Array());
    } catch {
      nodeId = null; // only reachable under insecure (verifyCallback already judged it)
    }
    const alpn = new TextDecoder().decode(internals(qc).conn.applicationProto());
    const protocol = protocolOfAlpn(alpn);
    if (protocol === undefined) {
      // Unreachable: quiche only completes a handshake on an ALPN we offered.
      void qc.stop({ force: true }).catch(() => {});
      return;
    }
    const c = this.track(new MatrixaiConnection(qc, nodeId, 'inbound', protocol, undefined, (x) => this.forget(x)));
    this.wrapped.set(qc, c);
    for (const s of early) c.deliver(s);
    if (this.connectionHandler) this.connectionHandler(c);
    else this.unclaimed.push(c);
  }

  private track(c: MatrixaiConnection): MatrixaiConnection {
    this.open.add(c);
    return c;
  }

  private forget(c: MatrixaiConnection): void {
    this.open.delete(c);
    this.unclaimed = this.unclaimed.filter((x) => x !== c);
    const p = c.close();
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  /**
   * Opens a new connection to `address` (`host:port`, an IP) offering the one ALPN of
   * `options.protocol` (default the transport's `dialProtocol`, else `'octopii'`). Throws
   * CONNECT_TIMEOUT (default 5,000 ms), CONNECTION_REFUSED, PEER_VERIFICATION_FAILED,
   * TRANSPORT_MISMATCH (the peer does not speak that ALPN), ABORTED, CLOSED, INVALID_ARGUMENT.
   */
  async dial(address: string, options: DialOptions = {}): Promise<PeerConnection> {
    if (this.closing) throw new OctopiiError('CLOSED', 'transport is closed');
    const { host, port } = parseAddress(address);
    if (isIP(host) === 0) throw new OctopiiError('INVALID_ARGUMENT', `dial needs an IP address, got "${host}"`);
    return this.connect(host, port, formatAddress(host, port), options);
  }

  private async connect(host: string, port: number, target: string, options: DialOptions): Promise<MatrixaiConnection> {
    const socket = await this.clientSocket();
    if (this.closing) throw new OctopiiError('CLOSED', 'transport is closed');
    const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const ctl = new AbortController();
    const timer = setTimeout(
      () => ctl.abort(new OctopiiError('CONNECT_TIMEOUT', `connect to ${target} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onAbort = () => ctl.abort(new OctopiiError('ABORTED', `dial aborted: ${String(options.signal?.reason ?? '')}`));
    const onShutdown = () => ctl.abort(new OctopiiError('CLOSED', 'transport closed while dialling'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    this.shutdown.signal.addEventListener('abort', onShutdown, { once: true });
    if (options.signal?.aborted) onAbort();

    let verdict: ReturnType<typeof judgePeer> | undefined;
    // Our own refusal is final at once; the library only rejects after its draining period.
    let refused: (e: OctopiiError) => void = () => {};
    const refusedP = new Promise<{ error: unknown }>((resolve) => (refused = (error) => resolve({ error })));
    const loopback = this.options.loopback ?? isLoopbackHost(host);
    const protocol = options.protocol ?? this.options.dialProtocol ?? 'octopii';
    const alpn = ALPN[protocol];
    const creating = QUICClient.createQUICClient(
      {
        host,
        port,
        // SNI must be a DNS name, not an IP (RFC 6066 §3); rustls peers refuse IPs. Identity is
        // checked in verifyCallback from the certificate key, so the name itself is not trusted.
        serverName: options.expectedNodeId?.toLowerCase() ?? 'octopii',
        socket,
        crypto: clientCrypto,
        config: {
          ...this.baseConfig(loopback, [alpn]),
          verifyCallback: async (certs: Uint8Array[]) => {
            verdict = judgePeer(certs, {
              expectedNodeId: options.expectedNodeId,
              allowPeers: this.options.allowPeers,
              insecure: this.options.insecure,
            });
            if ('refusal' in verdict) {
              refused(verdict.refusal);
              return verdict.alert;
            }
            return undefined;
          },
        } as never,
        reasonToCode,
        codeToReason,
        logger: silentLogger as never,
      },
      { signal: ctl.signal },
    );
    // The library keeps cleaning up after a failed start (draining); don't make the caller wait
    // for that, but make close() wait for it.
    const settled = (creating as Promise<QUICClient>).then(
      (client) => ({ client }),
      (error: unknown) => ({ error }),
    );
    this.background.add(settled);
    void settled.finally(() => this.background.delete(settled));
    const aborted = new Promise<{ error: unknown }>((resolve) => {
      if (ctl.signal.aborted) resolve({ error: ctl.signal.reason });
      else ctl.signal.addEventListener('abort', () => resolve({ error: ctl.signal.reason }), { once: true });
    });
    let outcome: { client: QUICClient } | { error: unknown };
    try {
      outcome = await Promise.race([settled, aborted, refusedP]);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      this.shutdown.signal.removeEventListener('abort', onShutdown);
    }
    if ('error' in outcome) {
      // A late success after we gave up must not leak a connection.
      void settled.then((o) => ('client' in o ? o.client.destroy({ force: true }).catch(() => {}) : undefined));
      const e = outcome.error;
      if (e instanceof OctopiiError) throw e;
      if (verdict && 'refusal' in verdict) throw verdict.refusal;
      if (e instanceof quicErrors.ErrorQUICClientInvalidHost) {
        throw new OctopiiError('CONNECTION_REFUSED', `cannot reach ${target} from a socket bound to ${socket.host}: ${e.message}`, { cause: e });
      }
      const mapped = mapConnectionError(e, undefined, alpn);
      if (mapped.code === 'CONNECTION_CLOSED') {
        throw new OctopiiError('CONNECTION_REFUSED', `connect to ${target} failed: ${mapped.message}`, { cause: e });
      }
      throw mapped;
    }
    const client = outcome.client;
    const nodeId = verdict && 'nodeId' in verdict ? verdict.nodeId : null;
    if (this.closing) {
      await client.destroy({ force: true }).catch(() => {});
      throw new OctopiiError('CLOSED', 'transport closed while dialling');
    }
    const qc = client.connection;
    const c = new MatrixaiConnection(qc, nodeId, 'outbound', protocol, client, (x) => this.forget(x));
    qc.addEventListener(quicEvents.EventQUICConnectionStream.name, (evt: Event) =>
      c.deliver((evt as quicEvents.EventQUICConnectionStream).detail),
    );
    this.track(c);
    return c;
  }

  /** Closes every connection, the server and the socket; idempotent. Pending dials reject CLOSED. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.shutdown.abort();
    const work = (async () => {
      await Promise.all([...this.open].map((c) => c.close()));
      await Promise.allSettled([...this.background]);
      if (this.socketStarting) await this.socketStarting.catch(() => undefined);
      await this.server?.stop({ force: true }).catch(() => {});
    })();
    // Half-open handshakes (a peer that went away at the same moment) would hold us for their
    // whole closing period: after the grace, end them.
    await withGrace(work, CLOSE_GRACE_MS, () => {
      // (QUICConnectionMap.values() never ends in 2.0.9: use its two plain maps.)
      const map = (this.socket as unknown as { connectionMap?: ConnectionMapInternals } | undefined)?.connectionMap;
      for (const qc of map?.serverConnections.values() ?? []) abandon(qc);
      for (const qc of map?.clientConnections.values() ?? []) abandon(qc);
    });
    const socket = this.socket;
    if (socket) {
      const stopping = socket.stop({ force: true }).catch(() => {}); // rejects when already stopped
      if (!(await settledWithin(stopping, ABANDON_MS))) {
        // Never wait on the library here: release the UDP handle ourselves.
        try {
          (socket as unknown as SocketInternals).socket.close();
        } catch {
          // already closed
        }
      }
    }
    this.unclaimed = [];
    this.early.clear();
  }
}

/** Stream reset code for a local cancel reason (sent to the peer). */
function reasonToCode(_type: 'read' | 'write', reason?: unknown): number {
  return reason instanceof OctopiiError && reason.code === 'CONNECTION_CLOSED' ? StreamCode.CONNECTION_CLOSED : StreamCode.ABORTED;
}

/** The error a stream read/write rejects with when the peer resets / stops it. */
function codeToReason(type: 'read' | 'write', code: number): OctopiiError {
  const code_: OctopiiErrorCode = code === StreamCode.CONNECTION_CLOSED ? 'CONNECTION_CLOSED' : 'STREAM_ABORTED';
  return new OctopiiError(code_, `peer ${type === 'read' ? 'reset' : 'stopped'} the stream (code ${code})`);
}
