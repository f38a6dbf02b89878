/**
 * Requests from the node's own clients, as the chart routes them by role: proposals (appended by
 * the leader, forwarded by a follower that knows one — Raft §8 — or refused), ReadIndex
 * requests (dissertation §6.4), and campaigns. Refusals land in `Ready.rejections`.
 */
import { hup } from './election.js';
import { leaderReadIndex } from './readIndex.js';
import { send, type RaftState } from './state.js';
import { leaderPropose } from './step.js';
import { message, type Rejection } from './types.js';

/** Leader: append `data` and replicate it. */
export function proposeAsLeader(s: RaftState, data: Uint8Array): void {
  leaderPropose(s, [data]);
}

/** Follower with a known leader: forward `data` as a MsgProp (term 0: not bound to a term). */
export function forwardProposal(s: RaftState, data: Uint8Array): void {
  send(s, { type: 'MsgProp', to: s.lead, entries: [{ term: 0, index: 0, data }] });
}

/** Refuse a local request, telling the caller which leader to try (0 = none known). */
export function reject(s: RaftState, kind: Rejection['kind'], code: Rejection['code'], context = ''): void {
  s.rejections.push({ kind, code, leaderHint: s.lead, context });
}

/** Leader: start a ReadIndex round for `context`. */
export function readAsLeader(s: RaftState, context: string): void {
  leaderReadIndex(s, message({ type: 'MsgReadIndex', from: s.cfg.id, to: s.cfg.id, context }));
}

/** Follower with a known leader: forward the read; the answer comes back as MsgReadIndexResp. */
export function forwardRead(s: RaftState, context: string): void {
  send(s, { type: 'MsgReadIndex', to: s.lead, context });
}

/** Start an election now (PreVote first when enabled). */
export function campaign(s: RaftState): void {
  hup(s, false);
}
