/**
 * Lane sinks: memory (capped), file or blob (temp name → fdatasync → rename only after the checksum
 * matched, to a fixed path or to `<dir>/<sha256>`; removed otherwise), or a custom
 * {@link LaneSinkHandle}. A sink is opened only after the announced size passed the cap and the
 * first data byte arrived, so a rejected or stalled transfer allocates and creates nothing.
 * `discard` removes what this transfer wrote and has not committed; a committed file is never
 * removed (a verified blob cannot be deleted by a peer).
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { OctopiiError, toOctopiiError } from '../errors.js';
import type { LaneSink, LaneSinkHandle } from './types.js';

/**
 * Write-back step of a file sink, bytes: each time this much more has been written, an
 * fdatasync(2) is started in the background (at most one at a time; the writes go on), so the
 * disk writes the file while the rest arrives and the fdatasync before the acknowledgement has
 * only the tail to flush. Without it the whole file sits dirty in the page cache (Linux starts
 * writing back only past dirty_background_ratio, ~10% of RAM, or after 30 s) and the final sync
 * writes all of it while the sender waits: ~2.5 s per GiB on a 400 MB/s disk.
 */
export const SINK_WRITEBACK_BYTES = 32 << 20;

/** Default cap of a memory sink: 64 MiB. */
export const MEMORY_SINK_MAX_BYTES = 64 << 20;

export interface OpenedSink extends LaneSinkHandle {
  /**
   * Writes `blocks` in order, as if each were passed to `write` (a file sink: one writev(2) per
   * call where it can, so a batch of network chunks is written without first being copied into
   * one buffer). The blocks must not change until it resolves.
   */
  writev(blocks: readonly Uint8Array[]): Promise<void>;
  /** What a successful receive hands back. */
  result(): { path?: string; data?: Uint8Array };
}

/** The sink's own cap in bytes (memory: default 64 MiB; others: none). */
export function sinkCap(sink: LaneSink): number {
  if (sink.maxBytes !== undefined) return sink.maxBytes;
  return sink.kind === 'memory' ? MEMORY_SINK_MAX_BYTES : Number.MAX_SAFE_INTEGER;
}

/**
 * A sink failure with what was being done: the code comes from the one converter
 * (`toOctopiiError`: ENOSPC → DISK_FULL, EACCES → PERMISSION_DENIED, ENOENT → SOURCE_NOT_FOUND …,
 * anything else IO_ERROR), the message says where.
 */
function ioError(e: unknown, what: string): OctopiiError {
  if (e instanceof OctopiiError) return e;
  const converted = toOctopiiError(e, 'IO_ERROR');
  return new OctopiiError(converted.code, `${what}: ${converted.message}`, { cause: e });
}

function memorySink(size: number): OpenedSink {
  // Allocated only now, after the size passed the cap; blocks are copied in (they are reused).
  let buf: Uint8Array | undefined = new Uint8Array(size);
  let off = 0;
  let data: Uint8Array | undefined;
  return {
    async write(block) {
      buf!.set(block, off);
      off += block.byteLength;
    },
    async writev(blocks) {
      for (const block of blocks) {
        buf!.set(block, off);
        off += block.byteLength;
      }
    },
    async commit() {
      data = buf;
      buf = undefined;
    },
    async discard() {
      buf = undefined;
      data = undefined;
    },
    result: () => (data ? { data } : {}),
  };
}

