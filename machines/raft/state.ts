/**
 * The state of one Raft node — the `raft` machine's context — and the role changes every step
 * function shares (Raft §5, Figure 2; etcd's raft.go `becomeFollower` & co.).
 *
 * The log is not here: `storage` is the driver's read-only {@link LogReader} and `unstable`
 * holds only entries the core appended since the driver last acknowledged a Ready.
 *
 * Step functions work on a {@link draft} — a copy whose arrays and records are fresh — and
 * mutate that copy; the machine's `assign` returns it. Nothing here does I/O.
 */
import { OctopiiError } from '../../src/errors.js';
import { LogView, appendUnstable, type Unstable } from './log.js';
import { newProgress, type Progress } from './progress.js';
import { randomInt } from './rng.js';
import {
  NONE,
  message,
  type Entry,
  type HardState,
  type LogReader,
  type Message,
  type NodeId,
  type RaftConfig,
  type ReadState,
  type Rejection,
  type Role,
  type SoftState,
  payloadBytes,
} from './types.js';

/** A ReadIndex round in progress on the leader (dissertation §6.4; etcd's readOnly). */
export interface PendingRead {
  /** The commit index when the request arrived: the read point once leadership is confirmed. */
  readonly index: number;
  readonly context: string;
  /** Who asked: this node (a local read) or a follower that forwarded it. */
  readonly from: NodeId;
  /** Voters that answered this round's heartbeat. */
  readonly acks: readonly NodeId[];
}

export interface RaftState {
  cfg: RaftConfig;
  storage: LogReader;
  unstable: Unstable;
  role: Role;
  term: number;
  vote: NodeId;
  lead: NodeId;
  commit: number;
  /** Highest index handed to the driver to apply (in a Ready that was acknowledged). */
  applied: number;
  electionElapsed: number;
  heartbeatElapsed: number;
  /** This term's election timeout in ticks, in [electionTick, 2·electionTick). */
  randomizedElectionTimeout: number;
  rng: number;
  /** Leader: `data` bytes of the entries it appended this term that are not committed yet. */
  uncommittedBytes: number;
  /** Candidate / pre-candidate: votes received (true = granted). */
  votes: Record<NodeId, boolean>;
  /** Leader: one entry per voter, including itself. */
  progress: Record<NodeId, Progress>;
  pendingReads: PendingRead[];
  /** Leader: ReadIndex requests waiting for the first commit of its term. */
  pendingReadMsgs: Message[];
  /** Output not yet acknowledged by ADVANCE. */
  msgs: Message[];
  readStates: ReadState[];
  rejections: Rejection[];
  /** Hard and soft state as of the last ADVANCE: Ready reports only changes. */
  prevHard: HardState;
  prevSoft: SoftState;
  /**
   * The last entry the driver reported durable (ADVANCE of a synced Ready, or DURABLE); the log
   * up to it is on disk while the log still holds that entry (Log Matching). 0/0: none.
   */
  durable: { readonly index: number; readonly term: number };
}

/** What a node starts from: its config, the driver's storage and the persisted hard state. */
export interface RaftInput {
  cfg: RaftConfig;
  storage: LogReader;
  hardState?: HardState;
  /** Index the driver's state machine already applied; default 0. */
  applied?: number;
}

