/** SHA-256 in a piscina worker pool (see ./pool.ts for the measurements behind the choices). */
export {
  HashPool,
  sharedHashPool,
  sharedHashPoolStats,
  inlineHasher,
  defaultHashThreads,
  destroyHashPool,
  sha256Inline,
  toHex,
  HASH_JOB_BYTES,
  HASH_MIN_JOB_BYTES,
  HASH_MAX_IN_FLIGHT,
  INLINE_HASH_MAX_BYTES,
} from './pool.js';
export type { Sha256Hasher, Sha256Options, HashImpl, UpdateOptions, SharedHashPool } from './pool.js';