/** Streams to a temporary file in `dir`; `commit(sha256)` fdatasyncs it (the data and its size; the rename and the directory fsync below make the name durable) and renames it to `finalPath(sha256)`. */
async function fileSink(dir: string, tmpBase: string, finalPath: (sha256: string) => string): Promise<OpenedSink> {
  const tmp = join(dir, `.${tmpBase}.${randomBytes(6).toString('hex')}.part`);
  let path: string | undefined;
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx');
  } catch (e) {
    throw ioError(e, `cannot create ${tmp}`);
  }
  let position = 0;
  let syncedTo = 0;
  let writeback: Promise<void> | undefined;
  let writebackError: unknown;
  const startWriteback = () => {
    syncedTo = position;
    writeback = fh!.datasync().then(
      () => {
        writeback = undefined;
      },
      (e: unknown) => {
        writeback = undefined;
        writebackError ??= e;
      },
    );
  };
  let committed = false;
  let closed = false;
  const close = async () => {
    if (closed || !fh) return;
    closed = true;
    await writeback; // never rejects; a handle is not closed under a running fdatasync
    await fh.close().catch(() => undefined);
  };
  const writev = async (blocks: readonly Uint8Array[]) => {
    try {
      let rest = blocks.filter((b) => b.byteLength > 0);
      while (rest.length > 0) {
        const total = rest.reduce((n, b) => n + b.byteLength, 0);
        let { bytesWritten } = rest.length === 1 ? await fh!.write(rest[0]!, 0, total, position) : await fh!.writev(rest, position);
        position += bytesWritten;
        if (bytesWritten === total) break;
        // A short write (rare: a signal, a full disk about to fail): go on after the bytes written.
        let i = 0;
        while (bytesWritten >= rest[i]!.byteLength) bytesWritten -= rest[i++]!.byteLength;
        rest = [rest[i]!.subarray(bytesWritten), ...rest.slice(i + 1)];
      }
      if (writebackError !== undefined) throw writebackError;
    } catch (e) {
      throw ioError(e, `write to ${tmp} failed`);
    }
    if (!writeback && position - syncedTo >= SINK_WRITEBACK_BYTES) startWriteback();
  };
  return {
    write: (block) => writev([block]),
    writev,
    async commit(sha256) {
      path = finalPath(sha256);
      try {
        await writeback;
        if (writebackError !== undefined) throw writebackError;
        await fh!.datasync();
        await close();
        await rename(tmp, path);
        committed = true;
      } catch (e) {
        throw ioError(e, `cannot store ${path}`);
      }
      // Make the rename durable too (best effort: not every platform can fsync a directory).
      try {
        const d = await open(dir, 'r');
        await d.sync().finally(() => d.close());
      } catch {
        // ignore
      }
    },
    // Removes the temporary file only. The final path is never removed: once renamed there the
    // data is verified, and for a blob the name is its SHA-256 — a file already there (kept
    // from an earlier transfer) has the same content and is not this transfer's to delete.
    async discard() {
      await close();
      if (!committed) await rm(tmp, { force: true }).catch(() => undefined);
    },
    result: () => (committed && path ? { path } : {}),
  };
}

/**
 * Opens `sink` for `size` bytes. Throws INVALID_ARGUMENT, or the file error's meaning
 * (SOURCE_NOT_FOUND for a missing directory, PERMISSION_DENIED, DISK_FULL, IO_ERROR).
 */
export async function openSink(sink: LaneSink, size: number): Promise<OpenedSink> {
  switch (sink?.kind) {
    case 'memory':
      return memorySink(size);
    case 'file':
      return fileSink(dirname(sink.path), basename(sink.path), () => sink.path);
    case 'blob':
      return fileSink(sink.dir, 'incoming', (sha256) => join(sink.dir, sha256));
    case 'custom': {
      let h: LaneSinkHandle;
      try {
        h = await sink.open(size);
      } catch (e) {
        throw toOctopiiError(e, 'IO_ERROR');
      }
      return {
        write: (b) => h.write(b),
        // One block per batch, as before the receiver stopped coalescing into blocks: a custom
        // sink sees blocks of `blockBytes` (the last one shorter), not the network's chunk sizes.
        writev: (blocks) => h.write(blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks)),
        commit: (sha256) => h.commit(sha256),
        discard: () => h.discard(),
        result: () => ({}),
      };
    }
    default:
      throw new OctopiiError('INVALID_ARGUMENT', `unknown lane sink ${JSON.stringify((sink as { kind?: unknown })?.kind)}`);
  }
}
