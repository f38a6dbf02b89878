/**
 * What a {@link RaftHost} (./raftNode.ts) has promised its callers and not yet answered: commands
 * queued to be proposed together as one entry (proposal batching), proposed entries by index with
 * their term and one waiter per command, ReadIndex rounds (dissertation §6.4) waiting for their
 * read state, and reads whose index is known waiting for the apply to reach it; plus the
 * entry-data batch codec and the timeout/abort wrapper every waiter goes through.
 *
 * Entry data: one command as is, or several as `0xff ‖ CBOR array of byte strings` (0xff never
 * starts a CBOR item, so a single CBOR command is never mistaken for a batch).
 */
import type { Entry, Ready } from '../../machines/raft.js';
import { OctopiiError } from '../errors.js';
import type { Clock } from '../runtime/clock.js';
import { cbor } from '../wire/raft.js';
import { NotLeaderError } from './notLeader.js';
import type { RawNode } from './rawNode.js';

const BATCH_TAG = 0xff;
/** Commands proposed together stay under this many bytes (the core's maxEntryBytes is 1 MiB by default). */
const BATCH_BYTES = 512 * 1024;

export function encodeBatch(commands: readonly Uint8Array[]): Uint8Array {
  const body = cbor.encode(commands.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
  const out = new Uint8Array(1 + body.byteLength);
  out[0] = BATCH_TAG;
  out.set(body, 1);
  return out;
}

/** The commands of one entry's data. Throws INTERNAL for a batch that does not decode. */
export function decodeBatch(data: Uint8Array): Uint8Array[] {
  if (data[0] !== BATCH_TAG) return [data];
  const a = cbor.decode(data.subarray(1)) as unknown;
  if (!Array.isArray(a) || !a.every((c) => c instanceof Uint8Array)) throw new OctopiiError('INTERNAL', 'raft: a committed batch entry does not decode');
  return a as Uint8Array[];
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Default 5,000 ms. */
  timeoutMs?: number;
}

export interface Waiter<T> {
  resolve(v: T): void;
  reject(e: unknown): void;
}

/**
 * A promise settled through the {@link Waiter} handed to `add`, or rejected TIMEOUT after
 * `options.timeoutMs` (ms on `clock`) or ABORTED on `options.signal`; `remove` runs once it settles.
 */
export function waitFor<T>(clock: Clock, id: number, options: CallOptions, what: string, add: (w: Waiter<T>) => void, remove: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const ms = options.timeoutMs ?? 5000;
    const done = () => {
      clock.clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      remove();
    };
    const timer = clock.setTimeout(() => {
      done();
      reject(new OctopiiError('TIMEOUT', `raft ${id}: ${what} not done within ${ms} ms`));
    }, ms);
    const onAbort = () => {
      done();
      reject(new OctopiiError('ABORTED', `raft ${id}: ${what} aborted`));
    };
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    add({ resolve: (v) => (done(), resolve(v)), reject: (e) => (done(), reject(e)) });
  });
}

/** The pending proposals and reads of one member, over its {@link RawNode}. */
export class PendingRequests<R> {
  readonly #raw: RawNode;
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

  constructor(raw: RawNode) {
    this.#raw = raw;
  }

  /** Queues `command` for the next batch. */
  queueProposal(command: Uint8Array, w: Waiter<R>): void {
    this.#batch.push({ command, w });
  }

  /** Queues a read for the next ReadIndex round. */
  queueRead(w: Waiter<void>): void {
    this.#readQueue.push(w);
  }

  /**
   * The queued commands: proposed as one entry (proposal batching: one log entry, one MsgApp
   * and one fsync for all commands that arrived while the previous write was under way) on a
   * leader, rejected NOT_LEADER on any other member.
   */
  proposeBatch(): void {
    if (this.#batch.length === 0) return;
    if (this.#raw.status().role !== 'leader') {
      const err = new NotLeaderError(this.#raw.id, this.#raw.status().lead);
      for (const b of this.#batch.splice(0)) b.w.reject(err);
      return;
    }
    while (this.#batch.length > 0) {
      // Keep an entry under the core's maxEntryBytes (default 1 MiB).
      let n = 0;
      let bytes = 0;
      while (n < this.#batch.length && (n === 0 || bytes + this.#batch[n]!.command.byteLength < BATCH_BYTES)) bytes += this.#batch[n++]!.command.byteLength;
      const part = this.#batch.splice(0, n);
      try {
        this.#raw.propose(part.length === 1 ? part[0]!.command : encodeBatch(part.map((b) => b.command)));
      } catch (e) {
        for (const b of part) b.w.reject(e);
        continue;
      }
      const index = this.#raw.status().lastIndex;
      this.#proposals.set(index, { term: this.#raw.logTerm(index), waiters: part.map((b) => b.w) });
    }
  }

  /**
   * One ReadIndex round for every read queued since the last round started (read batching:
   * a round started after a read was called serves it; one already under way does not).
   */
  startReads(): void {
    if (this.#readQueue.length === 0) return;
    const ws = this.#readQueue.splice(0);
    const fan: Waiter<void> = { resolve: () => ws.forEach((w) => w.resolve()), reject: (e) => ws.forEach((w) => w.reject(e)) };
    const ctx = `${this.#raw.id}:${++this.#readSeq}`;
    try {
      this.#raw.readIndex(ctx);
    } catch (e) {
      return fan.reject(e);
    }
    this.#reads.set(ctx, fan);
  }

  /** Entry `e` was applied with one result per command: its proposal resolves, or rejects NOT_LEADER when another term's entry took its index. */
  applied(e: Entry, results: readonly R[]): void {
    const p = this.#proposals.get(e.index);
    if (!p) return;
    this.#proposals.delete(e.index);
    if (p.term === e.term) p.waiters.forEach((w, i) => w.resolve(results[i] as R));
    else for (const w of p.waiters) w.reject(new NotLeaderError(this.#raw.id, this.#raw.status().lead));
  }

  /** The read states and ReadIndex rejections of `rd`; reads whose index is at most `applied` resolve. */
  readsOf(rd: Ready, applied: number): void {
    for (const rs of rd.readStates) {
      const w = this.#reads.get(rs.context);
      if (w) {
        this.#reads.delete(rs.context);
        this.#readyReads.push({ index: rs.index, w });
      }
    }
    for (const r of rd.rejections) {
      if (r.kind !== 'readIndex') continue;
      this.#reads.get(r.context)?.reject(new NotLeaderError(this.#raw.id, r.leaderHint));
      this.#reads.delete(r.context);
    }
    if (this.#readyReads.length > 0) {
      const still: { index: number; w: Waiter<void> }[] = [];
      for (const r of this.#readyReads) (r.index <= applied ? r.w.resolve() : still.push(r));
      this.#readyReads = still;
    }
  }

  /**
   * Rejects with `err` every proposal (proposed or queued) and every read still waiting for its
   * index; with `indexedReads`, also the reads waiting for the apply (a stopped member applies no more).
   */
  rejectAll(err: unknown, indexedReads: boolean): void {
    for (const p of [...this.#proposals.values()]) for (const w of p.waiters) w.reject(err);
    this.#proposals.clear();
    for (const b of this.#batch) b.w.reject(err);
    this.#batch = [];
    for (const w of [...this.#reads.values()]) w.reject(err);
    this.#reads.clear();
    for (const w of this.#readQueue.splice(0)) w.reject(err);
    if (!indexedReads) return;
    for (const r of this.#readyReads) r.w.reject(err);
    this.#readyReads = [];
  }
}
