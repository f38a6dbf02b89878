/**
 * The write-ahead log of a Raft member: entries, hard state and snapshot markers, durable before
 * they are acknowledged, in append-only segment files (design after etcd's `server/storage/wal`,
 * framing after LevelDB's log; see codec.ts, segments.ts, segmentSet.ts, recovery.ts).
 *
 * **Group commit.** Calls are queued in call order. One writer takes everything queued (up to
 * {@link MAX_BATCH_BYTES}), writes it as one frame at the end of the current segment, calls
 * fdatasync once, then resolves every call in the batch; calls made meanwhile form the next
 * batch. A call resolves only after the sync that covers it. Calls are applied in the order they were made, so `append` then `setHardState` (or
 * `save` with both) reach the disk in that order.
 *
 * **A disk that refuses writes.** When writing or syncing a batch fails, every call in that batch
 * — and every call queued behind it, since it was ordered after it — rejects with the typed error
 * (ENOSPC → DISK_FULL, EACCES/EPERM/EROFS → PERMISSION_DENIED, others → IO_ERROR). A failed batch
 * is never half there. Right after the failure, and again before anything else is written (and at
 * close), the segment is cut back (ftruncate + fdatasync) to the end of the last acknowledged
 * batch; until that cut succeeds every later batch fails with the cut's error, and once it has,
 * the failed batch is gone for good. Only if the process dies before any cut succeeded can
 * recovery find the failed batch — whole, as one valid frame, exactly like a batch whose
 * acknowledgement was lost in a crash (Raft allows both). Once the disk writes again, appends
 * succeed. The in-memory view (lastIndex, term, entries) only ever shows acknowledged calls.
 *
 * One process per directory: Node has no flock, so nothing stops a second writer.
 *
 * @example
 * ```ts
 * const { wal, recovered } = await Wal.open('/var/lib/octopii/wal'); // recovered: hard state, snapshot, entries
 * const data = new TextEncoder().encode('set x 1');
 * await wal.save({ entries: [{ index: wal.lastIndex + 1, term: 1, data }], hardState: { term: 1, vote: 'n1', commit: recovered.hardState.commit } });
 * await wal.close();
 * ```
 */
