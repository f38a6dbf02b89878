/** SHA-256 in a piscina worker pool (see ./pool.ts for the measurements behind the choices). */
export {
  createSha256,
  sha256,
  sha256Inline,
  toHex,
  destroyHashPool,
  hashPoolStats,
  HASH_JOB_BYTES,
  HASH_MIN_JOB_BYTES,
  HASH_MAX_IN_FLIGHT,
  INLINE_HASH_MAX_BYTES,
} from './pool.js';
export type { Sha256Hasher, Sha256Options, HashImpl, UpdateOptions } from './pool.js';
