/**
 * The open segment files of one WAL directory (segments.ts names and creates them): the current
 * segment, where the next frame goes at `size` bytes, and read handles of older ones. A frame is
 * written then fdatasync'ed; a write or sync that fails leaves `needsCut` set, and {@link
 * SegmentSet.cutBack} cuts the segment back (ftruncate + fdatasync) to its acknowledged bytes
 * before anything else is written (etcd's `server/storage/wal` does the same with its tail). A
 * segment that reached `segmentBytes` is followed by a new one whose header holds the state in
 * force; compaction drops a prefix of whole segments, one synced removal at a time.
 */
import { performance } from 'node:perf_hooks';
import { OctopiiError, toOctopiiError } from '../errors.js';
import type { WalRecord } from './codec.js';
import type { WalFile, WalFs } from './fs.js';
import { createSegment, type SegmentInfo } from './segments.js';

export class SegmentSet {
  /** Set when a failed batch may have left bytes after `size` in the current segment. */
  private needsCut = false;
  private readonly readers = new Map<number, WalFile>();

  constructor(
    readonly dir: string,
    private readonly fs: WalFs,
    private readonly segmentBytes: number,
    private readonly segments: SegmentInfo[],
    private current: WalFile,
    /** Bytes of acknowledged frames in the current segment: where the next batch goes. */
    private size: number,
  ) {}

  /** Number of segment files. */
  get count(): number {
    return this.segments.length;
  }

  /** Sequence number of the current segment. */
  get currentSeq(): number {
    return this.segments.at(-1)!.seq;
  }

  /**
   * Writes `frame` at the end of the current segment (after a pending cut-back, and in a new
   * segment headed by `header()` when the current one is full) and syncs it. Resolves with the
   * frame's offset and the fdatasync time, ms (wall clock).
   */
  async write(frame: Uint8Array, header: () => { firstIndex: number; records: WalRecord[] }): Promise<{ at: number; syncMs: number }> {
    await this.cutBack();
    if (this.size >= this.segmentBytes) await this.rotate(header());
    const at = this.size;
    this.needsCut = true;
    await this.current.write(frame, at);
    const t0 = performance.now();
    await this.current.datasync();
    const syncMs = performance.now() - t0;
    this.needsCut = false;
    this.size = at + frame.byteLength;
    return { at, syncMs };
  }

  /** After a failed batch: cuts the current segment back to its acknowledged frames, durably. */
  async cutBack(): Promise<void> {
    if (!this.needsCut) return;
    await this.current.truncate(this.size);
    await this.current.datasync();
    this.needsCut = false;
  }

  /** Starts the next segment (its header holds the durable hard state and snapshot marker). */
  private async rotate(header: { firstIndex: number; records: WalRecord[] }): Promise<void> {
    const prev = this.segments.at(-1)!;
    const made = await createSegment(this.fs, this.dir, prev.seq + 1, header.firstIndex, header.records);
    this.readers.set(prev.seq, this.current);
    this.segments.push(made.info);
    this.current = made.file;
    this.size = made.size;
  }

  /** A handle to read segment `seq`. Throws INTERNAL for a segment not in the set. */
  async reader(seq: number): Promise<WalFile> {
    if (seq === this.segments.at(-1)!.seq) return this.current;
    let r = this.readers.get(seq);
    if (!r) {
      const seg = this.segments.find((s) => s.seq === seq);
      if (!seg) throw new OctopiiError('INTERNAL', `WAL segment ${seq} is not open`);
      r = await this.fs.openRead(seg.path);
      this.readers.set(seq, r);
    }
    return r;
  }

  /**
   * Removes the oldest segments while `droppable(seq)` holds (never the current one), each removal
   * synced before the next; `dropped(seq)` is told of each. Resolves with the number removed.
   * Throws IO_ERROR (or the file layer's code).
   */
  async dropOldest(droppable: (seq: number) => boolean, dropped: (seq: number) => void): Promise<number> {
    let n = 0;
    while (n + 1 < this.segments.length && droppable(this.segments[n]!.seq)) n++;
    const gone = this.segments.splice(0, n);
    try {
      for (const s of gone) {
        const r = this.readers.get(s.seq);
        this.readers.delete(s.seq);
        dropped(s.seq);
        await r?.close();
        await this.fs.remove(s.path);
        await this.fs.syncDir(this.dir);
      }
    } catch (e) {
      throw toOctopiiError(e, 'IO_ERROR');
    }
    return n;
  }

  /** Closes every file (errors ignored). */
  async close(): Promise<void> {
    const files = [this.current, ...this.readers.values()];
    this.readers.clear();
    await Promise.all(files.map((f) => f.close().catch(() => undefined)));
  }
}
