/** One @matrixai/quic connection to a peer: its streams (opened with stream-credit backoff), its typed close, bounded teardown. */
import { QUICClient, errors as quicErrors, events as quicEvents } from '@matrixai/quic';
import type QUICConnection from '@matrixai/quic/QUICConnection.js';
import type QUICStream from '@matrixai/quic/QUICStream.js';
import { OctopiiError } from '../../errors.js';
import { formatAddress } from '../address.js';
import type { ConnectionProtocol, DuplexStream, PeerConnection } from '../types.js';
import { mapConnectionError } from './errors.js';
import { internals, plainHost } from './internals.js';
import { MatrixaiStream, cancelStream } from './stream.js';
import { CLOSE_GRACE_MS, abandon, withGrace } from './teardown.js';

const DEFAULT_OPEN_TIMEOUT_MS = 10_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One QUIC connection to a peer. */
export class MatrixaiConnection implements PeerConnection {
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
