/**
 * An outbound connection on @matrixai/quic (the transport's `dial`, ./transport.ts): a
 * `QUICClient` on the node's shared UDP socket offering exactly one ALPN, the server's
 * certificate judged in `verifyCallback` (policy.ts: the expected node ID, else `allowPeers`,
 * else any Ed25519 peer; `insecure` admits seed v1 peers), SNI a DNS name (RFC 6066 §3), a
 * connect timeout (default 5,000 ms) and the caller's signal. Our own refusal fails the dial at
 * once; the library's errors are mapped to OctopiiError codes (errors.ts); a client that
 * connects after the dial gave up is destroyed, and the library's clean-up after a failed start
 * is kept for `close()` to wait on.
 */
import { QUICClient, errors as quicErrors, events as quicEvents, type QUICSocket } from '@matrixai/quic';
import { OctopiiError } from '../../errors.js';
import { isLoopbackHost } from '../address.js';
import type { DialOptions } from '../types.js';
import { ALPN } from './alpn.js';
import { MatrixaiConnection } from './connection.js';
import { clientCrypto } from './crypto.js';
import { codeToReason, mapConnectionError, reasonToCode } from './errors.js';
import { silentLogger } from './internals.js';
import { judgePeer } from './policy.js';
import type { MatrixaiTransportOptions } from './transport.js';

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/** What a dial needs from the transport. */
export interface DialHost {
  readonly options: MatrixaiTransportOptions;
  /** Fires when the transport closes: a dial under way rejects CLOSED. */
  readonly shutdown: AbortSignal;
  /** Work `close()` waits for (the library's clean-up after a failed start). */
  readonly background: Set<Promise<unknown>>;
  /** True once the transport started closing. */
  closing(): boolean;
  /** The socket for outbound dials (the listening one, or an ephemeral one). */
  clientSocket(): Promise<QUICSocket>;
  /** Library config shared by server and clients; `alpns` in preference order. */
  baseConfig(loopback: boolean, alpns: string[]): Record<string, unknown>;
  /** Counts a connection among the open ones. */
  track(c: MatrixaiConnection): MatrixaiConnection;
  /** Drops a closed connection from the open ones. */
  forget(c: MatrixaiConnection): void;
}

/**
 * Connects to `host:port` (`target` names it in errors). Throws CONNECT_TIMEOUT,
 * CONNECTION_REFUSED, PEER_VERIFICATION_FAILED, TRANSPORT_MISMATCH, ABORTED, CLOSED.
 */
export async function dialQuic(t: DialHost, host: string, port: number, target: string, options: DialOptions): Promise<MatrixaiConnection> {
  const socket = await t.clientSocket();
  if (t.closing()) throw new OctopiiError('CLOSED', 'transport is closed');
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const ctl = new AbortController();
  const timer = setTimeout(
    () => ctl.abort(new OctopiiError('CONNECT_TIMEOUT', `connect to ${target} timed out after ${timeoutMs} ms`)),
    timeoutMs,
  );
  const onAbort = () => ctl.abort(new OctopiiError('ABORTED', `dial aborted: ${String(options.signal?.reason ?? '')}`));
  const onShutdown = () => ctl.abort(new OctopiiError('CLOSED', 'transport closed while dialling'));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  t.shutdown.addEventListener('abort', onShutdown, { once: true });
  if (options.signal?.aborted) onAbort();

  let verdict: ReturnType<typeof judgePeer> | undefined;
  // Our own refusal is final at once; the library only rejects after its draining period.
  let refused: (e: OctopiiError) => void = () => {};
  const refusedP = new Promise<{ error: unknown }>((resolve) => (refused = (error) => resolve({ error })));
  const loopback = t.options.loopback ?? isLoopbackHost(host);
  const protocol = options.protocol ?? t.options.dialProtocol ?? 'octopii';
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
        ...t.baseConfig(loopback, [alpn]),
        verifyCallback: async (certs: Uint8Array[]) => {
          verdict = judgePeer(certs, {
            expectedNodeId: options.expectedNodeId,
            allowPeers: t.options.allowPeers,
            insecure: t.options.insecure,
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
  t.background.add(settled);
  void settled.finally(() => t.background.delete(settled));
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
    t.shutdown.removeEventListener('abort', onShutdown);
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
  if (t.closing()) {
    await client.destroy({ force: true }).catch(() => {});
    throw new OctopiiError('CLOSED', 'transport closed while dialling');
  }
  const qc = client.connection;
  const c = new MatrixaiConnection(qc, nodeId, 'outbound', protocol, client, (x) => t.forget(x));
  qc.addEventListener(quicEvents.EventQUICConnectionStream.name, (evt: Event) =>
    c.deliver((evt as quicEvents.EventQUICConnectionStream).detail),
  );
  t.track(c);
  return c;
}
