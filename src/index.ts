/** octopii's public API. */
export type { LaneSpawn } from './lane/host.js';
export { OctopiiNode, type PeerRef, type ReceivedEvent, type SendOptions, type NodeStartOptions } from './node.js';
export { OctopiiError, isOctopiiError, LaneStatus, type OctopiiErrorCode } from './errors.js';
export { loadConfig, NodeConfigSchema, type NodeConfig, type NodeConfigInput } from './config.js';
export { generateIdentity, loadOrCreateIdentity, nodeIdFromPublicKey, publicKeyFromNodeId, type Identity } from './identity.js';
export { createTransport } from './transport/index.js';
export type { Transport, PeerConnection, DuplexStream, TransportKind } from './transport/types.js';
export * from './lane/index.js';
export { childInfos, supervisorMachine } from '../machines/node.js';
export { laneSendMachine } from '../machines/laneSend.js';
export { laneReceiveMachine } from '../machines/laneReceive.js';
export { peerMachine } from '../machines/peer.js';
export { StreamRouter } from './router/router.js';
export type { PeerInfo, NodeInspection, PeerOptions, PeerEventInfo } from './node/node.js';
export type { ActorNode } from './node/inspect.js';
export { systemClock, silentLogger, jsonLogger, type Clock, type Logger, type Runtime, type Hasher } from './runtime/index.js';
export { ERROR_TABLE, toWire, fromWire, toErrorInfo, isRetryable, type ErrorInfo, type WireError } from './errors.js';
export { startObserveServer, type ObserveServer, type ObserveServerOptions, type ObservedNode } from './observe/server.js';
export { startFlightRecorder, readRecording, type FlightRecorder, type FlightRecorderOptions, type Recording, type RecordingHeader } from './observe/recorder.js';
export { startReplayServer, type ReplayServer } from './observe/replayServer.js';
export { chartOf, type MachineChart, type ChartState, type ChartTransition } from './observe/chart.js';
export { toMermaid, toDot } from './observe/render.js';
export type { ObserveEvent, ObservedActor } from './observe/events.js';
export { createNodeMetrics, type NodeMetrics, type NodeMetricsOptions } from './metrics/node.js';
export { createPinoLogger, type PinoLoggerOptions, type LogLevel } from './log/pino.js';
export { logTransfers } from './log/transfers.js';
export {
  defineService,
  describeService,
  RpcError,
  isRpcError,
  nodeService,
  INITIAL_CREDIT,
  bearerAuth,
  withBearer,
  logCalls,
  countCalls,
  retryCalls,
  type ServiceDef,
  type MethodDef,
  type Handlers,
  type Client,
  type CallOptions,
  type CallContext,
  type ServiceDescription,
  type RpcOptions,
  type ClientInterceptor,
  type ServerInterceptor,
  type ClientCallInfo,
  type ServerCallInfo,
} from './rpc/index.js';
export { rpcCallMachine } from '../machines/rpcCall.js';
export { breakerMachine } from '../machines/breaker.js';
export { admissionMachine } from '../machines/admission.js';
export * from './blobs/index.js';
export { blobFetchMachine } from '../machines/blobFetch.js';
export { blobProvideMachine } from '../machines/blobProvide.js';
export { blobMultiMachine, blobMultiProviderMachine } from '../machines/blobMulti.js';
export { blobBatchMachine } from '../machines/blobBatch.js';
export { RaftHost, RawNode, WalStorage, MemoryLogStorage, NotLeaderError, RaftTransport, type RaftHostOptions, type RaftMember, type RaftStatus, type StateMachine } from './raft/index.js';
export { KvClient, KvSession, KvServer, KvStateMachine, checkLinearizable, type KvResult, type KvClientOptions, type HistoryOp } from './kv/index.js';
