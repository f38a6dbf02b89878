/**
 * The leader's view of one follower (etcd's tracker.Progress): how much of the log it holds
 * (`match`), what to send next (`next`), and how to send it.
 *
 * - `probe`: the leader does not know where the follower's log ends; one MsgApp at a time,
 *   walking `next` back with the follower's conflict hints until the logs match.
 * - `replicate`: the logs match up to `match`; MsgApps are pipelined optimistically (`next`
 *   jumps past what was sent), at most `maxInflight` at once. `inflights` holds the last index
 *   of each MsgApp in flight, oldest first; an ack frees every entry at or below it.
 *
 * All functions return a new Progress; none mutates its argument.
 */

export interface Progress {
  readonly match: number;
  readonly next: number;
  readonly state: 'probe' | 'replicate';
  /** Probe only: a MsgApp is in flight; wait for its answer (or a heartbeat response) before the next. */
  readonly probeSent: boolean;
  /** Replicate only: last index of each MsgApp in flight, ascending. */
  readonly inflights: readonly number[];
  /** Heard from since the last CheckQuorum round (dissertation §6.2). */
  readonly recentActive: boolean;
}

export const newProgress = (next: number, match = 0): Progress => ({
  match,
  next,
  state: 'probe',
  probeSent: false,
  inflights: [],
  recentActive: false,
});

export const becomeProbe = (p: Progress): Progress => ({ ...p, state: 'probe', next: p.match + 1, probeSent: false, inflights: [] });

export const becomeReplicate = (p: Progress): Progress => ({ ...p, state: 'replicate', next: p.match + 1, probeSent: false, inflights: [] });

/** Whether the leader must hold back MsgApps to this follower (flow control). */
export const isPaused = (p: Progress, maxInflight: number): boolean =>
  p.state === 'probe' ? p.probeSent : p.inflights.length >= maxInflight;

/** After sending a MsgApp whose entries end at `last` (or carry none, `last` = next − 1). */
export function sentEntries(p: Progress, count: number, last: number): Progress {
  if (p.state === 'replicate') {
    return count > 0 ? { ...p, next: last + 1, inflights: [...p.inflights, last] } : p;
  }
  return { ...p, probeSent: true };
}

/** Acknowledged up to `n`: `[updated, progress]` (updated when `match` grew). */
export function maybeUpdate(p: Progress, n: number): [boolean, Progress] {
  const updated = p.match < n;
  const q: Progress = {
    ...p,
    match: Math.max(p.match, n),
    next: Math.max(p.next, n + 1),
    probeSent: updated ? false : p.probeSent,
    inflights: p.inflights.filter((i) => i > n),
  };
  return [updated, q];
}

/**
 * A rejection of the MsgApp whose prevLogIndex was `rejected`, with the next index to try being
 * `hint + 1` (etcd's MaybeDecrTo): `[false, p]` when the rejection is stale.
 */
export function maybeDecrTo(p: Progress, rejected: number, hint: number): [boolean, Progress] {
  if (p.state === 'replicate') {
    if (rejected <= p.match) return [false, p];
    return [true, { ...p, next: p.match + 1 }];
  }
  if (p.next - 1 !== rejected) return [false, p];
  return [true, { ...p, next: Math.max(Math.min(rejected, hint + 1), p.match + 1), probeSent: false }];
}

/** A heartbeat response: the follower is alive, so a stuck probe or a full window may resume. */
export function heartbeatAcked(p: Progress, maxInflight: number): Progress {
  if (p.state === 'probe') return { ...p, probeSent: false, recentActive: true };
  const full = p.inflights.length >= maxInflight;
  return { ...p, recentActive: true, inflights: full ? p.inflights.slice(1) : p.inflights };
}
