/** RPC over octopii streams: typed services, calls as machines, interceptors (docs/PROTOCOL.md "RPC"). */
export { defineService, describeService, type ServiceDef, type MethodDef, type MethodMap, type Handlers, type Handler, type Client, type ClientMethod, type CallOptions, type CallContext, type ServiceDescription, type StreamShape } from './service.js';
export { RpcError, isRpcError } from './errors.js';
export { NodeRpc, type RpcOptions } from './nodeRpc.js';
export { RpcClient, type RpcPeer, type RpcClientOptions } from './client.js';
export { RpcServer } from './server.js';
export { nodeService } from './builtin.js';
export { INITIAL_CREDIT } from './flow.js';
export { bearerAuth, withBearer, logCalls, countCalls, retryCalls, type ClientInterceptor, type ServerInterceptor, type ClientCallInfo, type ServerCallInfo } from './interceptors.js';
export { REQUEST_ID_KEY, type RpcCallRecord, type RpcCallListener } from './callRecord.js';
