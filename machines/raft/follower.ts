/**
 * The follower's side of replication (Raft §5.3, Figure 2 "AppendEntries RPC"): the
 * consistency check on prevLogIndex/prevLogTerm, truncation of a conflicting suffix, commit
 * following the leader, and the conflict hint for fast backtracking.
 */
import { OctopiiError } from '../../src/errors.js';
import { appendUnstable } from './log.js';
import { commitTo, send, view, type RaftState } from './state.js';
import { payloadBytes, type Message } from './types.js';

/** A MsgApp from the leader of our term. */
export function handleAppendEntries(s: RaftState, m: Message): void {
  if (payloadBytes(m.entries) > s.cfg.maxAppendBytes) return; // oversized: drop unread; the leader will retry
  if (m.index < s.commit) {
    // Everything up to commit is settled; tell the leader where we are.
    send(s, { type: 'MsgAppResp', to: m.from, index: s.commit });
    return;
  }
  const v = view(s);
  if (v.matchTerm(m.index, m.logTerm)) {
    const lastNew = m.index + m.entries.length;
    const conflict = m.entries.find((e) => !v.matchTerm(e.index, e.term));
    if (conflict) {
      if (conflict.index <= s.commit) {
        throw new OctopiiError('INTERNAL', `raft ${s.cfg.id}: entry ${conflict.index} conflicts with committed entry (commit ${s.commit})`);
      }
      s.unstable = appendUnstable(s.unstable, m.entries.slice(conflict.index - m.entries[0]!.index));
    }
    commitTo(s, Math.min(m.commit, lastNew));
    send(s, { type: 'MsgAppResp', to: m.from, index: lastNew });
    return;
  }
  // Reject with a hint: the last index ≤ min(prevLogIndex, our last) whose term ≤ prevLogTerm.
  const [hintIndex, hintTerm] = v.findConflictByTerm(Math.min(m.index, v.lastIndex()), m.logTerm);
  send(s, { type: 'MsgAppResp', to: m.from, index: m.index, reject: true, rejectHint: hintIndex, logTerm: hintTerm });
}

/** A MsgHeartbeat from the leader of our term: follow its commit (bounded by what we hold, see bcastHeartbeat). */
export function handleHeartbeat(s: RaftState, m: Message): void {
  commitTo(s, Math.min(m.commit, view(s).lastIndex()));
  send(s, { type: 'MsgHeartbeatResp', to: m.from, context: m.context });
}
