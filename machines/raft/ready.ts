/**
 * `Ready` and `ADVANCE` (etcd's rawnode.go `Ready`/`Advance`): the output the core accumulated,
 * read as data, and the acknowledgement that the driver persisted, sent and applied it.
 */
import { OctopiiError } from '../../src/errors.js';
import { stableTo } from './log.js';
import { releasePendingReads } from './readIndex.js';
import { bcastAppend, maybeCommit } from './replication.js';
import { hardState, markDurable, selfStable, softState, view, type RaftState } from './state.js';
import type { HardState, Ready, SoftState } from './types.js';

/** What one ADVANCE acknowledges: counts of what the Ready held, and what is now durable / applied. */
export interface ReadyAck {
  readonly messages: number;
  readonly readStates: number;
  readonly rejections: number;
  readonly hardState?: HardState;
  readonly softState?: SoftState;
  /** The last entry of `Ready.entries`, now written to storage. */
  readonly stable?: { readonly index: number; readonly term: number };
  /**
   * Whether that write is already durable (synced). False when the driver writes a leader's
   * entries in the background (`sendBeforeSync`) and reports durability later with DURABLE.
   */
  readonly durable: boolean;
  /** The last committed entry handed out (and applied by the driver). */
  readonly applied: number;
}

const sameHard = (a: HardState, b: HardState) => a.term === b.term && a.vote === b.vote && a.commit === b.commit;

export function ready(s: RaftState): Ready {
  const hs = hardState(s);
  const ss = softState(s);
  const entries = s.unstable.entries;
  const rd: Ready = {
    entries,
    committedEntries: s.commit > s.applied ? view(s).slice(s.applied + 1, s.commit + 1, s.cfg.maxApplyBytes) : [],
    messages: s.msgs,
    readStates: s.readStates,
    rejections: s.rejections,
    mustSync: entries.length > 0 || hs.term !== s.prevHard.term || hs.vote !== s.prevHard.vote,
    sendBeforeSync: s.role === 'leader' && hs.term === s.prevHard.term && hs.vote === s.prevHard.vote,
    ...(sameHard(hs, s.prevHard) ? {} : { hardState: hs }),
    ...(ss.lead === s.prevSoft.lead && ss.role === s.prevSoft.role ? {} : { softState: ss }),
  };
  return rd;
}

/** Whether `ready(s)` has anything in it (without building it). */
export function hasReady(s: RaftState): boolean {
  const h = s.prevHard;
  return (
    s.unstable.entries.length > 0 ||
    s.commit > s.applied ||
    s.msgs.length + s.readStates.length + s.rejections.length > 0 ||
    s.term !== h.term ||
    s.vote !== h.vote ||
    s.commit !== h.commit ||
    s.lead !== s.prevSoft.lead ||
    s.role !== s.prevSoft.role
  );
}

/**
 * The acknowledgement of `rd` once handled. `durable: false` (only for a Ready with
 * `sendBeforeSync`): its entries are written but their sync is still under way.
 */
export function ackOf(rd: Ready, { durable = true }: { durable?: boolean } = {}): ReadyAck {
  if (!durable && !rd.sendBeforeSync) throw new OctopiiError('INVALID_ARGUMENT', 'raft: only a Ready with sendBeforeSync may be acknowledged before its write is durable');
  const last = rd.entries[rd.entries.length - 1];
  const applied = rd.committedEntries[rd.committedEntries.length - 1];
  return {
    messages: rd.messages.length,
    readStates: rd.readStates.length,
    rejections: rd.rejections.length,
    ...(rd.hardState ? { hardState: rd.hardState } : {}),
    ...(rd.softState ? { softState: rd.softState } : {}),
    ...(last ? { stable: { index: last.index, term: last.term } } : {}),
    durable,
    applied: applied ? applied.index : 0,
  };
}

export function advance(s: RaftState, ack: ReadyAck): void {
  if (ack.messages > s.msgs.length || ack.readStates > s.readStates.length || ack.rejections > s.rejections.length || ack.applied > s.commit) {
    throw new OctopiiError('INTERNAL', 'raft: ADVANCE acknowledges more than any Ready held');
  }
  s.msgs.splice(0, ack.messages);
  s.readStates.splice(0, ack.readStates);
  s.rejections.splice(0, ack.rejections);
  if (ack.hardState) s.prevHard = ack.hardState;
  if (ack.softState) s.prevSoft = ack.softState;
  if (ack.stable) {
    s.unstable = stableTo(s.unstable, ack.stable.index, ack.stable.term);
    if (ack.durable) markDurable(s, ack.stable.index, ack.stable.term);
  }
  s.applied = Math.max(s.applied, ack.applied);
  leaderSelfAck(s);
}

/** DURABLE: the driver's background write (of a `sendBeforeSync` Ready) is synced through (`index`, `term`). */
export function durable(s: RaftState, index: number, term: number): void {
  markDurable(s, index, term);
  leaderSelfAck(s);
}

/** A leader's own entries count toward the quorum once durable (they were sent before). */
function leaderSelfAck(s: RaftState): void {
  if (selfStable(s) && maybeCommit(s)) {
    releasePendingReads(s);
    bcastAppend(s);
  }
}
