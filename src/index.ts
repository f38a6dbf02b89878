/** octopii's public API. */
export type { LaneSpawn } from './lane/host.js';
export { OctopiiNode, type PeerRef, type ReceivedEvent, type SendOptions, type NodeStartOptions } from './node.js';
export { OctopiiError, isOctopiiError, LaneStatus, type OctopiiErrorCode } from './errors.js';
export { loadConfig, NodeConfigSchema, type NodeConfig, type NodeConfigInput } from './config.js';
export { generateIdentity, loadOrCreateIdentity, nodeIdFromPublicKey, publicKeyFromNodeId, type Identity } from './identity.js';
export { createTransport } from './transport/index.js';
export type { Transport, PeerConnection, DuplexStream, TransportKind } from './transport/types.js';
export * from './lane/index.js';
export { supervisorMachine } from '../machines/node.js';
export { connectionMachine } from '../machines/connection.js';
export { laneSendMachine } from '../machines/laneSend.js';
export { laneReceiveMachine } from '../machines/laneReceive.js';
