/**
 * An in-memory Raft log and hard state for tests and simulations (etcd's MemoryStorage), with
 * the split a real, WAL-backed storage has: what the driver wrote is readable at once (the
 * in-memory mirror the core reads through the {@link LogReader} half), and becomes durable —
 * survives a crash — only at `sync()` (an fsync).
 *
 * Driver contract, per Ready: `setHardState` + `append`, then `sync()` when `rd.mustSync`,
 * and only then send the messages (unless `rd.sendBeforeSync`: a leader's go out before the
 * sync). `durableCopy()` is what a crash leaves behind.
 */
import { OctopiiError } from '../errors.js';
import type { Entry, HardState } from '../../machines/raft.js';
import type { RaftStorage } from './storage.js';

const EMPTY_HARD: HardState = { term: 0, vote: 0, commit: 0 };

/** `log` with `entries` appended; an entry at index i replaces i and everything after it. */
function appendTo(log: Entry[], entries: readonly Entry[]): void {
  if (entries.length === 0) return;
  const first = entries[0]!.index;
  if (first < 1 || first > log.length + 1) throw new OctopiiError('INTERNAL', `memory storage: append at ${first} leaves a gap after ${log.length}`);
  log.length = first - 1;
  for (const e of entries) {
    if (e.index !== log.length + 1) throw new OctopiiError('INTERNAL', `memory storage: entries not contiguous at ${e.index}`);
    log.push(e);
  }
}

export class MemoryLogStorage implements RaftStorage {
  #entries: Entry[] = [];
  #hard: HardState = EMPTY_HARD;
  #durable: Entry[] = [];
  #durableHard: HardState = EMPTY_HARD;
  /** Appends since the last sync, replayed onto the durable log by `sync()`. */
  #pending: (readonly Entry[])[] = [];

  /** Start from a log (contiguous from index 1) and hard state, both durable. */
  constructor(entries: readonly Entry[] = [], hard: HardState = EMPTY_HARD) {
    appendTo(this.#entries, entries);
    appendTo(this.#durable, entries);
    this.#hard = this.#durableHard = hard;
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

  /** Append `entries` (contiguous) to the mirror; an entry at index i replaces i and everything after. */
  append(entries: readonly Entry[]): void {
    appendTo(this.#entries, entries);
    if (entries.length > 0) this.#pending.push(entries);
  }

  hardState(): HardState {
    return this.#hard;
  }

  setHardState(hs: HardState): void {
    this.#hard = hs;
  }

  /** Make everything written so far durable (the fsync). */
  sync(): void {
    for (const batch of this.#pending) appendTo(this.#durable, batch);
    this.#pending = [];
    this.#durableHard = this.#hard;
  }

  /** What survives a crash now: the durable log and hard state, as a fresh storage. */
  durableCopy(): MemoryLogStorage {
    return new MemoryLogStorage(this.#durable, this.#durableHard);
  }

  /** Every entry of the mirror, for assertions. */
  all(): readonly Entry[] {
    return this.#entries;
  }
}
