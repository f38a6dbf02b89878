/**
 * SHA-256 off the event loop (DESIGN.md §1 "Hashing runs in a piscina worker pool").
 *
 * Choice of implementation, by measurement (`npx tsx bench/hash.ts`, this 2-core machine, 1 MiB
 * jobs): node:crypto (OpenSSL) hashes 1,550–1,650 MB/s per core inline and 1,630–1,670 MB/s in
 * the pool (2,280 MB/s with 4 streams on 2 workers); @noble/hashes 115–140 MB/s — 12× slower —
 * so the workers use node:crypto. Inline hashing holds the event loop ~0.6 ms per MiB, for the
 * whole file; in the pool the main thread only copies into staging buffers (loop p99 1.7–2.9 ms
 * in the bench vs 7.9 ms for noble inline). A pool job costs ~40–65 µs round trip, hence jobs
 * of ≥ 256 KiB (default 1 MiB), and streams of at most {@link INLINE_HASH_MAX_BYTES} hash
 * inline (one ≤ 0.2 ms stall is cheaper than a job).
 *
 * Incremental hashing of one stream must keep its state in one worker. The pool's
 * `loadBalancer` (piscina 5) pins every job of a hash id to the worker that got its first job;
 * the worker keeps `Map<id, Hash>` and frees an entry on `digest`/`free`. `stricterFIFO` keeps
 * queued jobs in order, and the worker's handler is synchronous, so jobs of one id run in order.
 *
 * Buffers: piscina structured-clones a view's *whole* underlying ArrayBuffer, so a job gets a
 * SharedArrayBuffer view (shared, zero-copy; the caller keeps it unchanged until `onHashed`) —
 * the caller's own, or one of the hasher's reused staging buffers that other input is copied
 * into — or, with `transfer`, the caller's whole buffer moved.
 */
import { availableParallelism } from 'node:os';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { PiscinaTask } from 'piscina';
import { OctopiiError, toOctopiiError } from '../errors.js';

/** Default job size in bytes (1 MiB): per-job overhead ~60 µs vs ~700 µs of hashing. */
export const HASH_JOB_BYTES = 1 << 20;
/** Smallest job size accepted (256 KiB); smaller jobs are dominated by the per-job cost. */
export const HASH_MIN_JOB_BYTES = 256 << 10;
/** Default number of jobs one hasher may have in flight (bounded memory: 4 × job size). */
export const HASH_MAX_IN_FLIGHT = 4;
/** Streams of at most this many bytes are hashed inline (≤ ~0.2 ms of event-loop time). */
export const INLINE_HASH_MAX_BYTES = 256 << 10;

export type HashImpl = 'node' | 'noble';

interface HashTask {
  op: 'update' | 'digest' | 'free' | 'oneshot' | 'stats';
  id?: number;
  first?: boolean;
  impl?: HashImpl;
  data?: Uint8Array;
  [key: symbol]: unknown;
}

/** Shape of the worker objects piscina hands to a load balancer (not exported by piscina). */
interface BalancerWorker {
  readonly id: number;
  readonly currentUsage: number;
  readonly terminating: boolean;
  readonly destroyed: boolean;
}

interface PinOptions {
  hashId?: number;
  last?: boolean;
}

let pool: Piscina<HashTask, unknown> | undefined;
/** hash id → worker threadId that holds its state. */
const pins = new Map<number, number>();
/** worker threadId → number of hash ids pinned to it. */
const pinCount = new Map<number, number>();
let nextHashId = 1;

function unpin(id: number): void {
  const w = pins.get(id);
  if (w === undefined) return;
  pins.delete(id);
  const n = (pinCount.get(w) ?? 1) - 1;
  if (n <= 0) pinCount.delete(w);
  else pinCount.set(w, n);
}

function leastLoaded(workers: BalancerWorker[]): BalancerWorker | null {
  let best: BalancerWorker | null = null;
  let bestScore = Infinity;
  for (const w of workers) {
    if (w.terminating || w.destroyed) continue;
    const score = (pinCount.get(w.id) ?? 0) * 1000 + w.currentUsage;
    if (score < bestScore) {
      best = w;
      bestScore = score;
    }
  }
  return best;
}

