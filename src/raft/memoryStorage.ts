/**
 * An in-memory Raft log and hard state for tests and simulations (etcd's MemoryStorage), with
 * the split a real, WAL-backed storage has: what the driver wrote is readable at once (the
 * in-memory mirror the core reads through the {@link LogReader} half), and becomes durable —
 * survives a crash — only at `sync()` (an fsync).
 *
 * Driver contract, per Ready: `setHardState` + `append`, then `sync()` when `rd.mustSync`,
 * and only then send the messages (unless `rd.sendBeforeSync`: a leader's go out before the
 * sync). `durableCopy()` is what a crash leaves behind. The log itself is a {@link LogMirror}.
 */
import type { Entry, HardState } from '../../machines/raft.js';
import { appendTo, LogMirror } from './logMirror.js';
import type { RaftStorage } from './storage.js';

const EMPTY_HARD: HardState = { term: 0, vote: 0, commit: 0 };
const LABEL = 'memory storage';

export class MemoryLogStorage extends LogMirror implements RaftStorage {
  #hard: HardState = EMPTY_HARD;
  #durable: Entry[] = [];
  #durableHard: HardState = EMPTY_HARD;
  /** Appends since the last sync, replayed onto the durable log by `sync()`. */
  #pending: (readonly Entry[])[] = [];

  /** Start from a log (contiguous from index 1) and hard state, both durable. */
  constructor(entries: readonly Entry[] = [], hard: HardState = EMPTY_HARD) {
    super(LABEL);
    super.append(entries);
    appendTo(this.#durable, entries, LABEL);
    this.#hard = this.#durableHard = hard;
  }

  /** Append `entries` (contiguous) to the mirror; an entry at index i replaces i and everything after. */
  override append(entries: readonly Entry[]): void {
    super.append(entries);
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
    for (const batch of this.#pending) appendTo(this.#durable, batch, LABEL);
    this.#pending = [];
    this.#durableHard = this.#hard;
  }

  /** What survives a crash now: the durable log and hard state, as a fresh storage. */
  durableCopy(): MemoryLogStorage {
    return new MemoryLogStorage(this.#durable, this.#durableHard);
  }
}
