/** A replicated, linearizable KV store on Raft: state machine with sessions, server, client, history checker. */
export { KvStateMachine, encodeKvCommand, decodeKvCommand, type KvCommand, type KvResult } from './stateMachine.js';
export { KvServer, type KvServerOptions } from './server.js';
export { KvClient, KvSession, type KvClientOptions, type KvCallOptions } from './client.js';
export { checkLinearizable, type HistoryOp, type LinearizabilityResult } from './linearizability.js';
export type { KvRequest, KvResponse } from './wire.js';
