/**
 * Data shapes of the pure Raft core: log entries, messages, hard state, configuration, the
 * read-only log interface the core reads through, and the `Ready` it hands to its driver.
 *
 * The split follows etcd-io/raft: the core does no I/O; time enters as ticks, input as messages,
 * and output leaves as data (`Ready`) that the driver persists, sends and applies, then
 * acknowledges (`ADVANCE`). Node IDs are positive integers; 0 means "none" (no vote, no leader).
 */

/** A node ID; 0 is "none". */
export type NodeId = number;
export const NONE: NodeId = 0;

/** One log entry. `data` is opaque to Raft; an empty `data` is the no-op a new leader appends. */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly data: Uint8Array;
}

/** What must survive a crash besides the log (Raft §5, Figure 2 "Persistent state"). */
export interface HardState {
  readonly term: number;
  /** Candidate voted for in `term`, or 0. */
  readonly vote: NodeId;
  /** Highest index known committed (persisting it is optional for safety, useful on restart). */
  readonly commit: number;
}

export type MessageType =
  | 'MsgApp' // AppendEntries (Raft §5.3)
  | 'MsgAppResp'
  | 'MsgHeartbeat' // empty AppendEntries carrying only commit (and a ReadIndex context)
  | 'MsgHeartbeatResp'
  | 'MsgVote' // RequestVote (Raft §5.2)
  | 'MsgVoteResp'
  | 'MsgPreVote' // Ongaro's dissertation §9.6
  | 'MsgPreVoteResp'
  | 'MsgProp' // a proposal forwarded from a follower to the leader
  | 'MsgReadIndex' // a ReadIndex request forwarded to the leader (dissertation §6.4)
  | 'MsgReadIndexResp';

/**
 * One Raft message. Fields not used by a type are 0 / empty. `term` 0 marks a forwarded request
 * (MsgProp, MsgReadIndex) that is not bound to a term, as in etcd.
 *
 * - MsgApp: `index`/`logTerm` = the entry preceding `entries` (prevLogIndex/prevLogTerm), `commit`.
 * - MsgAppResp: accept → `index` = last index now matching; reject → `index` = the rejected
 *   prevLogIndex, `rejectHint`/`logTerm` = the follower's conflict hint (fast backtracking).
 * - MsgVote/MsgPreVote: `index`/`logTerm` = the candidate's last entry.
 * - MsgHeartbeat: `commit`; `context` carries a ReadIndex round. MsgReadIndexResp: `index`.
 */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly logTerm: number;
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  readonly rejectHint: number;
  /** ReadIndex request context (opaque to Raft), or ''. */
  readonly context: string;
}

/**
 * Synchronous, read-only view of the stable log the driver owns (etcd's `Storage`). Indexes are
 * 1-based; `term(0)` is 0. The core never writes through it: it returns entries to persist in
 * `Ready.entries`, and reads its own not-yet-persisted entries from its unstable tail.
 */
