/**
 * The kind preamble that starts every stream of octopii's own protocol (docs/PROTOCOL.md
 * "Stream kinds"): the stream router of the accepting node reads it and hands the rest of the
 * stream to the handler registered for that kind. Streams of the seed's ALPN `octopii` (Shipping
 * Lane v1) carry no preamble.
 *
 * ```
 * version   u8      1
 * length    u8      1..32, bytes of the kind name
 * kind      ASCII   [a-z0-9-], e.g. "control", "lane", "rpc", "raft", "route", "blobs"
 * ```
 *
 * Pure: no I/O.
 */
import { OctopiiError } from '../errors.js';

/** Version byte of the preamble. */
export const STREAM_PREAMBLE_VERSION = 1;
/** Longest kind name, bytes. */
export const MAX_KIND_BYTES = 32;

/** The kinds octopii itself defines; applications may register others matching {@link KIND_PATTERN}. */
export const STREAM_KINDS = ['control', 'lane', 'rpc', 'raft', 'route', 'blobs'] as const;
export type BuiltinStreamKind = (typeof STREAM_KINDS)[number];

/** A valid kind name: 1–32 of lower-case letters, digits and '-'. */
export const KIND_PATTERN = /^[a-z0-9-]{1,32}$/;

/** The preamble for `kind`. Throws INVALID_ARGUMENT for a kind outside {@link KIND_PATTERN}. */
export function encodeStreamPreamble(kind: string): Uint8Array {
  if (!KIND_PATTERN.test(kind)) throw new OctopiiError('INVALID_ARGUMENT', `invalid stream kind ${JSON.stringify(kind)}`);
  const out = new Uint8Array(2 + kind.length);
  out[0] = STREAM_PREAMBLE_VERSION;
  out[1] = kind.length;
  for (let i = 0; i < kind.length; i++) out[2 + i] = kind.charCodeAt(i);
  return out;
}

/**
 * Parses a preamble at the start of `bytes`: `{ kind, length }` (bytes consumed), or `null`
 * when more bytes are needed. Throws PROTOCOL_ERROR for another version, a length of 0 or over
 * 32, or a kind outside {@link KIND_PATTERN}.
 */
export function decodeStreamPreamble(bytes: Uint8Array): { kind: string; length: number } | null {
  if (bytes.byteLength < 2) return null;
  if (bytes[0] !== STREAM_PREAMBLE_VERSION) {
    throw new OctopiiError('PROTOCOL_ERROR', `stream preamble version ${bytes[0]} (expected ${STREAM_PREAMBLE_VERSION})`);
  }
  const n = bytes[1]!;
  if (n === 0 || n > MAX_KIND_BYTES) throw new OctopiiError('PROTOCOL_ERROR', `stream kind length ${n} (1..${MAX_KIND_BYTES})`);
  if (bytes.byteLength < 2 + n) return null;
  let kind = '';
  for (let i = 0; i < n; i++) kind += String.fromCharCode(bytes[2 + i]!);
  if (!KIND_PATTERN.test(kind)) throw new OctopiiError('PROTOCOL_ERROR', `invalid stream kind ${JSON.stringify(kind)}`);
  return { kind, length: 2 + n };
}
