/**
 * An in-memory Raft log and hard state for tests and simulations (etcd's MemoryStorage). The
 * driver owns it: it appends `Ready.entries` and saves `Ready.hardState`; the core reads it
 * through the {@link LogReader} half. `clone()` is what survives a simulated crash.
 */
import { OctopiiError } from '../errors.js';
import type { Entry, HardState, LogReader } from '../../machines/raft.js';

export class MemoryLogStorage implements LogReader {
  #entries: Entry[] = [];
  #hard: HardState = { term: 0, vote: 0, commit: 0 };

  /** Optionally start from a log (contiguous from index 1) and hard state. */
  constructor(entries: readonly Entry[] = [], hard?: HardState) {
    if (entries.length > 0) this.append(entries);
    if (hard) this.#hard = hard;
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
    if (!e) throw new OctopiiError('INTERNAL', `memory storage: no entry ${i} (last ${this.lastIndex()})`);
    return e.term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo < 1 || hi > this.lastIndex() + 1) throw new OctopiiError('INTERNAL', `memory storage: [${lo}, ${hi}) is outside [1, ${this.lastIndex() + 1})`);
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

  /** Append `entries` (contiguous); an entry at index i replaces i and everything after it. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    if (first < 1 || first > this.lastIndex() + 1) {
      throw new OctopiiError('INTERNAL', `memory storage: append at ${first} leaves a gap after ${this.lastIndex()}`);
    }
    this.#entries.length = first - 1;
    for (const e of entries) {
      if (e.index !== this.#entries.length + 1) throw new OctopiiError('INTERNAL', `memory storage: entries not contiguous at ${e.index}`);
      this.#entries.push(e);
    }
  }

  hardState(): HardState {
    return this.#hard;
  }

  setHardState(hs: HardState): void {
    this.#hard = hs;
  }

  /** A copy (entries are immutable and shared). */
  clone(): MemoryLogStorage {
    return new MemoryLogStorage(this.#entries, this.#hard);
  }

  /** Every entry, for assertions. */
  all(): readonly Entry[] {
    return this.#entries;
  }
}
