/**
 * `RaftHost`: runs one Raft member on an octopii node — the driver of a {@link RawNode}
 * (etcd's raft `node.go` + etcdserver's raft loop). It ticks on the node's clock (every
 * `tickMs`), steps messages from the `raft` stream kind (src/raft/transport.ts), and handles
 * each Ready in etcd's order: write entries and hard state to the {@link WalStorage} and, when
 * `mustSync`, wait for the WAL's group-committed fdatasync; only then send the messages (Raft §5:
 * a vote or an append is answered only once it is durable) — except a leader's, which go out
 * while its own write runs (`Ready.sendBeforeSync`, dissertation §10.2.1); apply committed entries
 * to the {@link StateMachine} (without waiting for the write: they are durable on a quorum);
 * serve ReadIndex reads (dissertation §6.4); advance.
 *
 *   const host = await RaftHost.open({ node, dir, self: 1, members, stateMachine });
 *   const result = await host.propose(bytes, { timeoutMs: 5000 });   // the apply's result
 *   await host.linearizableRead({ timeoutMs: 5000 });                 // then read the state
 *
 * Proposals are taken on the leader only (others throw NOT_LEADER with a hint), which lets the
 * host know the index and term of each proposal and answer it with its own apply result. A
 * proposal whose index gets another entry (a new leader overwrote it) rejects NOT_LEADER; one
 * that neither commits nor is overwritten in time rejects TIMEOUT (it may still commit — clients
 * retry with the same session, src/kv/stateMachine.ts).
 *
 * Proposal batching: commands proposed while a Ready is being written are proposed together as
 * one entry when the write completes (one MsgApp, one fsync per member for all of them); each
 * still gets its own result (the pending proposals and reads: ./requests.ts).
 *
 * A disk that refuses writes: a follower's or candidate's failed Ready is not sent (a leader's
 * went out before its write, dissertation §10.2.1); the member stops ticking and stepping (to
 * the others it looks down, so a healthy member takes over), proposals and reads reject with the
 * WAL's error (DISK_FULL, IO_ERROR…), and the write is retried every tick; once it succeeds the
 * member carries on. A proposal rejected so by a leader may still commit through its followers:
 * the error is indeterminate, as a timeout is (KvClient retries with the same session, so the
 * command applies once).
 */
import { OctopiiError, toOctopiiError } from '../errors.js';
import type { OctopiiNode } from '../node/node.js';
import type { WalOptions } from '../wal/index.js';
import type { Message, RaftMachineInput, Ready } from '../../machines/raft.js';
import { NotLeaderError } from './notLeader.js';
import { RawNode, type RaftStatus } from './rawNode.js';
import type { StateMachine } from './stateMachine.js';
import { RaftTransport, type RaftMember } from './transport.js';
import { WalStorage } from './walStorage.js';
import { decodeBatch, PendingRequests, waitFor, type CallOptions } from './requests.js';

export { decodeBatch, encodeBatch, type CallOptions } from './requests.js';

export interface RaftHostOptions<R> {
  node: OctopiiNode;
  /** Directory of this member's WAL. */
  dir: string;
  /** This member's Raft ID (1..N). */
  self: number;
  members: readonly RaftMember[];
  stateMachine: StateMachine<R>;
  /** Tick length, ms (default 100). */
  tickMs?: number;
  /** Election timeout in ticks (default 10: 1–2 s at 100 ms). */
  electionTick?: number;
  /** Heartbeat interval in ticks (default 1). */
  heartbeatTick?: number;
  /** Other tunables of the core. */
  raft?: Partial<Omit<RaftMachineInput, 'id' | 'voters' | 'storage' | 'hardState' | 'applied'>>;
  /** WAL options (tests pass a file layer that fails on command). */
  wal?: WalOptions;
}

export class RaftHost<R = unknown> {
  readonly raw: RawNode;
  readonly storage: WalStorage;
  readonly members: readonly RaftMember[];
  readonly #node: OctopiiNode;
  readonly #sm: StateMachine<R>;
  readonly #transport: RaftTransport;
  readonly #tickMs: number;
  readonly #requests: PendingRequests<R>;
  #timer: unknown = null;
  #running = false;
  #stopped = false;
  #diskError: OctopiiError | null = null;
  #applied = 0;
  /** Ready handled so far (for status). */
  readies = 0;
  /** Times this member saw a new leader (the first one included; etcd's `leader_changes_seen_total`). */
  leaderChanges = 0;
  #lastLead = 0;
  readonly #proposalListeners = new Set<(r: { ms: number; code: string }) => void>();

