/**
 * The leader's side of log replication (Raft §5.3, §5.4.2; etcd's raft.go `sendAppend`,
 * `maybeCommit`, stepLeader's MsgAppResp): batched MsgApps (at most `maxMsgEntries` entries and
 * `maxMsgBytes` bytes each), pipelined in replicate state within an inflight window, probing
 * with fast backtracking after a rejection, and commitment by counting replicas of an entry of
 * the current term only.
 */
import {
  becomeProbe,
  becomeReplicate,
  heartbeatAcked,
  isPaused,
  maybeDecrTo,
  maybeUpdate,
  sentEntries,
} from './progress.js';
import { releasePendingReads } from './readIndex.js';
import { commitTo, peers, quorum, send, view, type RaftState } from './state.js';
import type { Message, NodeId } from './types.js';

/**
 * Send `to` the next MsgApp if flow control allows. With `sendIfEmpty` false, only when there
 * are entries to send. True when a message was queued.
 */
export function sendAppend(s: RaftState, to: NodeId, sendIfEmpty = true): boolean {
  let pr = s.progress[to];
  if (!pr || isPaused(pr, s.cfg.maxInflight)) return false;
  const v = view(s);
  const last = v.lastIndex();
  const prev = pr.next - 1;
  if (prev > last) {
    // Defensive: while we lead, `next` never passes lastIndex + 1. Should it, probe rather than send a gap.
    pr = becomeProbe(pr);
    s.progress[to] = pr;
  }
  const entries = v.slice(pr.next, Math.min(last + 1, pr.next + s.cfg.maxMsgEntries), s.cfg.maxMsgBytes);
  if (entries.length === 0 && !sendIfEmpty) return false;
  const prevIndex = pr.next - 1;
  send(s, { type: 'MsgApp', to, index: prevIndex, logTerm: v.term(prevIndex), entries, commit: s.commit });
  s.progress[to] = sentEntries(pr, entries.length, prevIndex + entries.length);
  return true;
}

/** Send every follower what it lacks (also how a new commit index travels). */
export function bcastAppend(s: RaftState): void {
  for (const to of peers(s)) sendAppend(s, to);
}

/**
 * Heartbeats carry `min(match, commit)` so a follower never commits past what it verifiably
 * holds, and optionally a ReadIndex round's context (§6.4).
 */
export function bcastHeartbeat(s: RaftState, context = ''): void {
  for (const to of peers(s)) {
    const pr = s.progress[to]!;
    send(s, { type: 'MsgHeartbeat', to, commit: Math.min(pr.match, s.commit), context });
  }
}

/**
 * Advance commit to the highest index a quorum holds — only if that entry is of the current
 * term (Raft §5.4.2, Figure 8): earlier entries are then committed indirectly.
 */
export function maybeCommit(s: RaftState): boolean {
  const matches = s.cfg.voters.map((v) => s.progress[v]?.match ?? 0).sort((a, b) => b - a);
  const index = matches[quorum(s) - 1]!;
  if (index <= s.commit || view(s).term(index) !== s.term) return false;
  commitTo(s, index);
  return true;
}

/** Whether the leader has committed an entry of its own term (required before serving reads, §6.4). */
export const committedInCurrentTerm = (s: RaftState): boolean => view(s).term(s.commit) === s.term;

/** A MsgAppResp at the leader. */
export function handleAppendResponse(s: RaftState, m: Message): void {
  let pr = s.progress[m.from];
  if (!pr) return;
  pr = { ...pr, recentActive: true };
  s.progress[m.from] = pr;
  if (m.reject) {
    // Fast backtracking: the follower's hint (rejectHint, logTerm) lets us skip past every entry
    // of a term the follower does not have, or jump to where its log ends.
    let hint = m.rejectHint;
    if (m.logTerm > 0) hint = view(s).findConflictByTerm(m.rejectHint, m.logTerm)[0];
    const [changed, q] = maybeDecrTo(pr, m.index, hint);
    if (!changed) return;
    s.progress[m.from] = q.state === 'replicate' ? becomeProbe(q) : q;
    sendAppend(s, m.from);
    return;
  }
  const wasPaused = isPaused(pr, s.cfg.maxInflight);
  const [updated, q0] = maybeUpdate(pr, m.index);
  if (!updated) return;
  const q = q0.state === 'probe' ? becomeReplicate(q0) : q0;
  s.progress[m.from] = q;
  if (maybeCommit(s)) {
    releasePendingReads(s);
    bcastAppend(s);
  } else if (wasPaused) {
    sendAppend(s, m.from);
  }
  // Pipeline: keep sending while the window has room and there is something new.
  while (sendAppend(s, m.from, false));
}

/** A MsgHeartbeatResp at the leader: liveness for CheckQuorum, a nudge for a lagging follower. */
export function handleHeartbeatResponse(s: RaftState, m: Message): boolean {
  const pr = s.progress[m.from];
  if (!pr) return false;
  s.progress[m.from] = heartbeatAcked(pr, s.cfg.maxInflight);
  if (pr.match < view(s).lastIndex()) sendAppend(s, m.from);
  return true;
}
