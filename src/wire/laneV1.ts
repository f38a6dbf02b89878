/**
 * Shipping Lane v1 wire format (seed 001, "The Chunk Transfer Protocol" / "Wire Format"),
 * byte-compatible with the original Rust Octopii. One bidirectional stream per transfer:
 *
 * ```
 * sender → receiver   u64 little-endian size N   (8 bytes)
 * sender → receiver   data                        (N bytes, no framing)
 * sender → receiver   SHA-256(data)               (32 bytes)
 * receiver → sender   status                      (1 byte: 0 OK, 1 checksum failed, 2 error)
 * ```
 * then both sides close. The ALPN on QUIC is `octopii`.
 *
 * This module is pure (no I/O): constants, header encode/decode and the status byte check.
 */
import { LaneStatus, OctopiiError } from '../errors.js';

/** ALPN protocol id of Shipping Lane v1 (seed 001). */
export const LANE_V1_ALPN = 'octopii';
/** Size of the length header in bytes (u64 LE). */
export const LANE_V1_HEADER_BYTES = 8;
/** Size of the SHA-256 trailer in bytes. */
export const LANE_V1_TRAILER_BYTES = 32;
/** Size of the receiver's status reply in bytes. */
export const LANE_V1_STATUS_BYTES = 1;
/** Status byte values (0 OK, 1 checksum failed, 2 error), re-exported from src/errors.ts. */
export const LANE_V1_STATUS = LaneStatus;

/**
 * Encodes the 8-byte header announcing `size` data bytes (u64 little-endian).
 * Throws INVALID_ARGUMENT unless `size` is an integer in [0, Number.MAX_SAFE_INTEGER].
 */
export function encodeLaneHeader(size: number): Uint8Array {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new OctopiiError('INVALID_ARGUMENT', `lane size must be a safe non-negative integer, got ${size}`);
  }
  const out = new Uint8Array(LANE_V1_HEADER_BYTES);
  new DataView(out.buffer).setBigUint64(0, BigInt(size), true);
  return out;
}

/**
 * Decodes the 8-byte header into a byte count. Throws PROTOCOL_ERROR when `bytes` is not
 * exactly 8 bytes long or the announced size exceeds Number.MAX_SAFE_INTEGER (2^53 − 1), which
 * no JavaScript receiver can count exactly.
 */
export function decodeLaneHeader(bytes: Uint8Array): number {
  if (bytes.byteLength !== LANE_V1_HEADER_BYTES) {
    throw new OctopiiError('PROTOCOL_ERROR', `lane header must be 8 bytes, got ${bytes.byteLength}`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new OctopiiError('PROTOCOL_ERROR', `lane size ${v} exceeds Number.MAX_SAFE_INTEGER`);
  }
  return Number(v);
}

/** Returns the status if `byte` is a valid v1 status (0, 1, 2); throws PROTOCOL_ERROR otherwise. */
export function decodeLaneStatus(byte: number): LaneStatus {
  if (byte === LaneStatus.OK || byte === LaneStatus.CHECKSUM_FAILED || byte === LaneStatus.ERROR) return byte;
  throw new OctopiiError('PROTOCOL_ERROR', `unknown lane status byte ${byte}`);
}

/** Total bytes the sender writes for `size` data bytes: header + data + trailer. */
export function laneV1FrameBytes(size: number): number {
  return LANE_V1_HEADER_BYTES + size + LANE_V1_TRAILER_BYTES;
}