  private constructor(o: RaftHostOptions<R>, storage: WalStorage) {
    this.#node = o.node;
    this.#sm = o.stateMachine;
    this.storage = storage;
    this.members = o.members;
    this.#tickMs = o.tickMs ?? 100;
    this.raw = new RawNode({
      ...o.raft,
      id: o.self,
      voters: o.members.map((m) => m.id),
      storage,
      hardState: storage.hardState(),
      electionTick: o.electionTick ?? 10,
      heartbeatTick: o.heartbeatTick ?? 1,
      applied: 0,
    }, {
      // Under the node's supervisor as `raft:<id>`: in its actor tree, its inspection events and the observe page.
      spawn: (logic, input) => o.node.spawn(`raft:${o.self}`, logic, { input, restart: 'temporary' }),
      stop: () => o.node.stopChild(`raft:${o.self}`),
    });
    this.#requests = new PendingRequests(this.raw);
    this.#transport = new RaftTransport({ node: o.node, self: o.self, members: o.members, writeTimeoutMs: this.#tickMs * (o.electionTick ?? 10), onMessage: (m) => this.#step(m) });
    this.#schedule();
  }

  /** Opens the WAL in `dir`, replays the log into a fresh state machine and starts ticking. Throws the WAL's open errors. */
  static async open<R>(o: RaftHostOptions<R>): Promise<RaftHost<R>> {
    if (!o.members.some((m) => m.id === o.self)) throw new OctopiiError('INVALID_ARGUMENT', `raft: member ${o.self} is not in the member list`);
    const storage = await WalStorage.open(o.dir, o.wal);
    return new RaftHost(o, storage);
  }

  get id(): number {
    return this.raw.id;
  }

  /** Highest index applied to the state machine. */
  get applied(): number {
    return this.#applied;
  }

  /** The error that stopped writes, while the disk refuses them. */
  get diskError(): OctopiiError | null {
    return this.#diskError;
  }

  get dropped(): number {
    return this.#transport.dropped;
  }

