/**
 * The in-memory Raft log a storage keeps in front of its durable medium (etcd's `MemoryStorage`
 * entries): entries contiguous from index 1, read synchronously by the core through the
 * {@link LogReader} half of {@link RaftStorage}, and changed by `append`, where an entry at index
 * i replaces i and everything after it (a follower resolving a conflict, Raft §5.3).
 * {@link MemoryLogStorage} (tests) and {@link WalStorage} (the WAL) both read through it.
 *
 * Errors: INTERNAL (messages start with the storage's `label`) for an append that leaves a gap or
 * is not contiguous, and for a read outside the log.
 */
import { OctopiiError } from '../errors.js';
import type { Entry, LogReader } from '../../machines/raft.js';

/** `log` with `entries` appended; an entry at index i replaces i and everything after it. Throws INTERNAL for a gap. */
export function appendTo(log: Entry[], entries: readonly Entry[], label: string): void {
  if (entries.length === 0) return;
  const first = entries[0]!.index;
  if (first < 1 || first > log.length + 1) throw new OctopiiError('INTERNAL', `${label}: append at ${first} leaves a gap after ${log.length}`);
  log.length = first - 1;
  for (const e of entries) {
    if (e.index !== log.length + 1) throw new OctopiiError('INTERNAL', `${label}: entries not contiguous at ${e.index}`);
    log.push(e);
  }
}

export class LogMirror implements LogReader {
  readonly #label: string;
  readonly #entries: Entry[];

  /** `entries` (contiguous from index 1) become the log as they are. */
  constructor(label: string, entries: Entry[] = []) {
    this.#label = label;
    this.#entries = entries;
  }

  firstIndex(): number {
    return 1;
  }

  lastIndex(): number {
    return this.#entries.length;
  }

  term(i: number): number {
    if (i === 0) return 0;
    const e = this.#entries[i - 1];
    if (!e) throw new OctopiiError('INTERNAL', `${this.#label}: no entry ${i} (last ${this.lastIndex()})`);
    return e.term;
  }

  /** Entries `lo ≤ index < hi`, stopping before `maxBytes` of data (at least one entry). */
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo < 1 || hi > this.lastIndex() + 1) throw new OctopiiError('INTERNAL', `${this.#label}: [${lo}, ${hi}) is outside [1, ${this.lastIndex() + 1})`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.#entries[i - 1]!;
      if (out.length > 0 && bytes + e.data.length > maxBytes) break;
      bytes += e.data.length;
      out.push(e);
    }
    return out;
  }

  /** Append `entries` (contiguous) to the mirror; an entry at index i replaces i and everything after. */
  append(entries: readonly Entry[]): void {
    appendTo(this.#entries, entries, this.#label);
  }

  /** Every entry of the mirror (for assertions and replay). */
  all(): readonly Entry[] {
    return this.#entries;
  }
}
