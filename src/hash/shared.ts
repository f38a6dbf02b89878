/**
 * The process's shared {@link HashPool}, reference-counted: users that were given no
 * {@link Hasher} (a node without a runtime hasher, a lane transfer without `hasher`) retain it
 * while they run and release it after; the last release destroys it.
 */
import { HashPool } from './pool.js';
import type { Hasher } from '../runtime/types.js';

export interface SharedHashPool {
  /** Counts one more user and returns the shared pool (created if none is running). */
  retain(): HashPool;
  /**
   * Drops one count this handle took (a handle never releases more than it retained); the pool
   * is destroyed when the count reaches 0, and the next `retain` starts a fresh one.
   */
  release(): Promise<void>;
}

let shared: { pool: HashPool; count: number } | undefined;

/**
 * A handle on the shared hash pool: nodes and lane transfers that were given no
 * {@link Hasher} retain it while they run and release it after, so the threads stop when
 * nobody uses them (no process-wide pool outliving its users, no `destroy` call to remember).
 * `threads` applies when this retain starts the pool; a running pool keeps its size.
 *
 * ```ts
 * const handle = sharedHashPool(config.hashThreads);
 * const pool = handle.retain();
 * try { await pool.sha256(bytes); } finally { await handle.release(); }
 * ```
 */
export function sharedHashPool(threads?: number): SharedHashPool {
  let mine = 0;
  return {
    retain() {
      if (!shared || shared.pool.destroyed) shared = { pool: new HashPool(threads === undefined ? {} : { threads }), count: 0 };
      shared.count++;
      mine++;
      return shared.pool;
    },
    async release() {
      if (mine === 0 || !shared) return;
      mine--;
      const s = shared;
      if (--s.count > 0) return;
      shared = undefined;
      await s.pool.destroy();
    },
  };
}

/** Stats of the shared pool (zeros when none is running), for tests and the inspector. */
export function sharedHashPoolStats(): { threads: number; pinned: number; queued: number; running: boolean; retained: number } {
  return shared ? { ...shared.pool.stats(), retained: shared.count } : { threads: 0, pinned: 0, queued: 0, running: false, retained: 0 };
}

/** A view the worker can take without copying a larger buffer: SAB views as they are, else a fresh transferred copy. */
