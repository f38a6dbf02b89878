/**
 * One `rpc` stream carrying many calls, multiplexed by call ID (docs/PROTOCOL.md "RPC"). Both
 * ends use it: the caller's side (src/rpc/client.ts) and the callee's (src/rpc/server.ts).
 *
 * Reading: a loop reads frames as fast as they come and hands each decoded message to
 * `onMessage`; a call whose consumer is slow never blocks the stream, because per-call credit
 * (src/rpc/flow.ts) bounds what the other side may send. An oversized frame (skipped unread) and
 * a body that is not a valid message are reported per call (`onBadFrame`), the stream goes on.
 *
 * Fairness: after {@link YIELD_EVERY} messages in a row the loop yields a turn of the event loop
 * (setImmediate), so a burst of thousands of calls cannot starve timers and keep-alives (a peer
 * found dead because its pong waited behind our own burst).
 *
 * Writing: messages are encoded at once (TOO_LARGE thrown to the sender) and written in batches —
 * all frames queued in one turn of the event loop go out as one write, each header and body put
 * straight into the batch buffer (Nagle-like coalescing without a timer).
 */
import { OctopiiError, toOctopiiError } from '../errors.js';
import type { DuplexStream } from '../transport/types.js';
import { FrameReader, decodeRpcMessage, encodeRpcBody, writeFrameHeader, type RpcMessage } from '../wire/rpc.js';

/** Messages handled per event-loop turn before the read loop yields. */
export const YIELD_EVERY = 64;

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

export interface ChannelHandlers {
  onMessage(m: RpcMessage): void;
  /** A frame of call `id` was over the limit or not a valid message. */
  onBadFrame(id: number, error: OctopiiError): void;
  /** The stream ended (error undefined: cleanly). Called once. */
  onClose(error: OctopiiError | undefined): void;
}

export class RpcChannel {
  readonly #stream: DuplexStream;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #max: number;
  readonly #h: ChannelHandlers;
  /** Bodies to write and their call IDs (framed when the batch is built). */
  #queue: Uint8Array[] = [];
  #ids: number[] = [];
  #queued = 0;
  #writing = false;
  #closed = false;
  /** Bytes written so far (both directions are counted by the caller if needed). */
  bytesOut = 0;

  constructor(stream: DuplexStream, maxMessageBytes: number, handlers: ChannelHandlers) {
    this.#stream = stream;
    this.#max = maxMessageBytes;
    this.#h = handlers;
    this.#writer = stream.writable.getWriter();
    this.#writer.closed.catch(() => undefined);
    void this.#readLoop(new FrameReader(stream.readable.getReader(), maxMessageBytes));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Frames and queues `m`. Throws TOO_LARGE (nothing sent), CONNECTION_CLOSED after close. */
  send(m: RpcMessage): void {
    if (this.#closed) throw new OctopiiError('CONNECTION_CLOSED', 'rpc stream is closed');
    const body = encodeRpcBody(m, this.#max);
    this.#queue.push(body);
    this.#ids.push(m.id);
    this.#queued += 8 + body.byteLength;
    if (!this.#writing) {
      this.#writing = true;
      queueMicrotask(() => void this.#flush());
    }
  }

  /** Bytes queued and not yet handed to the stream. */
  get queuedBytes(): number {
    return this.#queued;
  }

  /** Resets the stream; every call on it is failed by the owner through `onClose`. */
  abort(error: OctopiiError): void {
    if (this.#closed) return;
    this.#stream.abort(error);
    this.#finish(error);
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const parts = this.#queue;
        const ids = this.#ids;
        this.#queue = [];
        this.#ids = [];
        const buf = new Uint8Array(this.#queued);
        let off = 0;
        for (let i = 0; i < parts.length; i++) {
          const p = parts[i]!;
          writeFrameHeader(buf, off, ids[i]!, p.byteLength);
          buf.set(p, off + 8);
          off += 8 + p.byteLength;
        }
        this.#queued -= buf.byteLength;
        this.bytesOut += buf.byteLength;
        await this.#writer.write(buf);
      }
    } catch (e) {
      this.#finish(toOctopiiError(e, 'STREAM_ABORTED'));
    } finally {
      this.#writing = false;
      if (this.#queue.length > 0 && !this.#closed) {
        this.#writing = true;
        queueMicrotask(() => void this.#flush());
      }
    }
  }

  async #readLoop(reader: FrameReader): Promise<void> {
    try {
      let burst = 0;
      for (;;) {
        if (++burst >= YIELD_EVERY) {
          burst = 0;
          await nextTurn();
        }
        const f = reader.poll() ?? (await reader.next());
        if (f === null) break;
        if ('oversized' in f) {
          this.#h.onBadFrame(f.id, new OctopiiError('TOO_LARGE', `rpc message of ${f.oversized} bytes (max ${this.#max})`));
          continue;
        }
        let m: RpcMessage;
        try {
          m = decodeRpcMessage(f);
        } catch (e) {
          this.#h.onBadFrame(f.id, toOctopiiError(e, 'PROTOCOL_ERROR'));
          continue;
        }
        this.#h.onMessage(m);
      }
      this.#finish(undefined);
    } catch (e) {
      this.#finish(toOctopiiError(e, 'STREAM_ABORTED'));
    }
  }

  #finish(error: OctopiiError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    if (error) this.#stream.abort(error);
    else void this.#writer.close().catch(() => undefined);
    this.#h.onClose(error);
  }
}
