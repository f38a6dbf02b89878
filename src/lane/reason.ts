/**
 * Lane reasons (docs/PROTOCOL.md "Lane reasons"): on octopii's own protocol, a receiver that
 * answers a non-zero status byte follows it with why — a u16 big-endian length, then that many
 * bytes of UTF-8 JSON `toWire(error)` = `{"code": u16, "message": string}` (src/errors.ts) — so
 * the sender reports e.g. DISK_FULL instead of REMOTE_ERROR. Never on the seed's v1 ALPN, whose
 * peers expect exactly one status byte.
 *
 * Pure (no I/O): encoding and decoding of the frame.
 */
import { fromWire, OctopiiError, toWire, type ErrorInfo } from '../errors.js';

/** Bytes of the length prefix (u16 BE). */
export const LANE_REASON_LENGTH_BYTES = 2;
/** Longest message kept, in UTF-16 code units (a reason is a hint, not a log). */
export const LANE_REASON_MAX_MESSAGE = 1024;

/**
 * Encodes `error` as a reason frame: u16 BE length + JSON `{ code, message }` (wire code of the
 * error table, message cut to {@link LANE_REASON_MAX_MESSAGE}).
 */
export function encodeLaneReason(error: ErrorInfo): Uint8Array {
  const w = toWire(error);
  const json = new TextEncoder().encode(JSON.stringify({ code: w.code, message: w.message.slice(0, LANE_REASON_MAX_MESSAGE) }));
  const out = new Uint8Array(LANE_REASON_LENGTH_BYTES + json.byteLength);
  new DataView(out.buffer).setUint16(0, json.byteLength, false);
  out.set(json, LANE_REASON_LENGTH_BYTES);
  return out;
}

/** The u16 BE body length of a reason frame from its 2-byte prefix. */
export function decodeLaneReasonLength(prefix: Uint8Array): number {
  if (prefix.byteLength !== LANE_REASON_LENGTH_BYTES) {
    throw new OctopiiError('PROTOCOL_ERROR', `lane reason length must be 2 bytes, got ${prefix.byteLength}`);
  }
  return new DataView(prefix.buffer, prefix.byteOffset, 2).getUint16(0, false);
}

/**
 * Decodes a reason frame's JSON body into the peer's error (`origin: 'remote'`; unknown wire
 * codes become UNKNOWN). Throws PROTOCOL_ERROR when the body is not `{ code: u16, message }`.
 */
export function decodeLaneReasonBody(body: Uint8Array): ErrorInfo {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (e) {
    throw new OctopiiError('PROTOCOL_ERROR', `malformed lane reason: ${e instanceof Error ? e.message : String(e)}`);
  }
  return fromWire(parsed).toJSON();
}
