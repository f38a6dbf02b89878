/**
 * Lane sources (seed 001 `ChunkSource::{Memory, File}`): the size up front, then the bytes in
 * large blocks. File sources read with positional reads and a bounded read-ahead, so memory
 * stays at `readAhead × blockBytes` whatever the file size, and disk reads overlap the network.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { OctopiiError, toOctopiiError } from '../errors.js';
import type { LaneSource } from './types.js';

/** Default block size for reads, writes and hash jobs: 1 MiB (at least 256 KiB: a pool hash job costs ~60 µs, src/hash/pool.ts). */
export const LANE_BLOCK_BYTES = 1 << 20;
/** Default number of blocks in flight (read-ahead, unacknowledged writes, sink writes). */
export const LANE_MAX_BLOCKS_IN_FLIGHT = 4;

export interface OpenedSource {
  /** Data bytes the source will yield. */
  readonly size: number;
  /**
   * Yields the data in blocks of `blockBytes` (the last one shorter). File blocks are fresh
   * buffers; memory blocks are views of the caller's data.
   */
  blocks(blockBytes: number, readAhead: number): AsyncGenerator<Uint8Array>;
  /**
   * Like {@link blocks}, without a fresh allocation per block: file blocks are views of a ring
   * of at most `readAhead + maxHeld` reusable SharedArrayBuffer blocks (a hash worker reads them
   * in place), and a block is read into again once its lease is released — call `release()`
   * exactly once when every consumer is done with `data`. Reading waits while the ring is
   * exhausted, so a caller holding more than `maxHeld` blocks only slows the read-ahead down.
   * Memory blocks are views of the caller's data; releasing them does nothing.
   * Why: a fresh 1 MiB buffer per block made V8 run a full mark-compact every ~10 MiB (external
   * memory counts towards the old-generation limit) — measured on the sender in `npm run bench`.
   */
  leasedBlocks(blockBytes: number, readAhead: number, maxHeld: number): AsyncGenerator<BlockLease>;
  /** Releases the file handle; idempotent. */
  close(): Promise<void>;
}

/** One block handed out by {@link OpenedSource.leasedBlocks}. */
export interface BlockLease {
  /** The block's bytes; unchanged until `release()`. */
  readonly data: Uint8Array;
  /** Gives the block back for reuse; idempotent. */
  release(): void;
}

/**
 * A bounded pool of reusable SharedArrayBuffer blocks of one size, allocated on demand (at most
 * `max`). `acquire` waits while all are out. SharedArrayBuffers because the hash pool reads
 * them in place (src/hash/pool.ts) and V8 does not count re-used ones as new external memory.
 */
export class BlockPool {
  private readonly free: Uint8Array[] = [];
  private readonly waiting: (() => void)[] = [];
  private allocated = 0;
  constructor(
    private readonly blockBytes: number,
    private readonly max: number,
  ) {}
  async acquire(): Promise<Uint8Array> {
    for (;;) {
      const b = this.free.pop();
      if (b) return b;
      if (this.allocated < this.max) {
        this.allocated++;
        return new Uint8Array(new SharedArrayBuffer(this.blockBytes));
      }
      await new Promise<void>((r) => this.waiting.push(r));
    }
  }
  release(block: Uint8Array): void {
    this.free.push(block);
    this.waiting.shift()?.();
  }
}

function validate(source: LaneSource): void {
  if (!source || (source.kind !== 'memory' && source.kind !== 'file')) {
    throw new OctopiiError('INVALID_ARGUMENT', `unknown lane source ${JSON.stringify((source as { kind?: unknown })?.kind)}`);
  }
  if (source.kind === 'memory' && !(source.data instanceof Uint8Array)) {
    throw new OctopiiError('INVALID_ARGUMENT', 'memory source needs `data: Uint8Array`');
  }
}

function fileError(e: unknown, path: string): OctopiiError {
  const errno = (e as NodeJS.ErrnoException)?.code;
  if (errno === 'ENOENT') return new OctopiiError('SOURCE_NOT_FOUND', `source file not found: ${path}`, { cause: e });
  return toOctopiiError(e, 'IO_ERROR');
}

/**
 * Size of `source` in bytes without opening anything else (used before any stream is opened).
 * Throws SOURCE_NOT_FOUND (missing file), INVALID_ARGUMENT (not a regular file / bad source).
 */