export function initialState({ cfg, storage, hardState, applied = 0 }: RaftInput): RaftState {
  if (!cfg.voters.includes(cfg.id)) throw new OctopiiError('INVALID_ARGUMENT', `raft: node ${cfg.id} is not among the voters ${cfg.voters.join(',')}`);
  if (cfg.electionTick <= cfg.heartbeatTick) throw new OctopiiError('INVALID_ARGUMENT', 'raft: electionTick must be greater than heartbeatTick');
  for (const k of ['electionTick', 'heartbeatTick', 'maxMsgEntries', 'maxMsgBytes', 'maxInflight', 'maxAppendBytes', 'maxEntryBytes', 'maxApplyBytes'] as const) {
    if (!Number.isInteger(cfg[k]) || cfg[k] < 1) throw new OctopiiError('INVALID_ARGUMENT', `raft: ${k} must be a positive integer, got ${cfg[k]}`);
  }
  if (!Number.isInteger(cfg.maxUncommittedBytes) || cfg.maxUncommittedBytes < 0) {
    throw new OctopiiError('INVALID_ARGUMENT', `raft: maxUncommittedBytes must be a non-negative integer, got ${cfg.maxUncommittedBytes}`);
  }
  if (new Set(cfg.voters).size !== cfg.voters.length || cfg.voters.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new OctopiiError('INVALID_ARGUMENT', `raft: voters must be distinct positive integers, got ${cfg.voters.join(',')}`);
  }
  const hs = hardState ?? { term: 0, vote: NONE, commit: 0 };
  const last = storage.lastIndex();
  if (hs.commit > last) throw new OctopiiError('INVALID_ARGUMENT', `raft: hard state commit ${hs.commit} is beyond the last index ${last}`);
  const s: RaftState = {
    cfg,
    storage,
    unstable: { offset: last + 1, entries: [] },
    role: 'follower',
    term: hs.term,
    vote: hs.vote,
    lead: NONE,
    commit: hs.commit,
    applied: Math.min(applied, hs.commit),
    electionElapsed: 0,
    heartbeatElapsed: 0,
    randomizedElectionTimeout: cfg.electionTick,
    rng: (cfg.seed >>> 0) ^ 0x9e3779b9,
    uncommittedBytes: 0,
    votes: {},
    progress: {},
    pendingReads: [],
    pendingReadMsgs: [],
    msgs: [],
    readStates: [],
    rejections: [],
    prevHard: hs,
    prevSoft: { lead: NONE, role: 'follower' },
    durable: { index: last, term: last > 0 ? storage.term(last) : 0 },
  };
  resetRandomizedElectionTimeout(s);
  return s;
}

/** A mutable copy: fresh arrays and records, shared immutable entries and progress objects. */
export function draft(c: RaftState): RaftState {
  return {
    ...c,
    votes: { ...c.votes },
    progress: { ...c.progress },
    pendingReads: [...c.pendingReads],
    pendingReadMsgs: [...c.pendingReadMsgs],
    msgs: [...c.msgs],
    readStates: [...c.readStates],
    rejections: [...c.rejections],
  };
}

export const view = (s: RaftState): LogView => new LogView(s.storage, s.unstable);

export const quorum = (s: RaftState): number => Math.floor(s.cfg.voters.length / 2) + 1;

export const isMember = (s: RaftState, id: NodeId): boolean => s.cfg.voters.includes(id);

export const peers = (s: RaftState): NodeId[] => s.cfg.voters.filter((v) => v !== s.cfg.id);

/**
 * Queue a message. It carries our term, except forwarded requests (term 0) and messages whose
 * term was set by the caller (vote answers).
 */
export function send(s: RaftState, m: Partial<Message> & Pick<Message, 'type' | 'to'>): void {
  const local = m.type === 'MsgProp' || m.type === 'MsgReadIndex';
  s.msgs.push(message({ ...m, from: s.cfg.id, term: m.term ?? (local ? 0 : s.term) }));
}

export function resetRandomizedElectionTimeout(s: RaftState): void {
  const [t, rng] = randomInt(s.rng, s.cfg.electionTick, 2 * s.cfg.electionTick - 1);
  s.randomizedElectionTimeout = t;
  s.rng = rng;
}

function reset(s: RaftState, term: number): void {
  if (s.term !== term) {
    s.term = term;
    s.vote = NONE;
  }
  s.lead = NONE;
  s.electionElapsed = 0;
  s.heartbeatElapsed = 0;
  resetRandomizedElectionTimeout(s);
  s.votes = {};
  s.progress = {};
  s.pendingReads = [];
  s.pendingReadMsgs = [];
  s.uncommittedBytes = 0;
}

/**
 * Become a follower of `lead` (0 = unknown) in `term`. A deposed leader refuses its own reads
 * still in flight (NOT_LEADER, so the caller retries elsewhere); reads forwarded by followers are
 * dropped and time out at their origin, as in etcd.
 */
export function becomeFollower(s: RaftState, term: number, lead: NodeId): void {
  const ownReads = [...s.pendingReads.map((r) => (r.from === s.cfg.id ? r.context : null)), ...s.pendingReadMsgs.map((m) => (m.from === s.cfg.id ? m.context : null))];
  reset(s, term);
  s.role = 'follower';
  s.lead = lead;
  for (const context of ownReads) {
    if (context !== null) s.rejections.push({ kind: 'readIndex', code: 'NOT_LEADER', leaderHint: lead, context });
  }
}

