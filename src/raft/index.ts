/** Raft: the pure core (machines/raft.ts), its synchronous driver handle, storages, and the host that runs it on a node. */
export * from '../../machines/raft.js';
export { RawNode, type RaftStatus } from './rawNode.js';
export { MemoryLogStorage } from './memoryStorage.js';
export type { RaftStorage } from './storage.js';
export { NotLeaderError } from './notLeader.js';
export { WalStorage } from './walStorage.js';
export { RaftHost, type RaftHostOptions, type CallOptions } from './raftNode.js';
export { RaftTransport, type RaftMember } from './transport.js';
export type { StateMachine } from './stateMachine.js';
