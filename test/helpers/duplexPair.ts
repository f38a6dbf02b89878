/**
 * Two connected in-memory {@link DuplexStream}s, for lane tests without a transport.
 *
 * Each direction is a TransformStream with bounded byte queues on both ends (backpressure
 * reaches the writer as it would on a real stream); written chunks are copied (the writer may
 * reuse its buffer, as with a real transport) and split into pieces of at most `maxChunk`
 * bytes, so readers see network-like small chunks. `abort()` on either end errors both
 * directions of both ends with STREAM_ABORTED: pending and later reads/writes reject, queued
 * bytes are dropped (a QUIC reset).
 */
import { OctopiiError } from '../../src/errors.js';
import type { DuplexStream } from '../../src/transport/types.js';

export interface DuplexPairOptions {
  /** Bytes queued per direction on each side before writes wait (default 64 KiB). */
  highWaterMark?: number;
  /** Largest chunk a reader sees (default 16 KiB). */
  maxChunk?: number;
}

interface Pipe {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  error(e: unknown): void;
}

function pipe(highWaterMark: number, maxChunk: number): Pipe {
  let ctl!: TransformStreamDefaultController<Uint8Array>;
  const size = (c: Uint8Array) => c.byteLength;
  const t = new TransformStream<Uint8Array, Uint8Array>(
    {
      start(c) {
        ctl = c;
      },
      transform(chunk, c) {
        for (let off = 0; off < chunk.byteLength; off += maxChunk) {
          c.enqueue(chunk.slice(off, Math.min(off + maxChunk, chunk.byteLength)));
        }
      },
    },
    { highWaterMark, size },
    { highWaterMark, size },
  );
  return {
    readable: t.readable,
    writable: t.writable,
    error(e) {
      try {
        ctl.error(e);
      } catch {
        // already closed or errored
      }
    },
  };
}

let nextId = 0;

/** Returns `[a, b]`: bytes written on `a` are read on `b` and vice versa. */
export function duplexPair(options: DuplexPairOptions = {}): [DuplexStream, DuplexStream] {
  const hwm = options.highWaterMark ?? 64 << 10;
  const maxChunk = options.maxChunk ?? 16 << 10;
  const ab = pipe(hwm, maxChunk);
  const ba = pipe(hwm, maxChunk);
  const id = nextId++;
  let aborted = false;
  const abort = (reason?: unknown) => {
    if (aborted) return;
    aborted = true;
    const e =
      reason instanceof OctopiiError && reason.code === 'STREAM_ABORTED'
        ? reason
        : new OctopiiError('STREAM_ABORTED', `stream ${id} aborted: ${reason instanceof Error ? reason.message : String(reason ?? '')}`);
    ab.error(e);
    ba.error(e);
  };
  const a: DuplexStream = { id: `${id}a`, readable: ba.readable, writable: ab.writable, abort };
  const b: DuplexStream = { id: `${id}b`, readable: ab.readable, writable: ba.writable, abort };
  return [a, b];
}