/**
 * piscina load balancer: jobs carrying `{ hashId }` in their queue options go to the worker
 * pinned for that id (pinned on the first job, released when the `last` job is placed).
 * Returning null queues the job (e.g. the pinned worker is still starting).
 */
function pinningBalancer(task: PiscinaTask, workers: BalancerWorker[]): BalancerWorker | null {
  const opts = (task as unknown as Record<symbol, unknown>)[Piscina.queueOptionsSymbol] as PinOptions | null;
  const id = opts?.hashId;
  if (id === undefined) return leastLoaded(workers);
  let target: BalancerWorker | null;
  const pinned = pins.get(id);
  if (pinned === undefined) {
    target = leastLoaded(workers);
    if (target === null) return null;
    pins.set(id, target.id);
    pinCount.set(target.id, (pinCount.get(target.id) ?? 0) + 1);
  } else if (pinned === -1) {
    // Its worker is gone: any worker will do (it reports the lost state as an error).
    target = leastLoaded(workers);
    if (target === null) return null;
  } else {
    target = workers.find((w) => w.id === pinned) ?? null;
    if (target === null) return null; // pinned worker not ready yet: stay queued, in order
  }
  if (opts?.last) unpin(id);
  return target;
}

function threadCount(): number {
  const env = Number(process.env.OCTOPII_HASH_THREADS);
  if (Number.isInteger(env) && env > 0) return env;
  return Math.max(1, Math.min(4, availableParallelism()));
}

/** The process-wide pool, created on first use. */
function getPool(): Piscina<HashTask, unknown> {
  if (pool) return pool;
  const threads = threadCount();
  const p = new Piscina<HashTask, unknown>({
    filename: fileURLToPath(new URL('./sha256-worker.mjs', import.meta.url)),
    // Fixed size and never idle-reaped: a worker holding hash state must not disappear
    // between two jobs of a slow transfer. Idle workers are unref'd, so they never keep
    // the process alive.
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: Infinity,
    stricterFIFO: true,
    loadBalancer: pinningBalancer as unknown as NonNullable<ConstructorParameters<typeof Piscina>[0]>['loadBalancer'],
  });
  p.on('workerDestroy', (w: BalancerWorker) => {
    for (const [id, wid] of pins) if (wid === w.id) pins.set(id, -1);
    pinCount.delete(w.id);
  });
  // Worker crashes reject the jobs in flight; the pool-level event must not crash the process.
  p.on('error', () => undefined);
  pool = p;
  return p;
}

/**
 * Destroys the shared pool (if any) so tests and the CLI can exit promptly; a later hash
 * call creates a fresh pool. Hashers still running fail with IO_ERROR.
 */
export async function destroyHashPool(): Promise<void> {
  const p = pool;
  pool = undefined;
  pins.clear();
  pinCount.clear();
  if (p) await p.destroy();
}

/** Pool introspection for tests and the inspector: threads and pinned hash states. */
export function hashPoolStats(): { threads: number; pinned: number; running: boolean } {
  return { threads: pool?.threads.length ?? 0, pinned: pins.size, running: pool !== undefined };
}

/** A view the worker can take without copying a larger buffer: SAB views as they are, else a fresh transferred copy. */
function jobBuffer(data: Uint8Array, owned: boolean): { data: Uint8Array; transfer: ArrayBuffer[] } {
  if (data.buffer instanceof SharedArrayBuffer) return { data, transfer: [] };
  if (owned && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) {
    return { data, transfer: [data.buffer as ArrayBuffer] };
  }
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  return { data: copy, transfer: [copy.buffer] };
}

export interface UpdateOptions {
  /** Move a whole, fresh, non-shared buffer to the worker instead of copying it (it is detached). */
  transfer?: boolean;
  /**
   * Called once `data` is no longer referenced by the hasher: at once when it was copied (or
   * hashed inline), after the worker finished it when it was shared (SharedArrayBuffer) — the
   * moment the caller may reuse the buffer. Also called if the job failed.
   */
  onHashed?: () => void;
}

