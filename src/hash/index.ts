/** SHA-256 off the event loop (see ./pool.ts for the measurements behind the choices). */
export { HashPool, defaultHashThreads } from './pool.js';
export { sharedHashPool, sharedHashPoolStats, type SharedHashPool } from './shared.js';
export { inlineHasher, sha256Inline, toHex } from './inline.js';
export { HASH_JOB_BYTES, HASH_MIN_JOB_BYTES, HASH_MAX_IN_FLIGHT, INLINE_HASH_MAX_BYTES } from './hasher.js';
export type { Sha256Hasher, Sha256Options, HashImpl, UpdateOptions } from './hasher.js';
