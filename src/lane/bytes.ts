/**
 * Exact-length reads over a Web ReadableStream of arbitrary chunks (the network delivers
 * whatever sizes it likes; the lane needs 8 / N / 32 / 1 bytes exactly).
 */
import { OctopiiError, toOctopiiError } from '../errors.js';

export class ByteReader {
  private chunk: Uint8Array | undefined;
  private offset = 0;
  private ended = false;

  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  /** Next bytes available (at most `max`), or undefined at end of stream. Errors → STREAM_ABORTED. */
  private async next(max: number): Promise<Uint8Array | undefined> {
    while (!this.chunk || this.offset >= this.chunk.byteLength) {
      if (this.ended) return undefined;
      let r: Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>;
      try {
        r = await this.reader.read();
      } catch (e) {
        throw toOctopiiError(e, 'STREAM_ABORTED');
      }
      if (r.done) {
        this.ended = true;
        this.chunk = undefined;
        return undefined;
      }
      this.chunk = r.value;
      this.offset = 0;
    }
    const n = Math.min(max, this.chunk.byteLength - this.offset);
    const out = this.chunk.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /**
   * The next bytes the stream has (at most `max`), as a view of the chunk the readable handed
   * out — no copy; the caller may keep it (a readable's chunks are the reader's own). Undefined
   * at end of stream. Errors → STREAM_ABORTED.
   */
  read(max: number): Promise<Uint8Array | undefined> {
    return this.next(max);
  }

  /**
   * Fills `target[start, end)` from the stream; returns the bytes copied (less than asked only
   * at end of stream).
   */
  async fill(target: Uint8Array, start = 0, end = target.byteLength): Promise<number> {
    let pos = start;
    while (pos < end) {
      const part = await this.next(end - pos);
      if (!part) break;
      target.set(part, pos);
      pos += part.byteLength;
    }
    return pos - start;
  }

  /** Reads exactly `n` bytes into a fresh buffer; throws PROTOCOL_ERROR (`what` truncated) at early end. */
  async readExact(n: number, what: string): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    const got = await this.fill(out);
    if (got < n) throw new OctopiiError('PROTOCOL_ERROR', `truncated ${what}: got ${got} of ${n} bytes`);
    return out;
  }

  /** Reads one byte; undefined at end of stream. */
  async readByte(): Promise<number | undefined> {
    const part = await this.next(1);
    return part ? part[0] : undefined;
  }

  /**
   * Waits until at least one byte can be read without waiting: true, or false at end of stream.
   * Consumes nothing. Errors → STREAM_ABORTED.
   */
  async waitForData(): Promise<boolean> {
    const part = await this.next(0x7fffffff);
    if (!part) return false;
    this.offset -= part.byteLength; // put it back
    return true;
  }

  /** True once the peer's end of stream was read (or the reader was cancelled). */
  get atEnd(): boolean {
    return this.ended;
  }

  /**
   * Reads and discards until the peer ends its side; resolves then, or when the stream fails.
   * Never throws; the caller bounds the wait (machines/lane*.ts `closing`: a grace timer, then
   * {@link cancel}).
   */
  async drain(): Promise<void> {
    try {
      this.chunk = undefined;
      while (!this.ended) {
        const r = await this.reader.read();
        if (r.done) this.ended = true;
      }
    } catch {
      this.ended = true; // reset: nothing left to drain
    }
  }

  /** Cancels the reader (the peer sees its writes refused); never throws. */
  async cancel(reason?: unknown): Promise<void> {
    this.ended = true;
    try {
      await this.reader.cancel(reason);
    } catch {
      // already errored
    }
  }
}
