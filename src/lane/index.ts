/**
 * The Shipping Lane: verified bulk transfer over any {@link DuplexStream} (seed 001; wire
 * format in src/wire/laneV1.ts, machines in machines/laneSend.ts and machines/laneReceive.ts).
 *
 * ```ts
 * const result = await sendLane(await conn.openStream(), { kind: 'file', path: 'big.iso' }, { peer: conn.remoteNodeId ?? '' });
 * conn.onStream(async (s) => console.log(await receiveLane(s, { kind: 'file', path: '/data/big.iso' })));
 * const results = await transferToPeers((p) => dialAndOpen(p), { kind: 'memory', data }, peers);
 * ```
 *
 * Both sides take `hasher` (default: the shared hash pool, retained for the transfer), `clock`
 * (timers of a root lane actor), `signal`, `timeoutMs` (inactivity, default 30,000 ms) and
 * `reasons` (docs/PROTOCOL.md "Lane reasons"; own protocol only).
 */
export { sendLane } from './send.js';
export { receiveLane } from './receive.js';
export { transferToPeers, type TransferToPeersOptions } from './peers.js';
export { statSource, openSource, LANE_BLOCK_BYTES, LANE_MAX_BLOCKS_IN_FLIGHT, type OpenedSource } from './source.js';
export { openSink, sinkCap, MEMORY_SINK_MAX_BYTES, type OpenedSink } from './sink.js';
export type {
  LaneSource,
  LaneSink,
  LaneSinkHandle,
  LaneError,
  TransferResult,
  ReceiveResult,
  SendLaneOptions,
  ReceiveLaneOptions,
  LaneStateListener,
} from './types.js';
export {
  LANE_V1_ALPN,
  LANE_V1_HEADER_BYTES,
  LANE_V1_TRAILER_BYTES,
  LANE_V1_STATUS,
  encodeLaneHeader,
  decodeLaneHeader,
  decodeLaneStatus,
} from '../wire/laneV1.js';
export { DEFAULT_LANE_TIMEOUT_MS, LANE_CLOSE_GRACE_MS, LANE_STATUS_GRACE_MS, LANE_PROGRESS_BYTES } from './constants.js';
export { encodeLaneReason, decodeLaneReasonLength, decodeLaneReasonBody, LANE_REASON_LENGTH_BYTES } from './reason.js';
/** @deprecated the shared hash pool is reference-counted (src/hash/pool.ts `sharedHashPool`); kept for old test files. */
