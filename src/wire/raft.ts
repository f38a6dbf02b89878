/**
 * Wire format of the `raft` stream kind (docs/PROTOCOL.md "Raft"): Raft messages between
 * members, one frame each, on a long-lived stream per ordered pair of members.
 *
 * ```
 * frame   = length u32 big-endian ‖ body            (length ≤ MAX_RAFT_FRAME_BYTES)
 * body    = CBOR array (RFC 8949):
 *           [v=1, type u8, from, to, term, logTerm, index, commit, reject bool, rejectHint,
 *            context text, entries [[index, term, data bstr], …]]
 * ```
 * Message types: MsgApp 1, MsgAppResp 2, MsgHeartbeat 3, MsgHeartbeatResp 4, MsgVote 5,
 * MsgVoteResp 6, MsgPreVote 7, MsgPreVoteResp 8, MsgProp 9, MsgReadIndex 10, MsgReadIndexResp 11.
 * Node IDs are the member IDs of the cluster config (1..N). A frame that does not parse is a
 * PROTOCOL_ERROR and ends the stream; a frame above the limit is TOO_LARGE.
 *
 * The same framing (u32 length ‖ CBOR) carries the `kv` stream kind (src/kv/wire.ts).
 * Pure: no I/O.
 */
import { Encoder } from 'cbor-x';
import { OctopiiError } from '../errors.js';
import type { Entry, Message, MessageType } from '../../machines/raft.js';

export const RAFT_WIRE_VERSION = 1;
/** Largest frame body, bytes (a MsgApp carries at most maxMsgBytes of entries, default 1 MiB). */
export const MAX_RAFT_FRAME_BYTES = 16 * 1024 * 1024;

const TYPES: readonly MessageType[] = [
  'MsgApp', 'MsgAppResp', 'MsgHeartbeat', 'MsgHeartbeatResp', 'MsgVote', 'MsgVoteResp',
  'MsgPreVote', 'MsgPreVoteResp', 'MsgProp', 'MsgReadIndex', 'MsgReadIndexResp',
];
const CODE = new Map<MessageType, number>(TYPES.map((t, i) => [t, i + 1]));

/** Plain CBOR: arrays, byte strings for bytes, no cbor-x extensions. */
export const cbor = new Encoder({ useRecords: false, tagUint8Array: false, mapsAsObjects: true });

/** `body` with its u32 big-endian length in front. */
export function frame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.byteLength);
  new DataView(out.buffer).setUint32(0, body.byteLength);
  out.set(body, 4);
  return out;
}

export function encodeRaftMessage(m: Message): Uint8Array {
  const entries = m.entries.map((e) => [e.index, e.term, e.data]);
  return frame(cbor.encode([RAFT_WIRE_VERSION, CODE.get(m.type)!, m.from, m.to, m.term, m.logTerm, m.index, m.commit, m.reject, m.rejectHint, m.context, entries]));
}

const isU = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const bad = (why: string) => new OctopiiError('PROTOCOL_ERROR', `raft frame: ${why}`);

/** Decodes one frame body. Throws PROTOCOL_ERROR for anything but a well-formed message. */
export function decodeRaftMessage(body: Uint8Array): Message {
  let a: unknown;
  try {
    a = cbor.decode(body);
  } catch (e) {
    throw bad(`not CBOR (${(e as Error).message})`);
  }
  if (!Array.isArray(a) || a.length !== 12) throw bad('not a 12-element array');
  const [v, code, from, to, term, logTerm, index, commit, reject, rejectHint, context, entries] = a as unknown[];
  if (v !== RAFT_WIRE_VERSION) throw bad(`version ${String(v)}`);
  const type = isU(code) ? TYPES[code - 1] : undefined;
  if (!type) throw bad(`unknown message type ${String(code)}`);
  for (const [k, x] of Object.entries({ from, to, term, logTerm, index, commit, rejectHint })) if (!isU(x)) throw bad(`${k} is not an unsigned integer`);
  if (typeof reject !== 'boolean' || typeof context !== 'string' || !Array.isArray(entries)) throw bad('reject, context or entries malformed');
  const es: Entry[] = entries.map((e: unknown) => {
    if (!Array.isArray(e) || e.length !== 3 || !isU(e[0]) || !isU(e[1]) || !(e[2] instanceof Uint8Array)) throw bad('malformed entry');
    return { index: e[0], term: e[1], data: e[2] };
  });
  return { type, from: from as number, to: to as number, term: term as number, logTerm: logTerm as number, index: index as number, commit: commit as number, reject, rejectHint: rejectHint as number, context, entries: es };
}

/**
 * Splits a byte stream into frame bodies: `push(chunk)` returns the bodies completed by it.
 * Throws TOO_LARGE for a length above `maxBytes`.
 */
export class FrameReader {
  #buf: Uint8Array = new Uint8Array(0);
  constructor(readonly maxBytes: number = MAX_RAFT_FRAME_BYTES) {}

  push(chunk: Uint8Array): Uint8Array[] {
    let buf = chunk;
    if (this.#buf.byteLength > 0) {
      buf = new Uint8Array(this.#buf.byteLength + chunk.byteLength);
      buf.set(this.#buf);
      buf.set(chunk, this.#buf.byteLength);
    }
    const out: Uint8Array[] = [];
    let off = 0;
    while (buf.byteLength - off >= 4) {
      const len = new DataView(buf.buffer, buf.byteOffset + off, 4).getUint32(0);
      if (len > this.maxBytes) throw new OctopiiError('TOO_LARGE', `frame of ${len} bytes is above the limit of ${this.maxBytes}`);
      if (buf.byteLength - off - 4 < len) break;
      out.push(buf.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    this.#buf = off === buf.byteLength ? new Uint8Array(0) : buf.slice(off);
    return out;
  }

  /** Bytes of an unfinished frame held back. */
  get pending(): number {
    return this.#buf.byteLength;
  }
}
