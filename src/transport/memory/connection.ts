import { abortPromise } from '../../errors.js';
import type { ConnectionProtocol, DuplexStream, PeerConnection } from '../types.js';
import { DEFAULT_STREAM_TIMEOUT_MS, err } from './shared.js';
import type { Link } from './link.js';
import { StreamPair } from './streamPair.js';
import type { MemoryTransport } from './transport.js';

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
