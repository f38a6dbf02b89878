/**
 * Linearizable reads without writing to the log: ReadIndex (Ongaro's dissertation §6.4; etcd's
 * read_only.go, "safe" mode). The leader records its commit index as the read point, confirms
 * it is still leader with a round of heartbeats carrying the request's context, and answers once
 * a quorum acknowledged. A new leader first waits until an entry of its own term commits, since
 * only then is its commit index known to be the cluster's. Followers forward to the leader.
 *
 * Contexts are opaque strings chosen by the caller and must be unique among reads in flight.
 */
import { committedInCurrentTerm, bcastHeartbeat } from './replication.js';
import { quorum, send, type RaftState } from './state.js';
import type { Message } from './types.js';

/** A ReadIndex request reaching the leader, from itself (`m.from` = own ID) or forwarded by a follower. */
export function leaderReadIndex(s: RaftState, m: Message): void {
  if (s.cfg.voters.length === 1) {
    answer(s, m.from, s.commit, m.context);
    return;
  }
  if (!committedInCurrentTerm(s)) {
    s.pendingReadMsgs.push(m);
    return;
  }
  s.pendingReads.push({ index: s.commit, context: m.context, from: m.from, acks: [s.cfg.id] });
  bcastHeartbeat(s, m.context);
}

/** Requests parked until the first commit of this term: serve them now, if that happened. */
export function releasePendingReads(s: RaftState): void {
  if (s.pendingReadMsgs.length === 0 || !committedInCurrentTerm(s)) return;
  const msgs = s.pendingReadMsgs;
  s.pendingReadMsgs = [];
  for (const m of msgs) leaderReadIndex(s, m);
}

/**
 * A heartbeat response carrying a read context. Once a quorum acknowledged a round, that request
 * and every earlier one are answered (leadership at a later time covers earlier read points).
 */
export function handleReadAck(s: RaftState, m: Message): void {
  const at = s.pendingReads.findIndex((r) => r.context === m.context);
  if (at < 0) return;
  const r = s.pendingReads[at]!;
  const acks = r.acks.includes(m.from) ? r.acks : [...r.acks, m.from];
  s.pendingReads[at] = { ...r, acks };
  if (acks.length < quorum(s)) return;
  const done = s.pendingReads.splice(0, at + 1);
  for (const d of done) answer(s, d.from, d.index, d.context);
}

function answer(s: RaftState, to: number, index: number, context: string): void {
  if (to === s.cfg.id) s.readStates.push({ index, context });
  else send(s, { type: 'MsgReadIndexResp', to, index, context });
}
