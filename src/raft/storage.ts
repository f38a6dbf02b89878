/**
 * What a driver needs from a Raft storage: the core's read-only {@link LogReader} plus the
 * writes a Ready asks for. {@link MemoryLogStorage} implements it for tests; a WAL-backed one
 * implements the same contract:
 *
 *  - `append(entries)` / `setHardState(hs)` take effect for readers at once (an in-memory
 *    mirror, like etcd's unstable log), so the core can read what it just handed out;
 *  - `sync()` makes everything written so far durable; after a crash only synced writes exist;
 *  - per Ready: write hard state and entries, `sync()` when `mustSync`, then send messages
 *    (a leader's Ready with `sendBeforeSync` may send them before the sync).
 *
 * Appending an entry at index i replaces the entry at i and everything after it (a follower
 * resolving a conflict, Raft §5.3). Errors: INTERNAL for a gap; IO errors from the medium.
 */
import type { Entry, HardState, LogReader } from '../../machines/raft.js';

export interface RaftStorage extends LogReader {
  /** The last hard state written (what to pass as `hardState` when restarting a node). */
  hardState(): HardState;
  setHardState(hs: HardState): void;
  append(entries: readonly Entry[]): void;
  /** Durability point (fsync). Synchronous here; a WAL may expose an async variant. */
  sync(): void;
}
