/** One quinn connection to a peer: its streams, its close, its peer's stream accept loop. */
import { OctopiiError } from '../../errors.js';
import type { ConnectionProtocol, DuplexStream, PeerConnection } from '../types.js';
import type { NativeConnection, NativeStream } from './binding.js';
import { Cancel } from './cancel.js';
import { mapError } from './errors.js';
import { QuinnStream } from './stream.js';
import type { QuinnTransport } from './transport.js';

const DEFAULT_STREAM_TIMEOUT_MS = 10_000;

export class QuinnConnection implements PeerConnection {
  readonly remoteNodeId: string | null;
  readonly remoteAddress: string;
  readonly direction: 'inbound' | 'outbound';
  /** quinn's ALPN is fixed (`libp2p`): always octopii's own protocol. */
  readonly protocol: ConnectionProtocol = 'octopii';
  #native: NativeConnection;
  #transport: QuinnTransport;
  #closed = false;
  #closeError: OctopiiError | undefined;
  #closeHandlers: ((error?: Error) => void)[] = [];
  #streamHandler: ((stream: DuplexStream) => void) | undefined;
  #queued: DuplexStream[] = [];
  #streams = new Set<QuinnStream>();
  /** Fails pending openStream calls when the connection closes. */
  #cancel = new Cancel();

  constructor(native: NativeConnection, transport: QuinnTransport, direction: 'inbound' | 'outbound', remoteNodeId: string | null, remoteAddress: string) {
    this.#native = native;
    this.#transport = transport;
    this.direction = direction;
    this.remoteNodeId = remoteNodeId;
    this.remoteAddress = remoteAddress;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Starts accepting the peer's streams. Call only after the peer passed verification. */
  start(): void {
    void this.#acceptLoop();
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let native: NativeStream;
      try {
        native = await this.#native.inboundStream();
      } catch (e) {
        this.#finish(this.#closed ? undefined : mapError(e, 'stream'));
        return;
      }
      if (this.#closed) {
        void native.resetWrite().catch(() => {});
        void native.stopRead().catch(() => {});
        return;
      }
      const stream = this.#wrap(native, false);
      if (this.#streamHandler) this.#deliver(stream);
      else this.#queued.push(stream);
    }
  }

  #deliver(stream: DuplexStream): void {
    try {
      this.#streamHandler!(stream);
    } catch (e) {
      stream.abort(e);
    }
  }

  /** QUIC stream id from the binding's index: bidi, bit 0 = initiated by the server side. */
  #wrap(native: NativeStream, local: boolean): QuinnStream {
    const index = Number(native.id());
    const serverInitiated = (this.direction === 'inbound') === local;
    const stream = new QuinnStream(native, this, index * 4 + (serverInitiated ? 1 : 0));
    this.#streams.add(stream);
    return stream;
  }

  forget(stream: QuinnStream): void {
    this.#streams.delete(stream);
  }

  /** Error for a failed native read/write on one of our streams. */
  streamError(e: unknown): OctopiiError {
    if (this.#closed) return this.#closeError ?? new OctopiiError('CONNECTION_CLOSED', 'connection closed locally', { cause: e });
    const mapped = mapError(e, 'stream');
    return mapped;
  }

  async openStream(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<DuplexStream> {
    if (this.#closed) throw this.#closedError();
    const timeoutMs = options.timeoutMs ?? DEFAULT_STREAM_TIMEOUT_MS;
    const pending = this.#native.outboundStream();
    let native: NativeStream;
    try {
      native = await this.#cancel.wrap(pending, {
        timeoutMs,
        code: 'STREAM_LIMIT',
        what: `opening a stream to ${this.remoteNodeId ?? this.remoteAddress} (peer's stream limit reached)`,
        signal: options.signal,
      });
    } catch (e) {
      // The native open may still complete later: reset that stream then.
      pending.then(
        (s) => {
          void s.resetWrite().catch(() => {});
          void s.stopRead().catch(() => {});
        },
        () => {},
      );
      if (this.#closed) throw this.#closedError();
      throw mapError(e, 'open');
    }
    if (this.#closed) {
      void native.resetWrite().catch(() => {});
      throw this.#closedError();
    }
    return this.#wrap(native, true);
  }

  #closedError(): OctopiiError {
    return new OctopiiError('CONNECTION_CLOSED', `connection to ${this.remoteNodeId ?? this.remoteAddress} is closed${this.#closeError ? `: ${this.#closeError.message}` : ''}`);
  }

  onStream(handler: (stream: DuplexStream) => void): void {
    this.#streamHandler = handler;
    const queued = this.#queued;
    this.#queued = [];
    for (const s of queued) this.#deliver(s);
  }

  onClose(handler: (error?: Error) => void): void {
    if (this.#closed) queueMicrotask(() => handler(this.#closeError));
    else this.#closeHandlers.push(handler);
  }

  /** Marks the connection closed, fails open streams, fires onClose once. */
  #finish(error: OctopiiError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    this.#transport.forget(this);
    this.#cancel.fire(this.#closedError());
    const streamErr = error ?? new OctopiiError('CONNECTION_CLOSED', 'connection closed locally');
    for (const s of [...this.#streams]) s.connectionClosed(streamErr);
    for (const s of this.#queued) s.abort(streamErr);
    this.#queued = [];
    const handlers = this.#closeHandlers;
    this.#closeHandlers = [];
    for (const h of handlers) {
      try {
        h(error);
      } catch {
        /* a close handler must not break the others */
      }
    }
  }

  async close(_reason?: string): Promise<void> {
    if (this.#closed) return;
    // The binding closes with application code 0 and no reason text; `_reason` stays local.
    this.#native.abort();
    this.#finish(undefined);
  }
}
