/**
 * One finished RPC call as the client or the server saw it: what metrics (src/metrics/rpc.ts)
 * and logs are fed from. Emitted once per call, when it settles — never per message.
 *
 * The request ID (`requestId`) is made by the caller (`<prefix>-<call number>`; on a node the
 * prefix is the last 8 characters of its node ID, e.g. `Ko9fMiz1-17`) and rides in the request metadata as {@link REQUEST_ID_KEY}, so the
 * caller's and the callee's log lines of one call carry the same `call` field (the request IDs
 * of seed 004, "request IDs through all components"). A request without one gets
 * `<caller>#<wire call id>` on the server.
 */

/** Metadata key of the request ID (set by the client unless the caller set it). */
export const REQUEST_ID_KEY = 'request-id';

/** Longest request ID the server takes from the wire (longer ones are cut). */
export const MAX_REQUEST_ID_CHARS = 64;

export interface RpcCallRecord {
  side: 'client' | 'server';
  /** `service.method`; on the server `(unknown)` for a method it does not serve. */
  method: string;
  /** `OK` or the error code the call ended with (DEADLINE_EXCEEDED, UNAVAILABLE, …). */
  code: string;
  /** From the call's start (client: the interceptor chain ran; server: the request arrived) to its end, ms. */
  ms: number;
  /** Request ID (see above). */
  requestId: string;
  /** Client: the peer key (`peer:<nodeId>`); server: the caller's node ID (null: unverified). */
  peer: string | null;
}

export type RpcCallListener = (r: RpcCallRecord) => void;