/** PreVote (dissertation §9.6): ask first, without raising the term, so a node that cannot win disrupts no one. */
export function becomePreCandidate(s: RaftState): void {
  if (s.role === 'leader') throw new OctopiiError('INTERNAL', 'raft: leader cannot become pre-candidate');
  s.role = 'preCandidate';
  s.votes = {};
  s.lead = NONE;
}

export function becomeCandidate(s: RaftState): void {
  if (s.role === 'leader') throw new OctopiiError('INTERNAL', 'raft: leader cannot become candidate');
  reset(s, s.term + 1);
  s.vote = s.cfg.id;
  s.role = 'candidate';
}

/**
 * A new leader tracks every follower in probe state and appends a no-op of its term (dissertation
 * §6.4, Raft §5.4.2). Its own `match` starts at its durable log: entries still in the unstable
 * tail count only once the driver reports them stable (see {@link selfStable}).
 */
export function becomeLeader(s: RaftState): void {
  if (s.role === 'follower') throw new OctopiiError('INTERNAL', 'raft: follower cannot become leader');
  reset(s, s.term);
  s.role = 'leader';
  s.lead = s.cfg.id;
  const last = view(s).lastIndex();
  for (const v of s.cfg.voters) s.progress[v] = newProgress(last + 1, v === s.cfg.id ? stableLast(s) : 0);
  s.progress[s.cfg.id] = { ...s.progress[s.cfg.id]!, state: 'replicate', recentActive: true };
  appendEntries(s, [new Uint8Array(0)]);
}

/** Index of the last entry the driver reported durable and still in the log (0 when that entry was replaced). */
export function stableLast(s: RaftState): number {
  const d = s.durable;
  return d.index > 0 && view(s).term(d.index) === d.term ? d.index : 0;
}

/**
 * The driver reports the log durable through (`index`, `term`). Durability reports arrive in
 * write order; one whose entry is no longer in the log, or that is behind a still valid marker,
 * changes nothing.
 */
export function markDurable(s: RaftState, index: number, term: number): void {
  if (index < 1 || view(s).term(index) !== term) return;
  if (index <= s.durable.index && stableLast(s) === s.durable.index && s.durable.index > 0) return;
  s.durable = { index, term };
}

/**
 * Leader: its own entries up to {@link stableLast} are durable — only then do they count toward a
 * quorum (dissertation §10.2.1: the leader writes to its disk in parallel with replicating, and
 * counts itself once its write completes; etcd-io/raft's self MsgStorageAppendResp). True when
 * its `match` grew.
 */
export function selfStable(s: RaftState): boolean {
  const self = s.progress[s.cfg.id];
  const durable = stableLast(s);
  if (s.role !== 'leader' || !self || durable <= self.match) return false;
  s.progress[s.cfg.id] = { ...self, match: durable, next: Math.max(self.next, durable + 1) };
  return true;
}

/**
 * Leader: append `data` as new entries of its term to the unstable tail. Its own `next` follows;
 * its `match` waits until the entries are durable ({@link selfStable}).
 */
export function appendEntries(s: RaftState, data: readonly Uint8Array[]): Entry[] {
  const last = view(s).lastIndex();
  const entries = data.map((d, i) => ({ term: s.term, index: last + 1 + i, data: d }));
  if (entries.length === 0) return entries;
  s.unstable = appendUnstable(s.unstable, entries);
  const self = s.progress[s.cfg.id]!;
  s.progress[s.cfg.id] = { ...self, next: last + entries.length + 1 };
  return entries;
}

/** Raise the commit index (never lower it); throws INTERNAL past the last entry. */
export function commitTo(s: RaftState, index: number): void {
  if (index <= s.commit) return;
  const last = view(s).lastIndex();
  if (s.uncommittedBytes > 0 && index <= last) {
    s.uncommittedBytes = Math.max(0, s.uncommittedBytes - payloadBytes(view(s).slice(s.commit + 1, index + 1, Number.POSITIVE_INFINITY)));
  }
  if (index > last) throw new OctopiiError('INTERNAL', `raft ${s.cfg.id}: commit ${index} is beyond the last index ${last}`);
  s.commit = index;
}

export const hardState = (s: RaftState): HardState => ({ term: s.term, vote: s.vote, commit: s.commit });
export const softState = (s: RaftState): SoftState => ({ lead: s.lead, role: s.role });
