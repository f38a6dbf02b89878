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
 * Ownership: a {@link HashPool} is an object its owner creates and destroys (a node's runtime,
 * a bench, a test); {@link sharedHashPool} hands out one reference-counted pool for users that
 * were given none (destroyed when the last user releases it); {@link inlineHasher} hashes on the
 * calling thread for deterministic simulations. Nothing here reads the environment.
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
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Piscina, PiscinaTask } from 'piscina';
import { OctopiiError, toOctopiiError } from '../errors.js';
import type { Hasher } from '../runtime/types.js';
import { HASH_JOB_BYTES, HASH_MAX_IN_FLIGHT, HASH_MIN_JOB_BYTES, type HashImpl, type Sha256Hasher, type Sha256Options, type UpdateOptions } from './hasher.js';
import { InlineHasher, sha256Inline } from './inline.js';
import { Pins, QUEUE_OPTIONS, type BalancerWorker, type PinOptions } from './pins.js';

/** One-shot inputs up to this many bytes hash on the calling thread (~40 µs at ~1.6 GB/s: a job's round trip). */
export const ONESHOT_INLINE_MAX_BYTES = 64 << 10;

export type { HashImpl, Sha256Hasher, Sha256Options, UpdateOptions } from './hasher.js';


interface HashTask {
  op: 'update' | 'digest' | 'free' | 'oneshot' | 'stats';
  id?: number;
  first?: boolean;
  impl?: HashImpl;
  data?: Uint8Array;
  [key: symbol]: unknown;
}

/** Default thread count: the machine's parallelism, between 1 and 4. */
export function defaultHashThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

/**
 * A SHA-256 worker pool (piscina) that a node or a tool owns: `createSha256` for incremental
 * hashes (every job of one hash pinned to one worker), `sha256` for one-shot digests,
 * `destroy()` to stop its threads. Threads start on the first job, so a pool that only ever
 * hashes small (inline) inputs costs nothing. After `destroy()` every call fails with CLOSED.
 *
 * ```ts
 * const pool = new HashPool({ threads: 2 });
 * const h = pool.createSha256();
 * await h.update(bytes);
 * const digest = await h.digest(); // 32 bytes
 * await pool.destroy();
 * ```
 */
export class HashPool implements Hasher {
  readonly threads: number;
  #piscina: Piscina<HashTask, unknown> | undefined;
  #destroyed = false;
  readonly #pins = new Pins();
  #nextHashId = 1;

  /**
   * `threads`: worker threads (default {@link defaultHashThreads}); config passes it, nothing
   * reads the environment. `0`: no threads at all — every hash runs on the calling thread
   * (node:crypto, {@link InlineHasher}), which costs less CPU than posting jobs to a worker
   * when one transfer's hash is the only hashing going on (measured in bench/README.md,
   * "hash threads 0") but holds the event loop ~0.6 ms per MiB hashed.
   */
  constructor(options: { threads?: number } = {}) {
    const t = options.threads;
    this.threads = t !== undefined && Number.isInteger(t) && t >= 0 ? t : defaultHashThreads();
  }

