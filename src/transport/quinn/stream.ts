/**
 * One bidirectional quinn stream as Web Streams (see QuinnTransport's file comment for what the
 * binding's `Stream` implies: per-call allocation of the read size, one mutex per direction).
 */
import { OctopiiError } from '../../errors.js';
import type { DuplexStream } from '../types.js';
import type { NativeStream } from './binding.js';
import { Cancel } from './cancel.js';
import type { QuinnConnection } from './connection.js';

/**
 * Read sizes (bytes): the binding allocates the full size per `read(n)`, so they adapt. The
 * floor is small because an rpc stream's reads are small (a few frames): at 16 KiB each read
 * of ~1 KiB allocated 16 KiB, and the garbage collector took a fifth of an RPC benchmark's CPU
 * (bench/rpc-profile.ts); a bulk stream doubles its way up to MAX_READ within a few reads.
 * The ceiling is 256 KiB, not 1 MiB: every read is a fresh external buffer of that size that
 * lives until the next scavenge, and a receiving `octopii serve` grew ~5 MiB less with 256 KiB
 * (`npm run bench:memory`, 1 GiB: 44–45 → 39–40 MiB), at the same throughput.
 */
const MIN_READ = 2 << 10;
const MAX_READ = 256 << 10;

/**
 * One bidirectional quinn stream as Web Streams. Reads pull adaptive chunks (2–256 KiB, one
 * chunk buffered ahead); writes resolve once quinn has taken the bytes into its send buffer
 * (bounded by the peer's flow-control window), which is the backpressure. Chunks written must
 * not be modified until their write resolves.
 */
export class QuinnStream implements DuplexStream {
  readonly id: number;
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  #native: NativeStream;
  #conn: QuinnConnection;
  #cancel = new Cancel();
  #readCtl!: ReadableStreamDefaultController<Uint8Array>;
  #writeCtl!: WritableStreamDefaultController;
  #readDone = false;
  #writeDone = false;
  #readSize = MIN_READ;

  constructor(native: NativeStream, conn: QuinnConnection, id: number) {
    this.#native = native;
    this.#conn = conn;
    this.id = id;
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.#readCtl = c;
        },
        pull: (c) => this.#pull(c),
        cancel: () => {
          this.#readDone = true;
          if (!this.#cancel.error) void this.#native.stopRead().catch(() => {});
          this.#settled();
        },
      },
      { highWaterMark: 1 },
    );
    this.writable = new WritableStream<Uint8Array>(
      {
        start: (c) => {
          this.#writeCtl = c;
        },
        write: (chunk) => this.#write(chunk),
        close: async () => {
          this.#writeDone = true;
          try {
            await this.#cancel.wrap(this.#native.finishWrite());
          } finally {
            this.#settled();
          }
        },
        abort: () => {
          this.#writeDone = true;
          if (!this.#cancel.error) void this.#native.resetWrite().catch(() => {});
          this.#settled();
        },
      },
      { highWaterMark: 1 },
    );
  }

  async #pull(c: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    let chunk: Uint8Array | null;
    try {
      chunk = await this.#cancel.wrap(this.#native.read(this.#readSize));
    } catch (e) {
      const err = this.#cancel.error ?? this.#conn.streamError(e);
      // A peer reset ends the stream both ways (DuplexStream.abort resets both directions).
      if (err.code === 'STREAM_ABORTED' && !this.#cancel.error) return this.#fail(err, false);
      if (this.#readDone) return;
      this.#readDone = true;
      c.error(err);
      this.#settled();
      return;
    }
    if (this.#readDone) return; // cancelled or aborted while the native read was pending
    if (chunk === null) {
      this.#readDone = true;
      c.close();
      this.#settled();
      return;
    }
    // Adapt the next read size: the binding allocates the full size per call.
    if (chunk.byteLength === this.#readSize) this.#readSize = Math.min(this.#readSize * 2, MAX_READ);
    else if (chunk.byteLength < this.#readSize >> 2) this.#readSize = Math.max(this.#readSize >> 1, MIN_READ);
    c.enqueue(chunk);
  }

  async #write(chunk: Uint8Array): Promise<void> {
    if (chunk.byteLength === 0) return;
    try {
      await this.#cancel.wrap(this.#native.write(chunk));
    } catch (e) {
      const err = this.#cancel.error ?? this.#conn.streamError(e);
      if (err.code === 'STREAM_ABORTED' && !this.#cancel.error) this.#fail(err, false);
      else {
        this.#writeDone = true;
        this.#settled();
      }
      throw err;
    }
  }

  /** Both directions are over: the connection need not track this stream any more. */
  #settled(): void {
    if (this.#readDone && this.#writeDone) this.#conn.forget(this);
  }

  /** Errors both Web Streams with `err`; resets the native directions still open. */
  #fail(err: OctopiiError, local: boolean): void {
    if (this.#cancel.error) return;
    this.#cancel.fire(err);
    if (!this.#readDone) {
      this.#readDone = true;
      try {
        this.#readCtl.error(err);
      } catch {
        /* already closed */
      }
      void this.#native.stopRead().catch(() => {});
    }
    if (!this.#writeDone) {
      this.#writeDone = true;
      try {
        this.#writeCtl.error(err);
      } catch {
        /* already closed */
      }
      void this.#native.resetWrite().catch(() => {});
    } else if (local) {
      // Finished but maybe not yet delivered: reset anyway so the peer sees the abort.
      void this.#native.resetWrite().catch(() => {});
    }
    this.#conn.forget(this);
  }

  /** Resets both directions; pending and later reads/writes reject with STREAM_ABORTED. */
  abort(reason?: unknown): void {
    const why = reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
    this.#fail(new OctopiiError('STREAM_ABORTED', `stream ${this.id} aborted locally: ${why}`, { cause: reason }), true);
  }

  /** Connection went away: fail whatever is still pending with `err`. */
  connectionClosed(err: OctopiiError): void {
    this.#fail(err, false);
  }
}
