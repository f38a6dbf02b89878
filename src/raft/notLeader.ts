/**
 * The error a proposal or read gets on a node that cannot serve it: `NOT_LEADER`, with the
 * leader this node knows of so the caller can retry there (Raft §8: "if the client contacts a
 * follower, the follower redirects it to the leader").
 */
import { OctopiiError } from '../errors.js';

export class NotLeaderError extends OctopiiError {
  /** The known leader's node ID, or undefined when none is known (an election is under way). */
  readonly leaderHint: number | undefined;
  constructor(id: number, leaderHint: number) {
    super('NOT_LEADER', leaderHint === 0 ? `raft ${id}: not the leader, and no leader is known` : `raft ${id}: not the leader; the leader is ${leaderHint}`);
    this.leaderHint = leaderHint === 0 ? undefined : leaderHint;
  }
}