export interface LogReader {
  /** Index of the first entry available (1 until compaction exists). */
  firstIndex(): number;
  /** Index of the last entry, or `firstIndex() - 1` when empty. */
  lastIndex(): number;
  /** Term of entry `i`; 0 for `i = 0`. Throws (INTERNAL) outside `[firstIndex-1, lastIndex]`. */
  term(i: number): number;
  /**
   * Entries `[lo, hi)`, stopping before the total `data` bytes exceed `maxBytes` — but always at
   * least one entry when `lo < hi`.
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
}

/** Role of a node; also the state names of the `raft` machine. */
export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Volatile state worth showing when it changes (etcd's SoftState). */
export interface SoftState {
  readonly lead: NodeId;
  readonly role: Role;
}

/** A linearizable read point (dissertation §6.4): reads for `context` may be served once `index` is applied. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

/** A local request the core refused (NOT_LEADER, TOO_LARGE), with what the caller needs to retry. */
export interface Rejection {
  readonly kind: 'propose' | 'readIndex';
  readonly code: 'NOT_LEADER' | 'TOO_LARGE' | 'RESOURCE_EXHAUSTED';
  /** The leader this node knows of (retry there), or 0 when it knows none. */
  readonly leaderHint: NodeId;
  /** ReadIndex context, or '' for proposals. */
  readonly context: string;
}

/**
 * What the driver must do: persist `hardState` and `entries` (fsync when `mustSync`), send
 * `messages` — after the write is durable, or at once when `sendBeforeSync` — apply
 * `committedEntries` and serve `readStates` (both may happen before the write is durable: the
 * entries are committed, so durable on a quorum); then `ADVANCE` once the write is durable.
 */
export interface Ready {
  /** Present when lead or role changed since the last ADVANCE. */
  readonly softState?: SoftState;
  /** Present when term, vote or commit changed since the last ADVANCE. */
  readonly hardState?: HardState;
  /** Entries to append to stable storage; an entry at index i replaces i and everything after. */
  readonly entries: readonly Entry[];
  /** Committed entries not yet applied, in order. */
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  readonly rejections: readonly Rejection[];
  /** True when term/vote changed or entries must be written: the write must be durable before ADVANCE. */
  readonly mustSync: boolean;
  /**
   * True when `messages` may be sent before (in parallel with) the write: this node is leader and
   * its term and vote are already durable, so its messages rest on nothing the write adds — its
   * own new entries count toward commitment only once ADVANCE reports them stable (dissertation
   * §10.2.1; etcd's raft sends a leader's MsgApps before its WAL write). Otherwise send only
   * after the write is durable (Raft §5: a vote or an append is answered once persisted).
   */
  readonly sendBeforeSync: boolean;
}

/** Tunables of one node. Ticks are the driver's unit of time (e.g. 100 ms each). */
export interface RaftConfig {
  readonly id: NodeId;
  /** IDs of all voters, including `id`. Messages from anyone else are ignored. */
  readonly voters: readonly NodeId[];
  /** Base election timeout in ticks; each node draws its timeout from [electionTick, 2·electionTick). Default 10. */
  readonly electionTick: number;
  /** Leader heartbeat interval in ticks. Default 1. */
  readonly heartbeatTick: number;
  /** Run the PreVote phase before a real election (dissertation §9.6). Default true. */
  readonly preVote: boolean;
  /** Leader steps down when it has not heard from a quorum within an election timeout (dissertation §6.2). Default true. */
  readonly checkQuorum: boolean;
  /** Most entries in one MsgApp. Default 64. */
  readonly maxMsgEntries: number;
  /** Most `data` bytes in one MsgApp (one larger entry is still sent alone). Default 1 MiB. */
  readonly maxMsgBytes: number;
  /** MsgApps in flight per follower in replicate state (pipelining window). Default 256. */
  readonly maxInflight: number;
  /** A MsgApp whose entries carry more `data` bytes than this is dropped unread. Default 8 MiB. */
  readonly maxAppendBytes: number;
  /** A proposal larger than this is rejected TOO_LARGE. Default 1 MiB. */
  readonly maxEntryBytes: number;
  /**
   * Leader: refuse proposals (RESOURCE_EXHAUSTED) while its uncommitted entries already carry this
   * many `data` bytes — a leader cut off from its quorum stops growing its log. 0 = no limit
   * (default). One proposal is always accepted when nothing is uncommitted (etcd's
   * MaxUncommittedEntriesSize).
   */
  readonly maxUncommittedBytes: number;
  /** Most `data` bytes of committed entries in one Ready (one larger entry still goes alone); the rest follow in later Readies. Default 16 MiB. */
  readonly maxApplyBytes: number;
  /** Seed of the PRNG that draws the randomized election timeout. Default: the node ID. */
  readonly seed: number;
}

export const DEFAULT_RAFT_CONFIG: Omit<RaftConfig, 'id' | 'voters' | 'seed'> = {
  electionTick: 10,
  heartbeatTick: 1,
  preVote: true,
  checkQuorum: true,
  maxMsgEntries: 64,
  maxMsgBytes: 1 << 20,
  maxInflight: 256,
  maxAppendBytes: 8 << 20,
  maxEntryBytes: 1 << 20,
  maxApplyBytes: 16 << 20,
  maxUncommittedBytes: 0,
};

/** A message with every field defaulted; `type`, `from`, `to` required. */
export function message(m: Partial<Message> & Pick<Message, 'type' | 'from' | 'to'>): Message {
  return {
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: '',
    ...m,
  };
}

/** Total `data` bytes of `entries`. */
export const payloadBytes = (entries: readonly Entry[]): number => {
  let n = 0;
  for (const e of entries) n += e.data.length;
  return n;
};
