/**
 * Argument checks of the WAL's writing calls, against the view a caller has: the durable state
 * plus every call still queued ({@link Pending}). Each check either throws INVALID_ARGUMENT or
 * returns the records to write and the view after the call. The rules are Raft's invariants
 * (Raft paper §5.3, §5.4; etcd's `raftLog` panics on the same): no gap after the last entry,
 * nothing at or below the snapshot marker, committed entries are never replaced or truncated,
 * term and commit never decrease, indexes consecutive and terms non-decreasing within a call.
 *
 * Pure: no I/O, no clock.
 */
import { OctopiiError } from '../errors.js';
import type { WalRecord } from './codec.js';
import type { HardState, SnapshotMarker, WalEntry } from './types.js';

/** What validation sees: the durable state plus every queued call. */
export interface Pending {
  readonly last: number;
  readonly snapshotIndex: number;
  readonly snapshotTerm: number;
  readonly term: number;
  readonly commit: number;
}

/** Records to write for a call, and the view once it is queued. */
export interface Checked {
  readonly records: WalRecord[];
  readonly next: Pending;
}

/** True when `n` is a safe integer ≥ `min`. */
export const isIndex = (n: unknown, min: number): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= min;

/** An INVALID_ARGUMENT error. */
export const invalid = (message: string): OctopiiError => new OctopiiError('INVALID_ARGUMENT', message);

/** `save({ entries, hardState })`: entries first, then the hard state. */
export function checkSave(p: Pending, entries: readonly WalEntry[], hs: HardState | undefined): Checked {
  const records: WalRecord[] = [];
  let next = p;
  if (entries.length > 0) {
    const first = entries[0]!;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (!isIndex(e?.index, 1) || !isIndex(e.term, 0) || !(e.data instanceof Uint8Array)) {
        throw invalid(`entry ${i} must be { index ≥ 1, term ≥ 0, data: Uint8Array }`);
      }
      if (e.index !== first.index + i) throw invalid(`entry indexes must be consecutive: ${e.index} after ${first.index + i - 1}`);
      if (i > 0 && e.term < entries[i - 1]!.term) throw invalid(`entry terms must not decrease: ${e.term} at index ${e.index}`);
      records.push({ type: 'entry', index: e.index, term: e.term, data: e.data });
    }
    if (first.index > p.last + 1) throw invalid(`entry ${first.index} would leave a gap after ${p.last}`);
    if (first.index <= p.snapshotIndex) throw invalid(`entry ${first.index} is covered by the snapshot at ${p.snapshotIndex}`);
    if (first.index <= p.last && first.index <= p.commit) throw invalid(`entry ${first.index} would replace a committed entry (commit ${p.commit})`);
    next = { ...next, last: entries.at(-1)!.index };
  }
  if (hs !== undefined) {
    if (!isIndex(hs?.term, 0) || !isIndex(hs.commit, 0) || (hs.vote !== null && typeof hs.vote !== 'string')) {
      throw invalid('hard state must be { term ≥ 0, vote: string | null, commit ≥ 0 }');
    }
    if (hs.term < p.term) throw invalid(`hard state term ${hs.term} is below ${p.term}`);
    if (hs.commit < p.commit) throw invalid(`hard state commit ${hs.commit} is below ${p.commit}`);
    records.push({ type: 'hardState', hardState: { term: hs.term, vote: hs.vote, commit: hs.commit } });
    next = { ...next, term: hs.term, commit: hs.commit };
  }
  return { records, next };
}

/** `truncateFrom(index)`: no records when nothing is at or after `index`. */
export function checkTruncate(p: Pending, index: number): Checked {
  if (!isIndex(index, 1)) throw invalid(`truncateFrom index must be an integer ≥ 1, got ${index}`);
  if (index <= p.commit) throw invalid(`cannot truncate from ${index}: entries up to ${p.commit} are committed`);
  if (index <= p.snapshotIndex) throw invalid(`cannot truncate from ${index}: covered by the snapshot at ${p.snapshotIndex}`);
  if (index > p.last) return { records: [], next: p };
  return { records: [{ type: 'truncate', index }], next: { ...p, last: index - 1 } };
}

/**
 * `saveSnapshot(marker)`: the index only goes forward; the current marker again (same index and
 * term) is a no-op.
 */
export function checkSnapshot(p: Pending, marker: SnapshotMarker): Checked {
  if (!isIndex(marker?.index, 1) || !isIndex(marker.term, 0)) throw invalid('snapshot marker must be { index ≥ 1, term ≥ 0 }');
  if (marker.index === p.snapshotIndex && marker.term === p.snapshotTerm) return { records: [], next: p };
  if (marker.index <= p.snapshotIndex) throw invalid(`snapshot index ${marker.index} does not go past the current one (${p.snapshotIndex}, term ${p.snapshotTerm})`);
  return {
    records: [{ type: 'snapshot', snapshot: { index: marker.index, term: marker.term } }],
    next: { ...p, snapshotIndex: marker.index, snapshotTerm: marker.term, last: Math.max(p.last, marker.index) },
  };
}