import { dirname, join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { OctopiiError, toOctopiiError } from '../errors.js';
import { FRAME_HEADER, MAX_FRAME_PAYLOAD, encodeFrame, encodeRecords, type EncodedRecords, type WalRecord } from './codec.js';
import { nodeWalFs, type WalFile } from './fs.js';
import { recover } from './recovery.js';
import { createSegment, headerRecords, type SegmentInfo } from './segments.js';
import { SegmentSet } from './segmentSet.js';
import { WalState } from './state.js';
import type { HardState, SnapshotMarker, WalCallOptions, WalEntry, WalOptions, WalRecovered, WalSyncRecord } from './types.js';

export type { WalCallOptions, WalOptions, WalSyncRecord } from './types.js';
import { checkSave, checkSnapshot, checkTruncate, invalid, isIndex, type Checked, type Pending } from './validate.js';

/** Default size at which the WAL starts a new segment: 64 MiB (etcd's `SegmentSizeBytes`). */
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

/** A batch (one frame, one fdatasync) holds calls up to this many bytes; a larger call goes alone. */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024;

interface Op {
  readonly records: WalRecord[];
  readonly encoded: EncodedRecords;
  resolve(): void;
  reject(e: unknown): void;
}

export class Wal {
  private queue: Op[] = [];
  private writer: Promise<void> | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;
  private pending: Pending;
  /** Set if the in-memory state could not follow a durable batch (a bug): every call fails. */
  private broken: OctopiiError | null = null;
  private readonly syncListeners = new Set<(r: WalSyncRecord) => void>();

  private constructor(
    private readonly state: WalState,
    /** The segment files: where batches are written, entries read, and compaction drops. */
    private readonly files: SegmentSet,
  ) {
    this.pending = this.durableView();
  }

  /** The WAL's directory. */
  get dir(): string {
    return this.files.dir;
  }

  /**
   * Opens (creating if needed) the WAL in `dir` and recovers it: replays all segments, cuts a
   * torn tail off the last one, and returns what was durable.
   *
   * @throws OctopiiError WAL_CORRUPT (a bad frame followed by valid ones, or in a non-last
   *   segment; the message names the segment file and byte offset), INVALID_ARGUMENT (options),
   *   ABORTED, and the file layer's codes (IO_ERROR, PERMISSION_DENIED, DISK_FULL…).
   */
  static async open(dir: string, options: WalOptions = {}): Promise<{ wal: Wal; recovered: WalRecovered }> {
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    if (!isIndex(segmentBytes, 1)) throw invalid(`segmentBytes must be a positive integer, got ${segmentBytes}`);
    const fs = options.fs ?? nodeWalFs;
    const check = () => {
      if (options.signal?.aborted) throw new OctopiiError('ABORTED', `WAL open aborted: ${String(options.signal.reason ?? '')}`);
    };
    try {
      check();
      if (await fs.mkdirp(dir)) await fs.syncDir(dirname(dir));
      const r = await recover(fs, dir, true);
      check();
      for (const t of r.temporaries) await fs.remove(join(dir, t));
      const segments: SegmentInfo[] = r.segments.map((s) => ({ seq: s.seq, firstIndex: s.firstIndex, name: s.name, path: s.path }));
      let file: WalFile;
      let size: number;
      const last = r.segments.at(-1);
      if (last) {
        file = await fs.openWrite(last.path);
        size = last.validBytes;
      } else {
        const made = await createSegment(fs, dir, 0, 1, headerRecords(r.state.hardState, r.state.snapshot));
        segments.push(made.info);
        file = made.file;
        size = made.size;
      }
      const wal = new Wal(r.state, new SegmentSet(dir, fs, segmentBytes, segments, file, size));
      return { wal, recovered: { hardState: r.state.hardState, snapshot: r.state.snapshot, entries: r.entries, tornBytes: r.tornBytes } };
    } catch (e) {
      throw toOctopiiError(e, 'IO_ERROR');
    }
  }

  /** Index of the first live entry (snapshot index + 1). */
  get firstIndex(): number {
    return this.state.firstIndex;
  }

  /** Index of the last acknowledged entry (the snapshot index when none follows; 0 when empty). */
  get lastIndex(): number {
    return this.state.lastIndex;
  }

  /** The last acknowledged hard state. */
  get hardState(): HardState {
    return this.state.hardState;
  }

  /** The last acknowledged snapshot marker, or null. */
  get snapshot(): SnapshotMarker | null {
    return this.state.snapshot;
  }

  /** Number of segment files. */
  get segmentCount(): number {
    return this.files.count;
  }

  /** Term of the acknowledged entry at `index` (or of the snapshot marker there; 0 for index 0). */
  term(index: number): number | undefined {
    return this.state.term(index);
  }

  /**
   * Appends entries; resolves once they are on stable storage. The first index must be at most
   * `lastIndex + 1` counting queued calls (no gap) and above the snapshot index; an index at or
   * below the last one replaces that entry and everything after it (a Raft log conflict), which
   * may not reach below the commit index. Indexes must be consecutive, terms non-decreasing.
   *
   * @throws OctopiiError INVALID_ARGUMENT, CLOSED, ABORTED, DISK_FULL, IO_ERROR, PERMISSION_DENIED
   */
  append(entries: readonly WalEntry[], options?: WalCallOptions): Promise<void> {
    return this.save({ entries }, options);
  }

  /**
   * Stores the hard state; resolves once it is on stable storage. Term and commit never decrease.
   *
   * @throws OctopiiError INVALID_ARGUMENT, CLOSED, ABORTED, DISK_FULL, IO_ERROR, PERMISSION_DENIED
   */
  setHardState(hardState: HardState, options?: WalCallOptions): Promise<void> {
    return this.save({ hardState }, options);
  }

  /**
   * etcd's `WAL.Save`, for one Raft `Ready`: entries, then the hard state, in one call (and in the
   * same batch). Same rules and errors as {@link append} and {@link setHardState}.
   */
  save(ready: { entries?: readonly WalEntry[]; hardState?: HardState }, options?: WalCallOptions): Promise<void> {
    return this.submit(() => checkSave(this.pending, ready.entries ?? [], ready.hardState), options);
  }

  /**
   * Removes every entry with index ≥ `index` (a Raft log conflict); resolves once that is durable,
   * after which neither reads nor recovery see them. It is a record in the log (the bytes stay
   * until compaction drops their segment). `index` must be above the commit and snapshot indexes;
   * past the last entry it is a no-op.
   *
   * @throws OctopiiError INVALID_ARGUMENT, CLOSED, ABORTED, DISK_FULL, IO_ERROR, PERMISSION_DENIED
   */
  truncateFrom(index: number, options?: WalCallOptions): Promise<void> {
    return this.submit(() => checkTruncate(this.pending, index), options);
  }

  /**
   * Stores a snapshot marker (etcd `WAL.SaveSnapshot`): entries ≤ `marker.index` are dropped from
   * the log, later ones kept; a marker past the last entry empties the log, which then continues
   * at `marker.index + 1`. Resolves once durable. The index must go forward (the current marker
   * again is a no-op).
   *
   * @throws OctopiiError INVALID_ARGUMENT, CLOSED, ABORTED, DISK_FULL, IO_ERROR, PERMISSION_DENIED
   */
  saveSnapshot(marker: SnapshotMarker, options?: WalCallOptions): Promise<void> {
    return this.submit(() => checkSnapshot(this.pending, marker), options);
  }

  /**
   * Reads acknowledged entries with `lo ≤ index < hi` from disk (etcd `Storage.Entries`).
   *
   * @throws OctopiiError INVALID_ARGUMENT (range outside `[firstIndex, lastIndex + 1]`), CLOSED,
   *   ABORTED, IO_ERROR
   */
  async entries(lo: number, hi: number, options?: WalCallOptions): Promise<WalEntry[]> {
    this.checkCall(options);
    if (!isIndex(lo, 0) || !isIndex(hi, 0) || lo > hi || lo < this.firstIndex || hi > this.lastIndex + 1) {
      throw invalid(`entries [${lo}, ${hi}) outside [${this.firstIndex}, ${this.lastIndex + 1})`);
    }
    const out: WalEntry[] = [];
    try {
      let i = lo;
      while (i < hi) {
        // one read per run of entries in the same segment
        const first = this.state.location(i)!;
        let j = i + 1;
        while (j < hi && this.state.location(j)!.seq === first.seq) j++;
        const lastLoc = this.state.location(j - 1)!;
        const span = Buffer.allocUnsafe(lastLoc.offset + lastLoc.length - first.offset);
        const file = await this.files.reader(first.seq);
        const got = await file.read(span, first.offset);
        if (got !== span.byteLength) throw new OctopiiError('IO_ERROR', `short read in WAL segment ${first.seq}: ${got} of ${span.byteLength} bytes`);
        for (let k = i; k < j; k++) {
          const loc = this.state.location(k)!;
          out.push({ index: k, term: this.state.term(k)!, data: new Uint8Array(span.subarray(loc.offset - first.offset, loc.offset - first.offset + loc.length)) });
        }
        i = j;
      }
    } catch (e) {
      throw toOctopiiError(e, 'IO_ERROR');
    }
    return out;
  }

  /**
   * Drops the oldest whole segments whose entries all have index ≤ `throughIndex` and ≤ the
   * acknowledged snapshot marker's index (etcd's `ReleaseLockTo` + purge; the current segment is
   * never dropped). The hard state and marker survive: every segment starts with the ones in
   * force when it was made, and later records follow. Resolves with the number of segments
   * removed; each removal is synced (directory fsync) before the next, so a crash leaves the WAL
   * without a prefix of them, never with a hole.
   *
   * @throws OctopiiError INVALID_ARGUMENT, CLOSED, ABORTED, IO_ERROR
   */
  async compact(throughIndex: number, options?: WalCallOptions): Promise<number> {
    this.checkCall(options);
    if (!isIndex(throughIndex, 0)) throw invalid(`compact index must be an integer ≥ 0, got ${throughIndex}`);
    const limit = Math.min(throughIndex, this.state.snapshot?.index ?? 0);
    return this.files.dropOldest(
      (seq) => (this.state.segmentMaxIndex.get(seq) ?? 0) <= limit,
      (seq) => this.state.segmentMaxIndex.delete(seq),
    );
  }

  /**
   * Waits for queued calls to settle, cuts back a failed batch if one is pending, then closes the
   * files; every caller gets the same promise. Later calls reject with CLOSED.
   */
  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      this.closing = (async () => {
        while (this.writer) await this.writer;
        await this.files.cutBack().catch(() => undefined);
        await this.files.close();
      })();
    }
    return this.closing;
  }

  // ── the writer ────────────────────────────────────────────────────────────────────────────

  private durableView(): Pending {
    return { last: this.state.lastIndex, snapshotIndex: this.state.snapshot?.index ?? 0, snapshotTerm: this.state.snapshot?.term ?? 0, term: this.state.hardState.term, commit: this.state.hardState.commit };
  }

  /** Throws CLOSED, ABORTED (signal already fired) or the INTERNAL error of a broken WAL. */
  private checkCall(options: WalCallOptions | undefined): void {
    if (this.closed) throw new OctopiiError('CLOSED', 'the WAL is closed');
    if (options?.signal?.aborted) throw new OctopiiError('ABORTED', `WAL call aborted: ${String(options.signal.reason ?? '')}`);
    if (this.broken) throw this.broken;
  }

  /** Checks a call, queues its records for the writer, and resolves after their sync. */
  private submit(check: () => Checked, options: WalCallOptions | undefined): Promise<void> {
    let checked: Checked;
    let encoded: EncodedRecords;
    try {
      this.checkCall(options);
      checked = check();
      if (checked.records.length === 0) return Promise.resolve(); // nothing to make durable
      encoded = encodeRecords(checked.records);
      if (encoded.bytes.byteLength > MAX_FRAME_PAYLOAD) throw new OctopiiError('TOO_LARGE', `a WAL call of ${encoded.bytes.byteLength} bytes is above ${MAX_FRAME_PAYLOAD}`);
    } catch (e) {
      return Promise.reject(toOctopiiError(e, 'INVALID_ARGUMENT'));
    }
    this.pending = checked.next;
    const records = checked.records;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ records, encoded, resolve, reject });
      this.writer ??= this.runWriter();
    });
  }

  /** Calls `listener` after each batch is written and synced (once per fdatasync, not per call). Returns an unsubscribe. */
  onSync(listener: (r: WalSyncRecord) => void): () => void {
    this.syncListeners.add(listener);
    return () => this.syncListeners.delete(listener);
  }

  private async runWriter(): Promise<void> {
    try {
      for (;;) {
        await nextTurn(); // callers of this turn join the batch
        if (this.queue.length === 0) return;
        const batch = this.takeBatch();
        let at: number;
        try {
          at = await this.writeBatch(batch);
        } catch (e) {
          const err = toOctopiiError(e, 'IO_ERROR');
          const behind = this.queue;
          this.queue = [];
          this.pending = this.durableView();
          for (const op of batch) op.reject(err);
          for (const op of behind) op.reject(err);
          await this.files.cutBack().catch(() => undefined); // else the next batch (or close) tries again
          continue;
        }
        try {
          this.apply(batch, at);
        } catch (e) {
          // validation makes this unreachable; if it is reached, stop rather than diverge from disk
          this.broken = new OctopiiError('INTERNAL', `WAL state diverged from its log: ${(e as Error).message}`);
          for (const op of [...batch, ...this.queue]) op.reject(this.broken);
          this.queue = [];
          return;
        }
        for (const op of batch) op.resolve();
      }
    } finally {
      this.writer = null;
    }
  }

  /** The oldest queued calls, up to {@link MAX_BATCH_BYTES} (at least one call). */
  private takeBatch(): Op[] {
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || bytes + this.queue[n]!.encoded.bytes.byteLength <= MAX_BATCH_BYTES)) {
      bytes += this.queue[n]!.encoded.bytes.byteLength;
      n++;
    }
    return this.queue.splice(0, n);
  }

  /** Writes and syncs one frame holding `batch`; resolves with the frame's offset. */
  private async writeBatch(batch: Op[]): Promise<number> {
    const frame = encodeFrame(batch.map((op) => op.encoded.bytes));
    const { at, syncMs } = await this.files.write(frame, () => ({ firstIndex: this.state.lastIndex + 1, records: headerRecords(this.state.hardState, this.state.snapshot) }));
    if (this.syncListeners.size > 0) {
      const r = { syncMs, calls: batch.length, bytes: frame.byteLength };
      for (const l of this.syncListeners) l(r);
    }
    return at;
  }

  private apply(batch: Op[], frameAt: number): void {
    const seq = this.files.currentSeq;
    let base = frameAt + FRAME_HEADER;
    for (const op of batch) {
      let k = 0;
      for (const r of op.records) this.state.apply(r, seq, r.type === 'entry' ? base + op.encoded.entryDataOffsets[k++]! : -1);
      base += op.encoded.bytes.byteLength;
    }
  }
}
