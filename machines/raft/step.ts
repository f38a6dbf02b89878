/**
 * `step`: one Raft message into the state (etcd's `Step`). Terms are reconciled first, the same
 * for every role (Raft §5.1: a higher term turns anyone into a follower, a lower one is stale);
 * then vote requests are answered; then the role's step function handles the rest.
 *
 * Also the clock: `tickHeartbeat` (leader) and `tickElection` (everyone else). Local requests
 * (proposals, reads, campaigns) are in ./local.ts.
 */
import { handleVoteRequest, handleVoteResponse, inLease } from './election.js';
export { tickElection } from './election.js';
import { handleAppendEntries, handleHeartbeat } from './follower.js';
import { handleReadAck, leaderReadIndex } from './readIndex.js';
import { bcastAppend, bcastHeartbeat, handleAppendResponse, handleHeartbeatResponse } from './replication.js';
import { appendEntries, becomeFollower, isMember, quorum, send, type RaftState } from './state.js';
import { NONE, type Message } from './types.js';

export function step(s: RaftState, m: Message): void {
  if (m.to !== s.cfg.id || m.from === s.cfg.id || !isMember(s, m.from)) return; // not for us, or from a non-member
  if (m.term === 0 && m.type !== 'MsgProp' && m.type !== 'MsgReadIndex') return; // only forwarded requests lack a term
  if (m.term > s.term) {
    if ((m.type === 'MsgVote' || m.type === 'MsgPreVote') && inLease(s, m.type)) return; // a live leader exists: do not let this node disrupt it
    if (m.type === 'MsgPreVote' || (m.type === 'MsgPreVoteResp' && !m.reject)) {
      // A pre-vote (or a grant of one) is for a term that may never happen: change nothing.
    } else if (m.type === 'MsgApp' || m.type === 'MsgHeartbeat') {
      becomeFollower(s, m.term, m.from);
    } else {
      becomeFollower(s, m.term, NONE);
    }
  } else if (m.term < s.term && m.term !== 0) {
    // Stale sender (Raft §5.1): answer with our term so a deposed leader or candidate steps down.
    if (m.type === 'MsgApp' || m.type === 'MsgHeartbeat') send(s, { type: 'MsgAppResp', to: m.from });
    else if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
      send(s, { type: m.type === 'MsgVote' ? 'MsgVoteResp' : 'MsgPreVoteResp', to: m.from, reject: true });
    }
    return;
  }
  if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
    handleVoteRequest(s, m);
    return;
  }
  switch (s.role) {
    case 'leader':
      return stepLeader(s, m);
    case 'preCandidate':
    case 'candidate':
      return stepCandidate(s, m);
    case 'follower':
      return stepFollower(s, m);
  }
}

function stepLeader(s: RaftState, m: Message): void {
  switch (m.type) {
    case 'MsgProp':
      // Forwarded by a follower: ours to check against our own size limit.
      return leaderPropose(s, m.entries.map((e) => e.data).filter((d) => d.length <= s.cfg.maxEntryBytes));
    case 'MsgReadIndex':
      return leaderReadIndex(s, m);
    case 'MsgAppResp':
      return handleAppendResponse(s, m);
    case 'MsgHeartbeatResp':
      if (handleHeartbeatResponse(s, m) && m.context !== '') handleReadAck(s, m);
      return;
    default:
      return; // e.g. a late vote answer
  }
}

function stepCandidate(s: RaftState, m: Message): void {
  switch (m.type) {
    case 'MsgApp':
      becomeFollower(s, m.term, m.from); // someone won this term
      return handleAppendEntries(s, m);
    case 'MsgHeartbeat':
      becomeFollower(s, m.term, m.from);
      return handleHeartbeat(s, m);
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
      return handleVoteResponse(s, m);
    default:
      return; // MsgProp / MsgReadIndex forwarded to a node that is no longer leader: dropped
  }
}

function stepFollower(s: RaftState, m: Message): void {
  switch (m.type) {
    case 'MsgApp':
      s.electionElapsed = 0;
      s.lead = m.from;
      return handleAppendEntries(s, m);
    case 'MsgHeartbeat':
      s.electionElapsed = 0;
      s.lead = m.from;
      return handleHeartbeat(s, m);
    case 'MsgProp':
    case 'MsgReadIndex':
      if (s.lead !== NONE) send(s, { type: m.type, to: s.lead, entries: m.entries, context: m.context });
      return;
    case 'MsgReadIndexResp':
      s.readStates.push({ index: m.index, context: m.context });
      return;
    default:
      return;
  }
}

/**
 * Leader: append proposals and replicate them at once, before they are durable here (a single
 * voter commits when the driver reports them stable, see ADVANCE).
 */
export function leaderPropose(s: RaftState, data: readonly Uint8Array[]): void {
  if (data.length === 0) return;
  if (uncommittedFull(s, data)) return; // forwarded proposals over the limit are dropped; local ones are refused first
  appendEntries(s, data);
  for (const d of data) s.uncommittedBytes += d.length;
  bcastAppend(s);
}

/** Whether appending `data` would exceed `maxUncommittedBytes` (never when nothing is uncommitted). */
export function uncommittedFull(s: RaftState, data: readonly Uint8Array[]): boolean {
  const max = s.cfg.maxUncommittedBytes;
  if (max === 0 || s.uncommittedBytes === 0) return false;
  let n = 0;
  for (const d of data) n += d.length;
  return s.uncommittedBytes + n > max;
}

/**
 * Leader tick: heartbeats every `heartbeatTick`; every `electionTick`, CheckQuorum — step down
 * unless a quorum was heard from during the interval (dissertation §6.2).
 */
export function tickHeartbeat(s: RaftState): void {
  s.heartbeatElapsed++;
  s.electionElapsed++;
  if (s.electionElapsed >= s.cfg.electionTick) {
    s.electionElapsed = 0;
    if (s.cfg.checkQuorum) {
      const active = s.cfg.voters.filter((v) => v === s.cfg.id || s.progress[v]?.recentActive).length;
      if (active < quorum(s)) {
        becomeFollower(s, s.term, NONE);
        return;
      }
      for (const v of s.cfg.voters) {
        if (v !== s.cfg.id) s.progress[v] = { ...s.progress[v]!, recentActive: false };
      }
    }
  }
  if (s.heartbeatElapsed >= s.cfg.heartbeatTick) {
    s.heartbeatElapsed = 0;
    bcastHeartbeat(s);
  }
}
