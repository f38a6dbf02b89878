/**
 * `RawNode`: a synchronous handle on one `raft` actor (etcd's rawnode.go). The driver calls
 * `tick()` on its clock, `step(msg)` for each message received, `propose`/`readIndex` for its
 * clients, and, whenever `hasReady()`, handles `ready()` and calls `advance()`.
 *
 * ```ts
 * const storage = new MemoryLogStorage();
 * const node = new RawNode({ id: 1, voters: [1, 2, 3], storage });
 * node.tick();
 * if (node.hasReady()) {
 *   const rd = node.ready();
 *   if (rd.hardState) storage.setHardState(rd.hardState);
 *   storage.append(rd.entries);
 *   if (rd.sendBeforeSync) for (const m of rd.messages) transport.send(m);   // a leader: in parallel with its write
 *   if (rd.mustSync) storage.sync();      // durable before anything else is sent, and before advance
 *   if (!rd.sendBeforeSync) for (const m of rd.messages) transport.send(m);
 *   // (a leader may instead advance(rd, { durable: false }) at once and durable(i, t) after its sync)
 *   for (const e of rd.committedEntries) apply(e);
 *   node.advance(rd);
 * }
 * ```
 */
import { createActor, type Actor } from 'xstate';
import { ackOf, raftMachine, readyOf, type Message, type RaftEvent, type RaftMachineInput, type Ready, type Role } from '../../machines/raft.js';
import type { Progress } from '../../machines/raft/progress.js';
import { hasReady } from '../../machines/raft/ready.js';
import { view } from '../../machines/raft/state.js';
import { OctopiiError } from '../errors.js';
import { NotLeaderError } from './notLeader.js';

/** A node's state at a glance (etcd's Status). */
export interface RaftStatus {
  readonly id: number;
  readonly role: Role;
  readonly term: number;
  readonly vote: number;
  readonly lead: number;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  /** Leader only: each voter's progress. */
  readonly progress: Readonly<Record<number, Progress>>;
}

export class RawNode {
  readonly #actor: Actor<typeof raftMachine>;

  #error: unknown = undefined;

  /** Throws what the machine threw: INVALID_ARGUMENT for a bad input, INTERNAL for a broken invariant. */
  constructor(input: RaftMachineInput) {
    this.#actor = createActor(raftMachine, { input });
    // An action that throws puts the actor in its error state; surface it synchronously instead.
    this.#actor.subscribe({ error: (e) => (this.#error = e) });
    this.#actor.start();
    this.#check();
  }

  get id(): number {
    return this.#ctx().cfg.id;
  }

  /** One unit of time. */
  tick(): void {
    this.#do({ type: 'TICK' });
  }

  /** A message from a peer. */
  step(msg: Message): void {
    this.#do({ type: 'MSG', msg });
  }

  /**
   * Propose `data` for the log. Throws {@link NotLeaderError} (`NOT_LEADER`, with `leaderHint`)
   * on a node that knows no leader, or `TOO_LARGE` above `maxEntryBytes`; the rejection is also
   * in the next Ready. A follower that knows the leader forwards the proposal; nothing confirms
   * it except the entry appearing in `committedEntries`.
   */
  propose(data: Uint8Array): void {
    this.#send({ type: 'PROPOSE', data });
  }

  /** Ask for a linearizable read point for `context` (unique per read); answered in `Ready.readStates`. */
  readIndex(context: string): void {
    this.#send({ type: 'READ_INDEX', context });
  }

  /** Start an election now. */
  campaign(): void {
    this.#do({ type: 'CAMPAIGN' });
  }

  /** Whether `ready()` has anything to do. */
  hasReady(): boolean {
    return hasReady(this.#ctx());
  }

  /** What to persist, send and apply now. Calling it twice without `advance` returns the same (and more). */
  ready(): Ready {
    return readyOf(this.#actor.getSnapshot());
  }

  /**
   * `rd` (from `ready()`) was handled: entries and hard state are durable, messages sent, entries
   * applied. With `{ durable: false }` (a Ready with `sendBeforeSync` only, else INVALID_ARGUMENT)
   * its entries are written but still syncing: report the sync with {@link RawNode.durable}.
   */
  advance(rd: Ready, options: { durable?: boolean } = {}): void {
    this.#do({ type: 'ADVANCE', ack: ackOf(rd, options) });
  }

  /** The log is synced through the entry (`index`, `term`): a background write finished. */
  durable(index: number, term: number): void {
    this.#do({ type: 'DURABLE', index, term });
  }

  status(): RaftStatus {
    const c = this.#ctx();
    return {
      id: c.cfg.id,
      role: c.role,
      term: c.term,
      vote: c.vote,
      lead: c.lead,
      commit: c.commit,
      applied: c.applied,
      lastIndex: view(c).lastIndex(),
      progress: c.role === 'leader' ? c.progress : {},
    };
  }

  /** Term of entry `i` in this node's log including its unstable tail (0 when absent). */
  logTerm(i: number): number {
    return view(this.#ctx()).term(i);
  }

  /** The machine's state value (its role), for inspection. */
  get state(): string {
    return String(this.#actor.getSnapshot().value);
  }

  stop(): void {
    this.#actor.stop();
  }

  #do(event: RaftEvent): void {
    this.#check();
    this.#actor.send(event);
    this.#check();
  }

  #check(): void {
    if (this.#error !== undefined) throw this.#error;
  }

  #ctx() {
    return this.#actor.getSnapshot().context;
  }

  #send(event: { type: 'PROPOSE'; data: Uint8Array } | { type: 'READ_INDEX'; context: string }): void {
    const before = this.#ctx().rejections.length;
    this.#do(event);
    const after = this.#ctx().rejections;
    if (after.length > before) {
      const r = after[after.length - 1]!;
      if (r.code === 'NOT_LEADER') throw new NotLeaderError(this.id, r.leaderHint);
      const cfg = this.#ctx().cfg;
      const why = r.code === 'TOO_LARGE' ? `proposal larger than maxEntryBytes (${cfg.maxEntryBytes})` : `uncommitted entries at maxUncommittedBytes (${cfg.maxUncommittedBytes})`;
      throw new OctopiiError(r.code, `raft ${this.id}: ${why}`);
    }
  }
}