  /** True once {@link destroy} was called. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** @internal The piscina pool, started on first use. Throws CLOSED after {@link destroy}. */
  run(task: HashTask, transferList: ArrayBuffer[]): Promise<unknown> {
    if (this.#destroyed) return Promise.reject(new OctopiiError('CLOSED', 'hash pool destroyed'));
    return this.#pool().run(task, { transferList });
  }

  /** @internal A fresh id for one incremental hash. */
  nextHashId(): number {
    return this.#nextHashId++;
  }

  #pool(): Piscina<HashTask, unknown> {
    if (this.#piscina) return this.#piscina;
    // piscina (CommonJS) is required here, on the first job, synchronously: jobs keep their order.
    const { Piscina } = createRequire(import.meta.url)('piscina') as typeof import('piscina');
    const pins = this.#pins;
    const p = new Piscina<HashTask, unknown>({
      filename: fileURLToPath(new URL('./sha256-worker.mjs', import.meta.url)),
      // Fixed size and never idle-reaped: a worker holding hash state must not disappear
      // between two jobs of a slow transfer. Idle workers are unref'd, so they never keep
      // the process alive.
      minThreads: this.threads,
      maxThreads: this.threads,
      idleTimeout: Infinity,
      stricterFIFO: true,
      loadBalancer: ((task: PiscinaTask, workers: BalancerWorker[]) => pins.balance(task, workers)) as unknown as NonNullable<
        ConstructorParameters<typeof Piscina>[0]
      >['loadBalancer'],
    });
    p.on('workerDestroy', (w: BalancerWorker) => pins.workerGone(w.id));
    // Worker crashes reject the jobs in flight; the pool-level event must not crash the process.
    p.on('error', () => undefined);
    this.#piscina = p;
    return p;
  }

  /** Incremental SHA-256: in this pool, or on the calling thread with `{ inline: true }` or a pool of 0 threads. */
  createSha256(options: Sha256Options = {}): Sha256Hasher {
    return options.inline || this.threads === 0 ? new InlineHasher() : new PoolHasher(this, options);
  }

  /**
   * One-shot SHA-256 of `data` in the pool (32-byte digest). SAB views are shared, others
   * copied (or moved with `transfer`). Rejects with IO_ERROR if the worker fails, CLOSED after
   * {@link destroy}.
   */
  async sha256(data: Uint8Array, options?: { transfer?: boolean; impl?: HashImpl }): Promise<Uint8Array> {
    // No threads, or an input so small a job's round trip (~40–65 µs) costs more: on the calling thread.
    if ((this.threads === 0 || data.byteLength <= ONESHOT_INLINE_MAX_BYTES) && (options?.impl ?? 'node') === 'node') {
      if (this.#destroyed) throw new OctopiiError('CLOSED', 'hash pool destroyed');
      return sha256Inline(data);
    }
    const job = jobBuffer(data, options?.transfer === true);
    try {
      const out = (await this.run({ op: 'oneshot', impl: options?.impl ?? 'node', data: job.data }, job.transfer)) as Uint8Array;
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    } catch (e) {
      throw toOctopiiError(e, 'IO_ERROR');
    }
  }

  /** @internal Releases the pin of a hash id whose worker-side state is gone. */
  unpin(id: number): void {
    this.#pins.unpin(id);
  }

  /** Threads started, hash states pinned to a worker, jobs waiting for a worker (piscina's queue), whether the threads are running. */
  stats(): { threads: number; pinned: number; queued: number; running: boolean } {
    return { threads: this.#piscina?.threads.length ?? 0, pinned: this.#pins.byHash.size, queued: this.#piscina?.queueSize ?? 0, running: this.#piscina !== undefined };
  }

  /** Stops the threads; hashers still running fail (IO_ERROR), later calls fail with CLOSED. Idempotent. */
  async destroy(): Promise<void> {
    this.#destroyed = true;
    const p = this.#piscina;
    this.#piscina = undefined;
    this.#pins.clear();
    if (p) await p.destroy();
  }

  /** Inspection (a pool may sit in a machine's context): its stats, never the threads. */
  toJSON(): object {
    return { hashPool: this.stats() };
  }
}

/** Reference-counted access to the process's shared {@link HashPool} (see {@link sharedHashPool}). */
function jobBuffer(data: Uint8Array, owned: boolean): { data: Uint8Array; transfer: ArrayBuffer[] } {
  if (data.buffer instanceof SharedArrayBuffer) return { data, transfer: [] };
  if (owned && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) {
    return { data, transfer: [data.buffer as ArrayBuffer] };
  }
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  return { data: copy, transfer: [copy.buffer] };
}

class PoolHasher implements Sha256Hasher {
  private readonly id: number;
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

  constructor(
    private readonly pool: HashPool,
    options: Sha256Options,
  ) {
    this.id = pool.nextHashId();
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
    task[QUEUE_OPTIONS] = { hashId: this.id, last: op !== 'update' } satisfies PinOptions;
    this.started = true;
    const p = this.pool.run(task, job.transfer);
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
    if (this.started && !this.pool.destroyed) void this.post('free', undefined, false);
  }
}
