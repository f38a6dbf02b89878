/**
 * The core's view of the log: the driver's stable log (a {@link LogReader}) overlaid with the
 * unstable tail the core appended but the driver has not yet persisted (etcd's raftLog +
 * unstable). Entries `[offset, offset + entries.length)` come from the tail; below `offset`, from
 * storage. A tail whose `offset` is at or below storage's last index means "storage will be
 * truncated there" (a follower resolving a conflict, Raft §5.3).
 */
import { OctopiiError } from '../../src/errors.js';
import type { Entry, LogReader } from './types.js';

/** Entries not yet handed to stable storage; `offset` is the index of `entries[0]` (or of the next one). */
export interface Unstable {
  readonly offset: number;
  readonly entries: readonly Entry[];
}

/** Read-only view of storage + unstable tail; cheap to build (two references). */
export class LogView {
  constructor(
    readonly storage: LogReader,
    readonly unstable: Unstable,
  ) {}

  /** Index of the last entry (the unstable tail's, else storage's); 0 for an empty log. */
  lastIndex(): number {
    const u = this.unstable;
    return u.entries.length > 0 ? u.offset + u.entries.length - 1 : Math.min(this.storage.lastIndex(), u.offset - 1);
  }

  /** Term of entry `i`; 0 for `i = 0` and for an index beyond the last. */
  term(i: number): number {
    if (i === 0) return 0;
    const u = this.unstable;
    if (i >= u.offset) {
      const e = u.entries[i - u.offset];
      return e ? e.term : 0;
    }
    if (i > this.storage.lastIndex() || i < this.storage.firstIndex() - 1) return 0;
    return this.storage.term(i);
  }

  /** Term of the last entry; 0 for an empty log. */
  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** True when entry `i` exists with term `t` (the AppendEntries consistency check, Raft §5.3). */
  matchTerm(i: number, t: number): boolean {
    if (i === 0) return t === 0;
    if (i > this.lastIndex()) return false;
    return this.term(i) === t;
  }

  /** Entries `[lo, hi)` capped at `maxBytes` of data (always at least one when `lo < hi`). */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    hi = Math.min(hi, this.lastIndex() + 1);
    if (lo >= hi) return [];
    const out: Entry[] = [];
    const u = this.unstable;
    let bytes = 0;
    if (lo < u.offset) {
      const got = this.storage.entries(lo, Math.min(hi, u.offset), maxBytes);
      for (const e of got) {
        bytes += e.data.length;
        out.push(e);
      }
      if (got.length < Math.min(hi, u.offset) - lo) return out; // byte cap reached in storage
      lo = u.offset;
    }
    for (let i = lo; i < hi; i++) {
      const e = u.entries[i - u.offset];
      if (!e) throw new OctopiiError('INTERNAL', `raft log: entry ${i} missing from the unstable tail`);
      if (out.length > 0 && bytes + e.data.length > maxBytes) break;
      bytes += e.data.length;
      out.push(e);
    }
    return out;
  }

  /**
   * Largest index ≤ `index` whose term is ≤ `term`, with that term (etcd's findConflictByTerm):
   * the hint that lets a leader skip a whole conflicting term per round trip (Raft §5.3, the
   * optimisation the paper sketches at the end of the section).
   */
  findConflictByTerm(index: number, term: number): [number, number] {
    for (let i = Math.min(index, this.lastIndex()); i > 0; i--) {
      const t = this.term(i);
      if (t <= term) return [i, t];
    }
    return [0, 0];
  }

  /** Whether a candidate with last entry (`term`, `index`) is at least as up to date as us (Raft §5.4.1). */
  isUpToDate(index: number, term: number): boolean {
    const lt = this.lastTerm();
    return term > lt || (term === lt && index >= this.lastIndex());
  }
}

/**
 * The unstable tail after appending `entries` (contiguous, non-empty) that start at
 * `entries[0].index`; an existing tail from that index on is replaced (etcd's truncateAndAppend).
 */
export function appendUnstable(u: Unstable, entries: readonly Entry[]): Unstable {
  const after = entries[0]!.index - 1;
  const end = u.offset + u.entries.length;
  if (after > end - 1) throw new OctopiiError('INTERNAL', `raft log: append after ${after} leaves a gap (last ${end - 1})`);
  if (after === end - 1) return { offset: u.offset, entries: [...u.entries, ...entries] };
  if (after < u.offset) return { offset: after + 1, entries: [...entries] };
  return { offset: u.offset, entries: [...u.entries.slice(0, after + 1 - u.offset), ...entries] };
}

/** The tail once entries up to (`index`, `term`) are durable in storage (etcd's stableTo). */
export function stableTo(u: Unstable, index: number, term: number): Unstable {
  const e = u.entries[index - u.offset];
  if (!e || e.term !== term) return u; // replaced meanwhile: keep the newer tail
  return { offset: index + 1, entries: u.entries.slice(index + 1 - u.offset) };
}
