/** Raft: the pure core (machines/raft.ts), its synchronous driver handle and an in-memory storage. */
export * from '../../machines/raft.js';
export { RawNode, type RaftStatus } from './rawNode.js';
export { MemoryLogStorage } from './memoryStorage.js';
export type { RaftStorage } from './storage.js';
export { NotLeaderError } from './notLeader.js';
