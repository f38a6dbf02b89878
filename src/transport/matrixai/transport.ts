/**
 * Transport on @matrixai/quic 2.0.9 (DESIGN.md §1 "Transport").
 *
 * - ONE UDP socket per node (`QUICSocket`), shared by the node's `QUICServer` and every
 *   outbound `QUICClient` (the library's injected-socket mode).
 * - TLS: the certificate is made from the node's Ed25519 identity (`createNodeCertificate`);
 *   both sides check the peer's certificate in `verifyCallback` with `nodeIdFromCertificate`
 *   (client: the dialled `expectedNodeId`, else `allowPeers`, else any Ed25519 peer; server:
 *   `allowPeers`, else any Ed25519 peer). With `insecure`, a peer whose certificate is not an
 *   Ed25519 self-signed one (seed 001 v1 interop: any QUIC stack, ALPN `octopii`, any
 *   self-signed certificate) is admitted with `remoteNodeId === null`. A client that presents no
 *   certificate is refused by the library's TLS layer (`certificate_required`), except under
 *   `insecure` on the seed's ALPN: a client that offers only `octopii` (e.g. the seed's Rust
 *   Octopii, which has no client certificate) is not asked for one and is admitted as a
 *   `lane-v1` connection with `remoteNodeId === null` (clientAuth.ts).
 * - Listen, dial (./dial.ts), accept only: every dial makes a new connection, every inbound
 *   connection goes to `onConnection`; nothing is pooled.
 * - ALPN says what a connection carries (`PeerConnection.protocol`): the server offers
 *   `octopii/2` (octopii's own protocol) and `octopii` (seed 001, raw Shipping Lane v1); a
 *   client offers exactly the one its dial asks for; the negotiated one (quiche's
 *   `applicationProto()`) sets `protocol` on both sides.
 * - Liveness: keep-alive PINGs every `keepAliveMs` and an idle timeout of `idleTimeoutMs`
 *   (library `keepAliveIntervalTime` / `maxIdleTimeout`), so a killed peer closes the
 *   connection within `idleTimeoutMs` (4 s by default).
 * - Tuning from measured facts about the library: 4 MiB UDP buffers, 64 KiB readable chunks, 32 KiB
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
import { isIP } from 'node:net';
import { QUICServer, QUICSocket, events as quicEvents } from '@matrixai/quic';
import type QUICConnection from '@matrixai/quic/QUICConnection.js';
import type QUICStream from '@matrixai/quic/QUICStream.js';
import { OctopiiError } from '../../errors.js';
import { createNodeCertificate, nodeIdFromCertificate, type NodeCertificate } from '../certificate.js';
import { formatAddress, isLoopbackHost, parseAddress } from '../address.js';
import { livenessTimes, type DialOptions, type ListenOptions, type PeerConnection, type Transport, type TransportOptions } from '../types.js';
import { ALPN, protocolOfAlpn } from './alpn.js';
import { serverCrypto } from './crypto.js';
import { codeToReason, reasonToCode } from './errors.js';
import { internals, plainHost, silentLogger, type ConnectionMapInternals, type SocketInternals } from './internals.js';
import { judgePeer } from './policy.js';
import { admitLaneV1WithoutCertificate } from './clientAuth.js';
import { MatrixaiConnection } from './connection.js';
import { dialQuic, type DialHost } from './dial.js';
import { ABANDON_MS, CLOSE_GRACE_MS, abandon, settledWithin, withGrace } from './teardown.js';

/** Options of {@link MatrixaiTransport.create}. */
export interface MatrixaiTransportOptions extends TransportOptions {
  /** Bidirectional streams the peer may open at once (default 1,000). */
  maxStreams?: number;
  /** Raw @matrixai/quic `QUICConfig` overrides (measurement only; e.g. flow-control windows in bytes). */
  quicConfig?: Record<string, unknown>;
}


// ------------------------------------------------------------------------------------------
// Tuning (measured facts about @matrixai/quic 2.0.9; bench/README.md).

const UDP_BUFFER_BYTES = 4 * 1024 * 1024;
const READABLE_CHUNK_BYTES = 64 * 1024;
const LOOPBACK_DATAGRAM_BYTES = 32 * 1024;
/** An inbound handshake that has not finished after this long is dropped. */
const SERVER_HANDSHAKE_TIMEOUT_MS = 10_000;

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
  /** What an outbound dial (./dial.ts) needs from the transport. */
  private readonly dialHost: DialHost;

  private constructor(
    private readonly options: MatrixaiTransportOptions,
    private readonly cert: NodeCertificate,
  ) {
    this.nodeId = options.identity.nodeId;
    this.liveness = livenessTimes(options);
    this.dialHost = {
      options,
      shutdown: this.shutdown.signal,
      background: this.background,
      closing: () => this.closing !== undefined,
      clientSocket: () => this.clientSocket(),
      baseConfig: (loopback, alpns) => this.baseConfig(loopback, alpns),
      track: (c) => this.track(c),
      forget: (c) => this.forget(c),
    };
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
    if (this.options.insecure) admitLaneV1WithoutCertificate(server);
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
    const alpn = new TextDecoder().decode(internals(qc).conn.applicationProto());
    const protocol = protocolOfAlpn(alpn);
    const leaf = qc.getRemoteCertsChain()[0];
    // Unreachable both: quiche only completes a handshake on an ALPN we offered, and a client is
    // only let in without a certificate under insecure on the seed's ALPN (clientAuth.ts).
    if (protocol === undefined || (leaf === undefined && !(this.options.insecure && protocol === 'lane-v1'))) {
      void qc.stop({ force: true }).catch(() => {});
      return;
    }
    let nodeId: string | null = null;
    try {
      nodeId = leaf === undefined ? null : nodeIdFromCertificate(leaf);
    } catch {
      nodeId = null; // only reachable under insecure (verifyCallback already judged it)
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
    return dialQuic(this.dialHost, host, port, formatAddress(host, port), options);
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