/** Incremental SHA-256 of one byte stream. */
export interface Sha256Hasher {
  /**
   * Feeds bytes, in order; calls must not overlap (await each). Small inputs are coalesced
   * into jobs of `jobBytes`. Resolves once the bytes are handed over and fewer than
   * `maxInFlight` jobs are pending (backpressure). A SharedArrayBuffer-backed `data` of at
   * least `jobBytes` is passed without copying and must stay unchanged until `onHashed`;
   * any other `data` may be reused as soon as the promise resolves (it is copied or, with
   * `{ transfer: true }` and a whole fresh buffer, moved).
   * Rejects with IO_ERROR if a job failed, ABORTED after {@link abort}.
   */
  update(data: Uint8Array, options?: UpdateOptions): Promise<void>;
  /** Resolves to the 32-byte digest of everything fed; the hasher is then finished. */
  digest(): Promise<Uint8Array>;
  /** Stops hashing and frees the worker-side state; idempotent. */
  abort(): void;
}

export interface Sha256Options {
  /** Hash on the calling thread (node:crypto) instead of the pool. Default false. */
  inline?: boolean;
  /** Job size in bytes for coalesced input (default 1 MiB, at least 256 KiB). */
  jobBytes?: number;
  /** Maximum pool jobs in flight for this hasher (default 4). */
  maxInFlight?: number;
  /** Implementation used inside the worker (default 'node'; 'noble' is for bench/hash.ts). */
  impl?: HashImpl;
}

class InlineHasher implements Sha256Hasher {
  private h = createHash('sha256');
  private done = false;
  async update(data: Uint8Array, options?: UpdateOptions): Promise<void> {
    if (this.done) throw new OctopiiError('ABORTED', 'hasher finished or aborted');
    this.h.update(data);
    options?.onHashed?.();
  }
  async digest(): Promise<Uint8Array> {
    if (this.done) throw new OctopiiError('ABORTED', 'hasher finished or aborted');
    this.done = true;
    return new Uint8Array(this.h.digest());
  }
  abort(): void {
    this.done = true;
  }
}

class PoolHasher implements Sha256Hasher {
  private readonly id = nextHashId++;
  private readonly pending: Promise<unknown>[] = [];
  private started = false;
  private finished = false;
  private failure: OctopiiError | undefined;
  private stage: Uint8Array | undefined;
  /**
   * Staging buffers whose jobs are done, for reuse. They are SharedArrayBuffers, shared with the
   * worker instead of copied or moved: measured, fresh per-job ArrayBuffers moved to a worker
   * pile up there until its (rare) GC — +80 MiB RSS hashing 512 MiB — while a few reused
   * buffers keep a hasher at (maxInFlight + 1) × jobBytes.
   */
  private readonly spare: Uint8Array[] = [];
  private staged = 0;
  private readonly jobBytes: number;
  private readonly maxInFlight: number;
  private readonly impl: HashImpl;

