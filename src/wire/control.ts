/**
 * Messages of the `control` stream, the first stream of every connection of octopii's own
 * protocol (docs/PROTOCOL.md "Hello and keep-alive"). The dialling node opens it, both sides
 * send a `hello` first, then either side may send `ping` (answered by `pong` with the same
 * number) and, before a deliberate close, `bye`.
 *
 * Framing: `length u32 big-endian ‖ CBOR map` (RFC 8949, cbor-x), length ≤ {@link MAX_CONTROL_FRAME_BYTES}.
 *
 * Pure: no I/O.
 */
import { decode, encode } from 'cbor-x';
import { OctopiiError } from '../errors.js';
import { KIND_PATTERN } from './streamKind.js';

/** Protocol version carried in the hello; a peer with another major version is refused. */
export const CONTROL_PROTOCOL_VERSION = 1;
/** Largest control frame body, bytes. */
export const MAX_CONTROL_FRAME_BYTES = 64 * 1024;

/** First message of each side: who I am and which stream kinds I serve. */
export interface HelloMessage {
  t: 'hello';
  /** {@link CONTROL_PROTOCOL_VERSION}. */
  v: number;
  /** The sender's node ID; must equal the identity its TLS certificate proved. */
  nodeId: string;
  /** Stream kinds the sender accepts (besides `control`). */
  kinds: string[];
  /** Free text: implementation and version, e.g. `octopii-ts/0.1.0`. */
  agent: string;
}
export interface PingMessage {
  t: 'ping';
  /** Sequence number (u32), echoed by the pong. */
  n: number;
}
export interface PongMessage {
  t: 'pong';
  n: number;
}
/** A deliberate close is coming (so the peer does not take it for a dead peer). */
export interface ByeMessage {
  t: 'bye';
  reason: string;
}
export type ControlMessage = HelloMessage | PingMessage | PongMessage | ByeMessage;

const isU32 = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 0xffffffff;

/** Validates a decoded message. Throws PROTOCOL_ERROR naming what is wrong. */
export function validateControlMessage(m: unknown): ControlMessage {
  const o = m as Record<string, unknown> | null;
  const bad = (why: string): never => {
    throw new OctopiiError('PROTOCOL_ERROR', `bad control message: ${why}`);
  };
  if (!o || typeof o !== 'object' || Array.isArray(o)) return bad('not a map');
  switch (o.t) {
    case 'hello':
      if (!Number.isInteger(o.v)) bad('hello.v');
      if (typeof o.nodeId !== 'string' || o.nodeId.length === 0 || o.nodeId.length > 128) bad('hello.nodeId');
      if (!Array.isArray(o.kinds) || o.kinds.length > 64 || !o.kinds.every((k) => typeof k === 'string' && KIND_PATTERN.test(k))) bad('hello.kinds');
      if (typeof o.agent !== 'string' || o.agent.length > 256) bad('hello.agent');
      return { t: 'hello', v: o.v as number, nodeId: o.nodeId as string, kinds: [...(o.kinds as string[])], agent: o.agent as string };
    case 'ping':
    case 'pong':
      if (!isU32(o.n)) bad(`${o.t}.n`);
      return { t: o.t, n: o.n as number };
    case 'bye':
      if (typeof o.reason !== 'string' || o.reason.length > 1024) bad('bye.reason');
      return { t: 'bye', reason: o.reason as string };
    default:
      return bad(`unknown type ${JSON.stringify(o.t)}`);
  }
}

/** One frame: u32 BE length ‖ CBOR. Throws TOO_LARGE over {@link MAX_CONTROL_FRAME_BYTES}. */
export function encodeControlFrame(m: ControlMessage): Uint8Array {
  const body: Uint8Array = encode(m);
  if (body.byteLength > MAX_CONTROL_FRAME_BYTES) throw new OctopiiError('TOO_LARGE', `control message of ${body.byteLength} bytes`);
  const out = new Uint8Array(4 + body.byteLength);
  new DataView(out.buffer).setUint32(0, body.byteLength, false);
  out.set(body, 4);
  return out;
}

/**
 * Splits complete frames off the front of `buf`: `{ messages, rest }` (the bytes of an
 * incomplete frame). Throws TOO_LARGE for a length over the limit, PROTOCOL_ERROR for bad CBOR
 * or a bad message.
 */
export function decodeControlFrames(buf: Uint8Array): { messages: ControlMessage[]; rest: Uint8Array } {
  const messages: ControlMessage[] = [];
  let off = 0;
  while (buf.byteLength - off >= 4) {
    const len = new DataView(buf.buffer, buf.byteOffset + off, 4).getUint32(0, false);
    if (len > MAX_CONTROL_FRAME_BYTES) throw new OctopiiError('TOO_LARGE', `control frame of ${len} bytes (max ${MAX_CONTROL_FRAME_BYTES})`);
    if (buf.byteLength - off - 4 < len) break;
    let decoded: unknown;
    try {
      decoded = decode(buf.subarray(off + 4, off + 4 + len));
    } catch (e) {
      throw new OctopiiError('PROTOCOL_ERROR', `control frame is not CBOR: ${(e as Error).message}`);
    }
    messages.push(validateControlMessage(decoded));
    off += 4 + len;
  }
  return { messages, rest: buf.subarray(off) };
}
