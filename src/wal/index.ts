/** The write-ahead log for Raft: see wal.ts for the design, codec.ts for the on-disk format. */
export { Wal, DEFAULT_SEGMENT_BYTES, MAX_BATCH_BYTES, type WalOptions, type WalCallOptions, type WalSyncRecord } from './wal.js';
export { nodeWalFs, type WalFs, type WalFile } from './fs.js';
export { EMPTY_HARD_STATE, type WalEntry, type HardState, type SnapshotMarker, type WalRecovered } from './types.js';
