/**
 * Wire format of the `kv` stream kind (docs/PROTOCOL.md "Raft"): a client opens one stream per
 * member and sends requests; the member answers each, in any order, matched by `i`. Frames are
 * `length u32 BE ‖ CBOR map`, as on `raft` streams (src/wire/raft.ts).
 *
 * ```
 * request  { i: u32, t: 'put'|'del'|'cas'|'get'|'status', c?: clientId, s?: seq, k?, v?, e? }
 * response { i, r: result }                         (put/del/cas: KvResult; get: { value }; status: RaftStatus)
 *        | { i, err: { code: u16, message }, l?: leader member ID }   (NOT_LEADER carries l when known)
 * ```
 */
import { OctopiiError } from '../errors.js';
import { cbor, frame } from '../wire/raft.js';

export interface KvRequest {
  i: number;
  t: 'put' | 'del' | 'cas' | 'get' | 'status';
  c?: string;
  s?: number;
  k?: string;
  v?: string;
  e?: string | null;
}

export interface KvResponse {
  i: number;
  r?: unknown;
  err?: { code: number; message: string };
  l?: number;
}

/** Largest kv frame body, bytes. */
export const MAX_KV_FRAME_BYTES = 2 * 1024 * 1024;

export const encodeKvFrame = (m: KvRequest | KvResponse): Uint8Array => frame(cbor.encode(m));

export function decodeKvRequest(body: Uint8Array): KvRequest {
  const m = decodeMap(body);
  const ok = Number.isSafeInteger(m.i) && ['put', 'del', 'cas', 'get', 'status'].includes(m.t as string);
  if (!ok) throw new OctopiiError('PROTOCOL_ERROR', 'kv frame: not a request');
  return m as unknown as KvRequest;
}

export function decodeKvResponse(body: Uint8Array): KvResponse {
  const m = decodeMap(body);
  if (!Number.isSafeInteger(m.i)) throw new OctopiiError('PROTOCOL_ERROR', 'kv frame: not a response');
  return m as unknown as KvResponse;
}

function decodeMap(body: Uint8Array): Record<string, unknown> {
  let m: unknown;
  try {
    m = cbor.decode(body);
  } catch (e) {
    throw new OctopiiError('PROTOCOL_ERROR', `kv frame: not CBOR (${(e as Error).message})`);
  }
  if (!m || typeof m !== 'object' || Array.isArray(m)) throw new OctopiiError('PROTOCOL_ERROR', 'kv frame: not a map');
  return m as Record<string, unknown>;
}
