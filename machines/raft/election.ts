/**
 * Elections: the follower/candidate clock, campaigns, and vote requests and answers
 * (Raft §5.2, §5.4.1; PreVote from Ongaro's dissertation §9.6; the lease check from §6.2/§4.2.3
 * that makes a node with a live leader ignore vote requests when CheckQuorum is on).
 */
import { bcastAppend } from './replication.js';
import {
  becomeCandidate,
  becomeFollower,
  becomeLeader,
  becomePreCandidate,
  peers,
  quorum,
  send,
  view,
  type RaftState,
} from './state.js';
import type { Message } from './types.js';

/** Follower / candidate tick: campaign once the randomized election timeout has passed. */
export function tickElection(s: RaftState): void {
  s.electionElapsed++;
  if (s.electionElapsed >= s.randomizedElectionTimeout) {
    s.electionElapsed = 0;
    hup(s, false);
  }
}

/**
 * Start an election. With PreVote, a pre-election at term + 1 that changes nothing persistent
 * comes first, unless `force` asks for the real election at once.
 */
export function hup(s: RaftState, force: boolean): void {
  if (s.role === 'leader') return;
  if (s.cfg.preVote && !force) campaign(s, 'pre');
  else campaign(s, 'real');
}

function campaign(s: RaftState, kind: 'pre' | 'real'): void {
  let term: number;
  if (kind === 'pre') {
    becomePreCandidate(s);
    term = s.term + 1;
  } else {
    becomeCandidate(s);
    term = s.term;
  }
  s.votes[s.cfg.id] = true;
  if (tally(s)) return;
  const v = view(s);
  const type = kind === 'pre' ? 'MsgPreVote' : 'MsgVote';
  for (const to of peers(s)) send(s, { type, to, term, index: v.lastIndex(), logTerm: v.lastTerm() });
}

/**
 * Count votes; on a win a pre-candidate starts the real election and a candidate becomes leader,
 * on a loss both return to follower. True when the round is decided.
 */
function tally(s: RaftState): boolean {
  let granted = 0;
  let rejected = 0;
  for (const v of Object.values(s.votes)) v ? granted++ : rejected++;
  const q = quorum(s);
  if (granted >= q) {
    if (s.role === 'preCandidate') campaign(s, 'real');
    else {
      becomeLeader(s); // a single voter commits its no-op once the driver reports it stable
      bcastAppend(s);
    }
    return true;
  }
  if (rejected > s.cfg.voters.length - q) {
    becomeFollower(s, s.term, 0);
    return true;
  }
  return false;
}

/**
 * Whether a vote request arriving with a higher term should be ignored because a leader is
 * alive: we heard from one within the minimum election timeout, so no one else can have won.
 * Pre-votes: dissertation §9.6 (a server grants a pre-vote only if it has not heard from a
 * leader recently). Real votes: only with CheckQuorum (§4.2.3, "disruptive servers"), which also
 * keeps leaders honest about being alive.
 */
export function inLease(s: RaftState, type: 'MsgVote' | 'MsgPreVote'): boolean {
  const guarded = type === 'MsgPreVote' ? s.cfg.preVote || s.cfg.checkQuorum : s.cfg.checkQuorum;
  return guarded && s.lead !== 0 && s.electionElapsed < s.cfg.electionTick;
}

/**
 * A MsgVote / MsgPreVote at our term or above (terms already reconciled by `step`). Grant when
 * we may vote for the sender and its log is at least as up to date as ours (Raft §5.4.1).
 * A pre-vote for a future term is granted without recording anything.
 */
export function handleVoteRequest(s: RaftState, m: Message): void {
  const pre = m.type === 'MsgPreVote';
  const canVote = s.vote === m.from || (s.vote === 0 && s.lead === 0) || (pre && m.term > s.term);
  const respType = pre ? 'MsgPreVoteResp' : 'MsgVoteResp';
  if (canVote && view(s).isUpToDate(m.index, m.logTerm)) {
    // Answer at the request's term: a pre-candidate counts only answers for the term it would run at.
    send(s, { type: respType, to: m.from, term: m.term });
    if (!pre) {
      s.electionElapsed = 0;
      s.vote = m.from;
    }
  } else {
    send(s, { type: respType, to: m.from, term: s.term, reject: true });
  }
}

/** A MsgVoteResp / MsgPreVoteResp reaching a (pre-)candidate. */
export function handleVoteResponse(s: RaftState, m: Message): void {
  const expected = s.role === 'preCandidate' ? 'MsgPreVoteResp' : 'MsgVoteResp';
  if (m.type !== expected) return;
  if (!(m.from in s.votes)) s.votes[m.from] = !m.reject;
  tally(s);
}