  constructor(options: Sha256Options) {
    this.jobBytes = Math.max(HASH_MIN_JOB_BYTES, options.jobBytes ?? HASH_JOB_BYTES);
    this.maxInFlight = Math.max(1, options.maxInFlight ?? HASH_MAX_IN_FLIGHT);
    this.impl = options.impl ?? 'node';
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.finished) throw new OctopiiError('ABORTED', 'hasher finished or aborted');
  }

  private post(op: 'update' | 'digest' | 'free', data: Uint8Array | undefined, owned: boolean): Promise<unknown> {
    const job = data ? jobBuffer(data, owned) : { data: undefined, transfer: [] };
    const task: HashTask = { op, id: this.id, first: !this.started, impl: this.impl, data: job.data };
    task[Piscina.queueOptionsSymbol] = { hashId: this.id, last: op !== 'update' } satisfies PinOptions;
    this.started = true;
    const p = getPool().run(task, { transferList: job.transfer });
    if (op === 'free') return p.catch(() => undefined);
    const tracked = p.catch((e: unknown) => {
      this.failure ??= toOctopiiError(e, 'IO_ERROR');
      throw this.failure;
    });
    tracked.catch(() => undefined); // observed via this.failure
    return tracked;
  }

  /** A staging buffer: reused SharedArrayBuffers (see {@link PoolHasher.spare}). */
  private takeStage(): Uint8Array {
    return this.spare.pop() ?? new Uint8Array(new SharedArrayBuffer(this.jobBytes));
  }

  private async enqueue(data: Uint8Array, owned: boolean, onHashed?: () => void): Promise<void> {
    const job = this.post('update', data, owned);
    if (onHashed) {
      if (data.buffer instanceof SharedArrayBuffer) job.then(onHashed, onHashed);
      else onHashed(); // copied or moved: the caller's view is free already
    }
    this.pending.push(job);
    while (this.pending.length >= this.maxInFlight) {
      await this.pending.shift()!.catch(() => undefined);
      this.check();
    }
  }

  private async flushStage(): Promise<void> {
    if (!this.stage || this.staged === 0) return;
    const stage = this.stage;
    const full = stage.subarray(0, this.staged);
    this.stage = undefined;
    this.staged = 0;
    await this.enqueue(full, false, () => {
      if (!this.finished) this.spare.push(stage);
    });
  }

  async update(data: Uint8Array, options?: UpdateOptions): Promise<void> {
    this.check();
    const shared = data.buffer instanceof SharedArrayBuffer;
    if (this.staged === 0 && data.byteLength >= this.jobBytes && (shared || options?.transfer === true)) {
      await this.enqueue(data, options?.transfer === true, options?.onHashed);
      return;
    }
    options?.onHashed?.(); // copied into the stage below: the caller's view is free
    if (data.byteLength === 0) return;
    let off = 0;
    while (off < data.byteLength) {
      this.stage ??= this.takeStage();
      const n = Math.min(this.jobBytes - this.staged, data.byteLength - off);
      this.stage.set(data.subarray(off, off + n), this.staged);
      this.staged += n;
      off += n;
      if (this.staged === this.jobBytes) await this.flushStage();
    }
  }

  async digest(): Promise<Uint8Array> {
    this.check();
    const last = this.stage && this.staged > 0 ? this.stage.subarray(0, this.staged) : undefined;
    this.stage = undefined;
    this.staged = 0;
    const p = this.post('digest', last, true);
    this.finished = true;
    const pending = this.pending.splice(0);
    await Promise.all(pending).catch(() => undefined);
    const out = (await p) as Uint8Array;
    this.spare.length = 0;
    if (this.failure) throw this.failure;
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }

  abort(): void {
    if (this.finished) return;
    this.finished = true;
    this.stage = undefined;
    this.spare.length = 0;
    this.pending.length = 0;
    if (this.started && pool) void this.post('free', undefined, false);
  }
}

/**
 * Creates an incremental SHA-256 hasher: in the shared piscina pool (default) or inline.
 * Idea: iroh-blobs / Rust Octopii hash while streaming; here the hash runs beside the I/O.
 */
export function createSha256(options: Sha256Options = {}): Sha256Hasher {
  return options.inline ? new InlineHasher() : new PoolHasher(options);
}

/**
 * One-shot SHA-256 of `data` in the pool (32-byte digest). SAB views are shared, others copied
 * (or moved with `transfer`). Rejects with IO_ERROR if the worker fails.
 */
export async function sha256(data: Uint8Array, options?: { transfer?: boolean; impl?: HashImpl }): Promise<Uint8Array> {
  const job = jobBuffer(data, options?.transfer === true);
  try {
    const out = (await getPool().run(
      { op: 'oneshot', impl: options?.impl ?? 'node', data: job.data },
      { transferList: job.transfer },
    )) as Uint8Array;
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    throw toOctopiiError(e, 'IO_ERROR');
  }
}

/** SHA-256 on the calling thread (node:crypto); for small inputs only — it blocks the event loop. */
export function sha256Inline(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

/** Lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
