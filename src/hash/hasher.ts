/**
 * The shape of an incremental SHA-256 hasher and the job-size constants every implementation
 * shares (src/hash/pool.ts, src/hash/inline.ts). Pure: no I/O.
 */

export const HASH_JOB_BYTES = 1 << 20;
/** Smallest job size accepted (256 KiB); smaller jobs are dominated by the per-job cost. */
export const HASH_MIN_JOB_BYTES = 256 << 10;
/** Default number of jobs one hasher may have in flight (bounded memory: 4 × job size). */
export const HASH_MAX_IN_FLIGHT = 4;
/** Streams of at most this many bytes are hashed inline (≤ ~0.2 ms of event-loop time). */
export const INLINE_HASH_MAX_BYTES = 256 << 10;

export type HashImpl = 'node' | 'noble';

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
