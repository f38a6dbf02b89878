/**
 * What the WAL's records add up to: the hard state, the snapshot marker, and where each live
 * entry's data lies on disk. Recovery replays every record through {@link WalState.apply}; the
 * live WAL applies each batch the same way once it is durable — one set of rules for both.
 *
 * The rules are etcd's `WAL.ReadAll`: an entry whose index is at or below the last one replaces
 * it and drops everything after it (a Raft log conflict, Raft paper §5.3); a truncate record drops
 * entries ≥ its index; a snapshot marker drops the entries it covers (all of them when it is past
 * the last one) and keeps those after it whatever their terms, as `ReadAll` does (a driver that
 * must discard a conflicting log calls `truncateFrom` as well); a hard state replaces the last.
 */
import type { WalRecord } from './codec.js';
import { EMPTY_HARD_STATE, type HardState, type SnapshotMarker } from './types.js';

/** Where an entry's data is: segment sequence number, byte offset in that file, length. */
export interface EntryLocation {
  readonly seq: number;
  readonly offset: number;
  readonly length: number;
}

export class WalState {
  hardState: HardState = EMPTY_HARD_STATE;
  snapshot: SnapshotMarker | null = null;
  /** Highest entry index written into each segment (by sequence number); for compaction. */
  readonly segmentMaxIndex = new Map<number, number>();
  /** Index of `terms[0]`: the snapshot index + 1 (see {@link allowJump} for recovery). */
  private first = 1;
  private mayJump = false;
  private readonly terms: number[] = [];
  private readonly locations: EntryLocation[] = [];

  /**
   * @param data when given (recovery), keeps each live entry's bytes in step with the log
   */
  constructor(private data?: Uint8Array[]) {}

  /** First index the log can hold (snapshot index + 1). */
  get firstIndex(): number {
    return this.first;
  }

  /** Last entry index, or the snapshot index when no entry follows it (0 for an empty WAL). */
  get lastIndex(): number {
    return this.first + this.terms.length - 1;
  }

  /** Term of the entry at `index` (or of the snapshot marker at it); undefined if unknown. */
  term(index: number): number | undefined {
    if (this.snapshot && index === this.snapshot.index) return this.snapshot.term;
    if (index === 0) return 0;
    return this.terms[index - this.first];
  }

  /** Location of the live entry at `index`, or undefined. */
  location(index: number): EntryLocation | undefined {
    return this.locations[index - this.first];
  }

  /**
   * Recovery of a compacted WAL (its first segment is not segment 0): the first entry replayed may
   * start above the snapshot index, since the entries before it were in dropped segments. The
   * snapshot marker replayed later covers them; {@link isContiguous} checks that it did.
   */
  allowJump(): void {
    this.mayJump = true;
  }

  /** True when the live entries start right after the snapshot marker (or at 1 without one). */
  get isContiguous(): boolean {
    return this.first === (this.snapshot?.index ?? 0) + 1;
  }

  /** Stops keeping entries' bytes (recovery is done; the live WAL reads them from disk). */
  stopCollecting(): void {
    this.data = undefined;
  }

  /**
   * Applies one durable record. `seq` and `dataOffset` place an entry's data on disk.
   * Throws a RangeError when an entry would leave a gap (the caller reports WAL_CORRUPT).
   */
  apply(r: WalRecord, seq: number, dataOffset: number): void {
    switch (r.type) {
      case 'entry': {
        this.segmentMaxIndex.set(seq, Math.max(this.segmentMaxIndex.get(seq) ?? 0, r.index));
        if (r.index < this.first) return; // covered by the snapshot marker
        if (r.index > this.lastIndex + 1) {
          if (!this.mayJump || this.terms.length > 0) throw new RangeError(`entry ${r.index} leaves a gap after ${this.lastIndex}`);
          this.first = r.index; // the entries before it were in compacted segments
        }
        this.mayJump = false;
        this.cutFrom(r.index);
        this.terms.push(r.term);
        this.locations.push({ seq, offset: dataOffset, length: r.data.byteLength });
        this.data?.push(r.data);
        return;
      }
      case 'truncate':
        if (r.index <= this.lastIndex) this.cutFrom(Math.max(r.index, this.first));
        return;
      case 'hardState':
        this.hardState = r.hardState;
        return;
      case 'snapshot': {
        const m = r.snapshot;
        if (this.snapshot && m.index <= this.snapshot.index) return;
        if (m.index < this.first - 1) {
          // entries after a compacted prefix start above this marker: recovery's final check fails
          this.snapshot = m;
          return;
        }
        const keep = Math.max(0, this.lastIndex - m.index);
        const drop = this.terms.length - keep;
        this.terms.splice(0, drop);
        this.locations.splice(0, drop);
        this.data?.splice(0, drop);
        this.snapshot = m;
        this.first = m.index + 1;
        return;
      }
    }
  }

  private cutFrom(index: number): void {
    const n = index - this.first;
    this.terms.length = n;
    this.locations.length = n;
    if (this.data) this.data.length = n;
  }
}
