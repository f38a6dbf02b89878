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
 * still gets its own result.
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
import { cbor } from '../wire/raft.js';

/**
 * Entry data: one command as is, or several as `0xff ‖ CBOR array of byte strings` (0xff never
 * starts a CBOR item, so a single CBOR command is never mistaken for a batch).
 */
const BATCH_TAG = 0xff;

export function encodeBatch(commands: readonly Uint8Array[]): Uint8Array {
  const body = cbor.encode(commands.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
  const out = new Uint8Array(1 + body.byteLength);
  out[0] = BATCH_TAG;
  out.set(body, 1);
  return out;
}

export function decodeBatch(data: Uint8Array): Uint8Array[] {
  if (data[0] !== BATCH_TAG) return [data];
  const a = cbor.decode(data.subarray(1)) as unknown;
  if (!Array.isArray(a) || !a.every((c) => c instanceof Uint8Array)) throw new OctopiiError('INTERNAL', 'raft: a committed batch entry does not decode');
  return a as Uint8Array[];
}

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

export interface CallOptions {
  signal?: AbortSignal;
  /** Default 5,000 ms. */
  timeoutMs?: number;
}

interface Waiter<T> {
  resolve(v: T): void;
  reject(e: unknown): void;
}

export class RaftHost<R = unknown> {
  readonly raw: RawNode;
  readonly storage: WalStorage;
  readonly members: readonly RaftMember[];
  readonly #node: OctopiiNode;
  readonly #sm: StateMachine<R>;
  readonly #transport: RaftTransport;
  readonly #tickMs: number;
  /** Proposed entries by index: their term and the waiter of each command in them. */
  readonly #proposals = new Map<number, { term: number; waiters: Waiter<R>[] }>();
  /** Commands waiting to be proposed together as one entry (while a write is under way). */
  #batch: { command: Uint8Array; w: Waiter<R> }[] = [];
  readonly #reads = new Map<string, Waiter<void>>();
  /** Reads waiting for the next ReadIndex round. */
  #readQueue: Waiter<void>[] = [];
  /** Reads whose index is known, waiting for the apply to reach it. */
  #readyReads: { index: number; w: Waiter<void> }[] = [];
  #readSeq = 0;
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
    const p = this.#wait<R>(options, 'proposal', (w) => this.#batch.push({ command, w }), () => undefined);
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
   * Proposes the queued commands as one entry (proposal batching: one log entry, one MsgApp
   * and one fsync for all commands that arrived while the previous write was under way).
   */
  #proposeBatch(): void {
    while (this.#batch.length > 0) {
      // Keep an entry under the core's maxEntryBytes (default 1 MiB).
      let n = 0;
      let bytes = 0;
      while (n < this.#batch.length && (n === 0 || bytes + this.#batch[n]!.command.byteLength < 512 * 1024)) bytes += this.#batch[n++]!.command.byteLength;
      const part = this.#batch.splice(0, n);
      try {
        this.raw.propose(part.length === 1 ? part[0]!.command : encodeBatch(part.map((b) => b.command)));
      } catch (e) {
        for (const b of part) b.w.reject(e);
        continue;
      }
      const index = this.raw.status().lastIndex;
      this.#proposals.set(index, { term: this.raw.logTerm(index), waiters: part.map((b) => b.w) });
    }
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
    const p = this.#wait<void>(options, 'read', (w) => this.#readQueue.push(w), () => undefined);
    this.#kick();
    return p;
  }

  /**
   * One ReadIndex round for every read queued since the last round started (read batching:
   * a round started after a read was called serves it; one already under way does not).
   */
  #startReads(): void {
    if (this.#readQueue.length === 0) return;
    const ws = this.#readQueue.splice(0);
    const fan: Waiter<void> = { resolve: () => ws.forEach((w) => w.resolve()), reject: (e) => ws.forEach((w) => w.reject(e)) };
    const ctx = `${this.id}:${++this.#readSeq}`;
    try {
      this.raw.readIndex(ctx);
    } catch (e) {
      return fan.reject(e);
    }
    this.#reads.set(ctx, fan);
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
    for (const p of this.#proposals.values()) for (const w of p.waiters) w.reject(closed);
    for (const b of this.#batch) b.w.reject(closed);
    this.#batch = [];
    for (const w of this.#reads.values()) w.reject(closed);
    for (const w of this.#readQueue.splice(0)) w.reject(closed);
    for (const r of this.#readyReads) r.w.reject(closed);
    this.#proposals.clear();
    this.#reads.clear();
    this.#readyReads = [];
    this.raw.stop();
    await this.storage.close().catch(() => undefined);
  }

  #usable(): void {
    if (this.#stopped) throw new OctopiiError('CLOSED', `raft ${this.id}: stopped`);
    if (this.#diskError) throw new OctopiiError(this.#diskError.code, `raft ${this.id}: not accepting writes: the disk refused a write (${this.#diskError.message})`);
  }

  #wait<T>(options: CallOptions, what: string, add: (w: Waiter<T>) => void, remove: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const clock = this.#node.clock;
      const ms = options.timeoutMs ?? 5000;
      const done = () => {
        clock.clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        remove();
      };
      const timer = clock.setTimeout(() => {
        done();
        reject(new OctopiiError('TIMEOUT', `raft ${this.id}: ${what} not done within ${ms} ms`));
      }, ms);
      const onAbort = () => {
        done();
        reject(new OctopiiError('ABORTED', `raft ${this.id}: ${what} aborted`));
      };
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      add({ resolve: (v) => (done(), resolve(v)), reject: (e) => (done(), reject(e)) });
    });
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
      if (!job) this.#startReads();
      if (!job && this.#batch.length > 0) {
        if (this.raw.status().role === 'leader') this.#proposeBatch();
        else {
          const err = new NotLeaderError(this.id, this.raw.status().lead);
          for (const b of this.#batch.splice(0)) b.w.reject(err);
        }
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
    for (const p of [...this.#proposals.values()]) for (const w of p.waiters) w.reject(err);
    this.#proposals.clear();
    for (const b of this.#batch) b.w.reject(err);
    this.#batch = [];
    for (const w of [...this.#reads.values()]) w.reject(err);
    this.#reads.clear();
    for (const w of this.#readQueue.splice(0)) w.reject(err);
  }

  #apply(rd: Ready): void {
    for (const e of rd.committedEntries) {
      const results: R[] = [];
      if (e.data.byteLength > 0) for (const c of decodeBatch(e.data)) results.push(this.#sm.apply(c, e.index));
      this.#applied = e.index;
      const p = this.#proposals.get(e.index);
      if (p) {
        this.#proposals.delete(e.index);
        if (p.term === e.term) p.waiters.forEach((w, i) => w.resolve(results[i] as R));
        else for (const w of p.waiters) w.reject(new NotLeaderError(this.id, this.raw.status().lead));
      }
    }
    for (const rs of rd.readStates) {
      const w = this.#reads.get(rs.context);
      if (w) {
        this.#reads.delete(rs.context);
        this.#readyReads.push({ index: rs.index, w });
      }
    }
    for (const r of rd.rejections) {
      if (r.kind !== 'readIndex') continue;
      this.#reads.get(r.context)?.reject(new NotLeaderError(this.id, r.leaderHint));
      this.#reads.delete(r.context);
    }
    if (this.#readyReads.length > 0) {
      const still: { index: number; w: Waiter<void> }[] = [];
      for (const r of this.#readyReads) (r.index <= this.#applied ? r.w.resolve() : still.push(r));
      this.#readyReads = still;
    }
  }
}