export async function statSource(source: LaneSource): Promise<number> {
  validate(source);
  if (source.kind === 'memory') return source.data.byteLength;
  let st;
  try {
    st = await stat(source.path);
  } catch (e) {
    throw fileError(e, source.path);
  }
  if (!st.isFile()) throw new OctopiiError('INVALID_ARGUMENT', `source is not a regular file: ${source.path}`);
  return st.size;
}

/** Fills `target` from `fh` at `position`; IO_ERROR if the file ends first. */
async function readInto(fh: FileHandle, target: Uint8Array, position: number, path: string): Promise<void> {
  let got = 0;
  while (got < target.byteLength) {
    const { bytesRead } = await fh.read(target, got, target.byteLength - got, position + got);
    if (bytesRead === 0) throw new OctopiiError('IO_ERROR', `source file shrank while sending: ${path}`);
    got += bytesRead;
  }
}

async function readFully(fh: FileHandle, position: number, length: number, path: string): Promise<Uint8Array> {
  // allocUnsafeSlow: a fresh ArrayBuffer of exactly `length` bytes (never Node's shared pool),
  // so the block can be handed on without dragging a larger buffer along.
  const buf = Buffer.allocUnsafeSlow(length);
  const out = new Uint8Array(buf.buffer, buf.byteOffset, length);
  await readInto(fh, out, position, path);
  return out;
}

/**
 * Opens `source`. Throws SOURCE_NOT_FOUND (missing file), INVALID_ARGUMENT, IO_ERROR.
 * The file's size is taken at open time; a file that shrinks later fails with IO_ERROR, bytes
 * appended later are not sent.
 */
export async function openSource(source: LaneSource): Promise<OpenedSource> {
  validate(source);
  if (source.kind === 'memory') {
    const data = source.data;
    return {
      size: data.byteLength,
      async *blocks(blockBytes: number) {
        for (let off = 0; off < data.byteLength; off += blockBytes) {
          yield data.subarray(off, Math.min(off + blockBytes, data.byteLength));
        }
      },
      async *leasedBlocks(blockBytes: number) {
        for (let off = 0; off < data.byteLength; off += blockBytes) {
          yield { data: data.subarray(off, Math.min(off + blockBytes, data.byteLength)), release: () => undefined };
        }
      },
      async close() {},
    };
  }
  const path = source.path;
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw fileError(e, path);
  }
  let size: number;
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new OctopiiError('INVALID_ARGUMENT', `source is not a regular file: ${path}`);
    size = st.size;
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw toOctopiiError(e, 'IO_ERROR');
  }
  let closed = false;
  return {
    size,
    async *blocks(blockBytes: number, readAhead: number) {
      const queue: Promise<Uint8Array>[] = [];
      let next = 0;
      const issue = () => {
        const len = Math.min(blockBytes, size - next);
        const p = readFully(fh, next, len, path);
        p.catch(() => undefined); // observed when dequeued; avoid unhandled rejections if abandoned
        queue.push(p);
        next += len;
      };
      while (next < size && queue.length < Math.max(1, readAhead)) issue();
      while (queue.length > 0) {
        const block = await queue.shift()!;
        if (next < size) issue();
        yield block;
      }
    },
    async *leasedBlocks(blockBytes: number, readAhead: number, maxHeld: number) {
      const pool = new BlockPool(Math.max(1, Math.min(blockBytes, size)), Math.max(1, readAhead) + Math.max(1, maxHeld));
      const queue: Promise<BlockLease>[] = [];
      let next = 0;
      const issue = () => {
        const len = Math.min(blockBytes, size - next);
        const position = next;
        next += len;
        const p = (async (): Promise<BlockLease> => {
          const full = await pool.acquire();
          const data = full.subarray(0, len);
          try {
            await readInto(fh, data, position, path);
          } catch (e) {
            pool.release(full);
            throw e;
          }
          let released = false;
          return {
            data,
            release: () => {
              if (released) return;
              released = true;
              pool.release(full);
            },
          };
        })();
        p.catch(() => undefined); // observed when dequeued; avoid unhandled rejections if abandoned
        queue.push(p);
      };
      while (next < size && queue.length < Math.max(1, readAhead)) issue();
      while (queue.length > 0) {
        const lease = await queue.shift()!;
        if (next < size) issue();
        yield lease;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await fh.close().catch(() => undefined);
    },
  };
}