  status(): RaftStatus & { diskError: string | null } {
    return { ...this.raw.status(), applied: this.#applied, diskError: this.#diskError?.message ?? null };
  }

  /** The member with this Raft ID. */
  member(id: number): RaftMember | undefined {
    return this.members.find((m) => m.id === id);
  }

  /**
   * Proposes `command` and resolves with the state machine's result once it is applied here.
   * Throws NOT_LEADER (with `leaderHint`), TOO_LARGE, RESOURCE_EXHAUSTED, the disk's error,
   * TIMEOUT, ABORTED, CLOSED.
   */
  propose(command: Uint8Array, options: CallOptions = {}): Promise<R> {
    this.#usable();
    if (command.byteLength === 0) throw new OctopiiError('INVALID_ARGUMENT', 'raft: an empty command is reserved for the leader no-op');
    const st = this.raw.status();
    if (st.role !== 'leader') throw new NotLeaderError(this.id, st.lead);
    const p = waitFor<R>(this.#node.clock, this.id, options, 'proposal', (w) => this.#requests.queueProposal(command, w), () => undefined);
    this.#kick();
    if (this.#proposalListeners.size > 0) {
      const clock = this.#node.clock;
      const t0 = clock.now();
      const emit = (code: string) => {
        const r = { ms: clock.now() - t0, code };
        for (const l of this.#proposalListeners) l(r);
      };
      p.then(
        () => emit('OK'),
        (e: unknown) => emit((e as OctopiiError).code ?? 'UNKNOWN'),
      );
    }
    return p;
  }

  /**
   * Calls `listener` when a proposal taken by {@link propose} settles: `ms` from the call to
   * its apply (or failure) on the node's clock, `code` `OK` or the error code. Returns an unsubscribe.
   */
  onProposal(listener: (r: { ms: number; code: string }) => void): () => void {
    this.#proposalListeners.add(listener);
    return () => this.#proposalListeners.delete(listener);
  }

  /**
   * Resolves once this member's state machine reflects every write committed before the call
   * (ReadIndex, dissertation §6.4): read the state right after. Throws NOT_LEADER, TIMEOUT,
   * ABORTED, CLOSED, the disk's error.
   */
  linearizableRead(options: CallOptions = {}): Promise<void> {
    this.#usable();
    const st = this.raw.status();
    if (st.role !== 'leader' && st.lead === 0) throw new NotLeaderError(this.id, 0);
    const p = waitFor<void>(this.#node.clock, this.id, options, 'read', (w) => this.#requests.queueRead(w), () => undefined);
    this.#kick();
    return p;
  }

  /** Start an election now (tests, leadership hand-off by hand). */
  campaign(): void {
    this.raw.campaign();
    this.#kick();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== null) this.#node.clock.clearTimeout(this.#timer);
    this.#transport.close();
    const closed = new OctopiiError('CLOSED', `raft ${this.id}: stopped`);
    this.#requests.rejectAll(closed, true);
    this.raw.stop();
    await this.storage.close().catch(() => undefined);
  }

  #usable(): void {
    if (this.#stopped) throw new OctopiiError('CLOSED', `raft ${this.id}: stopped`);
    if (this.#diskError) throw new OctopiiError(this.#diskError.code, `raft ${this.id}: not accepting writes: the disk refused a write (${this.#diskError.message})`);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#node.clock.setTimeout(() => this.#onTick(), this.#tickMs);
  }

  #onTick(): void {
    this.#schedule();
    if (this.#diskError) return this.#kick(); // retry the failed write; no ticking meanwhile
    try {
      this.raw.tick();
    } catch (e) {
      return this.#fatal(e);
    }
    this.#kick();
  }

  #step(m: Message): void {
    if (this.#stopped || this.#diskError) return;
    try {
      this.raw.step(m);
    } catch (e) {
      return this.#fatal(e);
    }
    this.#kick();
  }

  #kick(): void {
    if (this.#running || this.#stopped) return;
    this.#running = true;
    void this.#loop().catch((e) => this.#fatal(e));
  }

  /** An invariant broke in the core: stop this member rather than run on with a bad state. */
  #fatal(e: unknown): void {
    void this.stop();
    this.#node.logger.error({ event: 'raft.fatal', id: this.id, error: String(e) });
  }

  /** A Ready whose write failed, kept to be written again first; what of it was already done. */
  #pendingReady: { rd: Ready; sent: boolean; applied: boolean } | null = null;

  /**
   * The drain ends: cleared synchronously, so that a kick from a continuation that runs right
   * after (a client answered and proposes again) starts a new drain instead of waiting a tick.
   */
  #idle(): void {
    this.#running = false;
  }

  async #loop(): Promise<void> {
    try {
      await this.#drain();
    } catch (e) {
      this.#running = false;
      throw e;
    }
  }

  /**
   * One Ready at a time: write it to the WAL's mirror; send its messages at once when
   * `sendBeforeSync` (a leader: its disk write runs in parallel with the followers', dissertation
   * §10.2.1); apply its committed entries (durable on a quorum already, so this need not wait for
   * our own write — etcd's server applies in parallel with its WAL save too); wait for the
   * fdatasync when `mustSync`; send the rest; advance.
   */
  async #drain(): Promise<void> {
    let spins = 0;
    while (!this.#stopped) {
      // Iterations without a write in between: a Ready that never drains is a bug in the core.
      if (++spins > 10_000) {
        const rd = this.raw.ready();
        throw new OctopiiError('INTERNAL', `raft ${this.id}: Ready does not drain: ${JSON.stringify({ status: this.raw.status(), rd: { ...rd, entries: rd.entries.length, committedEntries: rd.committedEntries.map((e) => e.index), messages: rd.messages.length } })}`);
      }
      // A Ready whose write failed is kept and written again before anything else.
      let job = this.#pendingReady;
      if (!job) {
        this.#requests.startReads();
        this.#requests.proposeBatch();
      }
      if (!job) {
        if (!this.raw.hasReady()) return this.#idle();
        const rd = this.raw.ready();
        if (rd.hardState) this.storage.setHardState(rd.hardState);
        this.storage.append(rd.entries);
        job = { rd, sent: false, applied: false };
      }
      const rd = job.rd;
      if (rd.sendBeforeSync && !job.sent) {
        for (const m of rd.messages) this.#transport.send(m);
        job.sent = true;
      }
      if (!job.applied) {
        this.#apply(rd);
        job.applied = true;
      }
      if (rd.mustSync) {
        try {
          await this.storage.flush();
        } catch (e) {
          this.#pendingReady = job;
          this.#diskFailed(toOctopiiError(e, 'IO_ERROR'));
          return this.#idle();
        }
        spins = 0;
        if (this.#stopped) return this.#idle();
      }
      this.#pendingReady = null;
      if (this.#diskError) {
        this.#node.logger.info({ event: 'raft.disk.recovered', id: this.id });
        this.#diskError = null;
      }
      if (!job.sent) for (const m of rd.messages) this.#transport.send(m);
      this.raw.advance(rd);
      this.readies++;
      const lead = this.raw.status().lead;
      if (lead !== 0 && lead !== this.#lastLead) {
        this.#lastLead = lead;
        this.leaderChanges++;
        this.#node.logger.info({ event: 'raft.leader', id: this.id, lead, term: this.raw.status().term });
      }
    }
    this.#idle();
  }

  #diskFailed(e: OctopiiError): void {
    if (!this.#diskError) this.#node.logger.error({ event: 'raft.disk.failed', id: this.id, code: e.code, error: e.message });
    this.#diskError = e;
    const err = new OctopiiError(e.code, `raft ${this.id}: the disk refused a write (${e.message})`);
    this.#requests.rejectAll(err, false);
  }

  #apply(rd: Ready): void {
    for (const e of rd.committedEntries) {
      const results: R[] = [];
      if (e.data.byteLength > 0) for (const c of decodeBatch(e.data)) results.push(this.#sm.apply(c, e.index));
      this.#applied = e.index;
      this.#requests.applied(e, results);
    }
    this.#requests.readsOf(rd, this.#applied);
  }
}
