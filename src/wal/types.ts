/**
 * The shapes the write-ahead log stores and hands back. They follow the Raft paper's persistent
 * state (§5, Figure 2: `currentTerm`, `votedFor`, `log[]`) and etcd's `raftpb.HardState` /
 * `raftpb.Entry` / `walpb.Snapshot`: the WAL keeps what a Raft member must not forget across a
 * crash, and nothing else. Also the options of `Wal.open` and of each call, and the record of one
 * group commit (`Wal.onSync`).
 *
 * Every number is a non-negative safe integer (≤ 2^53 − 1); indexes start at 1.
 */

import type { WalFs } from './fs.js';

/** One Raft log entry: its position, the term it was created in, and opaque bytes. */
export interface WalEntry {
  /** Log index, ≥ 1. */
  readonly index: number;
  /** Term of the leader that created the entry, ≥ 0. */
  readonly term: number;
  /** The command, opaque to the WAL (may be empty). */
  readonly data: Uint8Array;
}

/** Raft's persistent per-member state besides the log (etcd `HardState`). */
export interface HardState {
  /** Latest term this member has seen. */
  readonly term: number;
  /** The node ID voted for in `term`, or null. */
  readonly vote: string | null;
  /** Highest log index known to be committed. */
  readonly commit: number;
}

/**
 * A snapshot marker (etcd `walpb.Snapshot`): the state machine has a snapshot that covers every
 * entry up to `index` (whose term is `term`), so entries ≤ `index` are no longer needed and whole
 * segments holding only such entries may be dropped by `compact`.
 */
export interface SnapshotMarker {
  readonly index: number;
  readonly term: number;
}

/** The hard state of a WAL that never stored one: term 0, no vote, commit 0. */
export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: null, commit: 0 });

/** What `Wal.open` recovered from disk (etcd `WAL.ReadAll`). */
export interface WalRecovered {
  /** The last durable hard state ({@link EMPTY_HARD_STATE} when none was stored). */
  readonly hardState: HardState;
  /** The last snapshot marker, or null. */
  readonly snapshot: SnapshotMarker | null;
  /** The live entries after the snapshot marker, by ascending consecutive index. */
  readonly entries: WalEntry[];
  /** Bytes cut from the end of the last segment (a torn, never-acknowledged write); 0 if none. */
  readonly tornBytes: number;
}

export interface WalOptions {
  /** Start a new segment before a batch when the current one holds at least this many bytes. */
  segmentBytes?: number;
  /** The file layer (default: node:fs/promises); tests pass one that fails on command. */
  fs?: WalFs;
  /** Aborts the open (checked between steps). */
  signal?: AbortSignal;
}

/** Options of one call. The signal is checked when the call is made: a queued call is not withdrawn. */
export interface WalCallOptions {
  signal?: AbortSignal;
}

/** One group commit that reached the disk (for metrics: src/metrics/raft.ts). */
export interface WalSyncRecord {
  /** fdatasync time of the batch's frame, ms (wall clock). */
  syncMs: number;
  /** Calls (append, setHardState, save …) in the batch. */
  calls: number;
  /** Frame bytes written. */
  bytes: number;
}
