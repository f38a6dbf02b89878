/**
 * Messages of `rpc` streams (docs/PROTOCOL.md "RPC"). Calls are multiplexed by call ID on
 * long-lived `rpc` streams the caller opens (the layout chosen by measurement, see PROTOCOL.md
 * "Stream layout"): the caller sends `req` (which may carry the first input and `fin`), then
 * `data`/`end`; the callee answers on the same stream `data`…, then `end` (trailers) or `err`.
 * `cancel` from the caller stops the handler; `credit` grants the other side more `data`
 * messages of that call (flow control per call and per message — the idea of HTTP/2
 * WINDOW_UPDATE under gRPC and of reactive streams' `request(n)`).
 *
 * Framing: `length u32 BE ‖ call ID u32 BE ‖ CBOR map` (RFC 8949, cbor-x), `length` counting
 * the CBOR bytes. The call ID sits outside the CBOR so that a body over the limit (default
 * {@link DEFAULT_MAX_MESSAGE_BYTES}) or one that is not CBOR fails only its own call: the
 * receiver skips it and answers `err TOO_LARGE` / `err PROTOCOL_ERROR` for that ID; the sender's
 * encoder refuses an oversized body with TOO_LARGE. The stream and the connection stay up.
 *
 * Pure: no I/O beyond a Web Streams reader handed in.
 */
import { decode, encode } from 'cbor-x';
import { OctopiiError, fromWire, type WireError } from '../errors.js';

/** Default largest message body, bytes (16 MiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Largest method name `service.method`, bytes. */
export const MAX_METHOD_BYTES = 256;
/** Method names: `service.method`, each part `[A-Za-z_][A-Za-z0-9_-]*`. */
export const METHOD_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*\.[A-Za-z_][A-Za-z0-9_-]*$/;

/** String → string metadata (headers and trailers), like gRPC metadata. Keys lower-case ASCII. */
export type Metadata = Record<string, string>;

/** First message of a call, caller → callee. */
export interface RequestMessage {
  t: 'req';
  /** Call ID, u32, unique per stream (in the frame header, not in the CBOR map). */
  id: number;
  /** `service.method`. */
  m: string;
  /** Deadline: ms remaining when sent (absent: none). */
  dl?: number;
  md?: Metadata;
  /** The first (for unary: only) input, already validated by the caller. */
  p?: unknown;
  /** No more input follows (unary, server-streaming). */
  fin?: true;
  /** One-way (notify): the callee sends no reply at all. */
  ow?: true;
}
/** One message of the call's stream, either direction. */
export interface DataMessage {
  t: 'data';
  id: number;
  p: unknown;
  /** Response headers (callee's first message only). */
  md?: Metadata;
  /** Last message of this direction (saves an `end`). */
  fin?: true;
}
/** End of this direction; from the callee: the call succeeded, with trailers. */
export interface EndMessage {
  t: 'end';
  id: number;
  md?: Metadata;
}
/** The call failed (callee → caller), with an error of the table ({@link toWire}). */
export interface ErrorMessage {
  t: 'err';
  id: number;
  e: WireError;
  md?: Metadata;
}
/** The caller gave up (cancelled, deadline): the handler's signal fires. */
export interface CancelMessage {
  t: 'cancel';
  id: number;
}
/** The sender may send `n` more `data` messages (added to what it had). */
export interface CreditMessage {
  t: 'credit';
  id: number;
  n: number;
}
export type RpcMessage = RequestMessage | DataMessage | EndMessage | ErrorMessage | CancelMessage | CreditMessage;

const isU32 = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 0xffffffff;

function validMetadata(x: unknown): x is Metadata {
  if (!x || typeof x !== 'object' || Array.isArray(x)) return false;
  let n = 0;
  for (const [k, v] of Object.entries(x)) {
    if (++n > 64 || typeof v !== 'string' || k.length > 128 || v.length > 8192) return false;
  }
  return true;
}

/** Validates a decoded CBOR map of call `id`. Throws PROTOCOL_ERROR naming what is wrong. */
export function validateRpcMessage(id: number, m: unknown): RpcMessage {
  const o = m as Record<string, unknown> | null;
  const bad = (why: string): never => {
    throw new OctopiiError('PROTOCOL_ERROR', `bad rpc message: ${why}`);
  };
  if (!o || typeof o !== 'object' || Array.isArray(o) || o instanceof Uint8Array) return bad('not a map');
  if (!isU32(id)) return bad('call id');
  if ('id' in o) bad('id inside the map');
  // The map was just decoded and is ours: the ID goes in without a copy.
  const done = <T>(): T => {
    o.id = id;
    return o as T;
  };
  if (o.md !== undefined && !validMetadata(o.md)) bad(`${String(o.t)}.md`);
  if (o.fin !== undefined && o.fin !== true) bad(`${String(o.t)}.fin`);
  switch (o.t) {
    case 'req':
      if (typeof o.m !== 'string' || o.m.length > MAX_METHOD_BYTES) bad('req.m');
      if (o.dl !== undefined && !isU32(o.dl)) bad('req.dl');
      if (o.ow !== undefined && o.ow !== true) bad('req.ow');
      return done<RequestMessage>();
    case 'data':
      if (!('p' in o)) bad('data.p');
      return done<DataMessage>();
    case 'end':
    case 'cancel':
      return done<EndMessage | CancelMessage>();
    case 'err':
      fromWire(o.e);
      return done<ErrorMessage>();
    case 'credit':
      if (!isU32(o.n) || o.n === 0) bad('credit.n');
      return done<CreditMessage>();
    default:
      return bad(`unknown type ${JSON.stringify(o.t)}`);
  }
}

/** `length u32 BE ‖ id u32 BE ‖ body`. Throws TOO_LARGE when `body` is over `max` bytes. */
export function encodeFrame(id: number, body: Uint8Array, max = DEFAULT_MAX_MESSAGE_BYTES): Uint8Array {
  if (body.byteLength > max) throw new OctopiiError('TOO_LARGE', `rpc message of ${body.byteLength} bytes (max ${max})`);
  const out = new Uint8Array(8 + body.byteLength);
  const v = new DataView(out.buffer);
  v.setUint32(0, body.byteLength, false);
  v.setUint32(4, id, false);
  out.set(body, 8);
  return out;
}

/** One message as a frame (the call ID goes to the header). Throws TOO_LARGE over `max`. */
export function encodeRpcMessage(m: RpcMessage, max = DEFAULT_MAX_MESSAGE_BYTES): Uint8Array {
  return encodeFrame(m.id, encodeRpcBody(m, max), max);
}

/**
 * The CBOR body of `m` (its map without the ID), unframed: a writer that batches frames puts
 * each body straight behind its header in the batch, with no frame-sized copy per message.
 * Throws TOO_LARGE over `max`.
 */
export function encodeRpcBody(m: RpcMessage, max = DEFAULT_MAX_MESSAGE_BYTES): Uint8Array {
  const { id: _id, ...rest } = m;
  const body = encode(rest) as Uint8Array;
  if (body.byteLength > max) throw new OctopiiError('TOO_LARGE', `rpc message of ${body.byteLength} bytes (max ${max})`);
  return body;
}

/** Writes the frame header `length u32 BE ‖ id u32 BE` of a `length`-byte body at `out[at]`. */
export function writeFrameHeader(out: Uint8Array, at: number, id: number, length: number): void {
  out[at] = length >>> 24;
  out[at + 1] = (length >>> 16) & 0xff;
  out[at + 2] = (length >>> 8) & 0xff;
  out[at + 3] = length & 0xff;
  out[at + 4] = id >>> 24;
  out[at + 5] = (id >>> 16) & 0xff;
  out[at + 6] = (id >>> 8) & 0xff;
  out[at + 7] = id & 0xff;
}

/** A frame → a validated message. Throws PROTOCOL_ERROR (not CBOR, not a message). */
export function decodeRpcMessage(frame: Frame): RpcMessage {
  let decoded: unknown;
  try {
    decoded = decode(frame.body);
  } catch (e) {
    throw new OctopiiError('PROTOCOL_ERROR', `rpc frame is not CBOR: ${(e as Error).message}`);
  }
  return validateRpcMessage(frame.id, decoded);
}

/** One frame as read: its call ID and CBOR body. */
export interface Frame {
  id: number;
  body: Uint8Array;
}

/** A frame whose body was over the limit and skipped (the receiver answers TOO_LARGE for `id`). */
export interface OversizedFrame {
  id: number;
  oversized: number;
}

/**
 * Reads frames off a byte stream. `next()` resolves with the next {@link Frame}, an
 * {@link OversizedFrame} when a length is over `max` (its body is skipped as it arrives, never
 * buffered), or null at a clean end (between frames); throws PROTOCOL_ERROR when the stream
 * ends inside a frame (truncated).
 */
export class FrameReader {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #skip = 0;
  constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly max = DEFAULT_MAX_MESSAGE_BYTES,
  ) {}

  async next(): Promise<Frame | OversizedFrame | null> {
    for (;;) {
      const f = this.poll();
      if (f !== undefined) return f;
      const r = await this.reader.read();
      if (r.done) {
        if (this.#buffered === 0 && this.#skip === 0) return null;
        throw new OctopiiError('PROTOCOL_ERROR', `rpc stream ended inside a frame (${this.#buffered} bytes left)`);
      }
      if (r.value.byteLength > 0) {
        this.#chunks.push(r.value);
        this.#buffered += r.value.byteLength;
      }
    }
  }

  /**
   * The next frame if it is already buffered (no read, no promise), else undefined: a read loop
   * drains a chunk's frames synchronously and awaits `next()` only when it needs bytes.
   */
  poll(): Frame | OversizedFrame | undefined {
    if (this.#skip > 0) {
      const drop = Math.min(this.#skip, this.#buffered);
      this.#drop(drop);
      this.#skip -= drop;
    }
    if (this.#skip === 0 && this.#buffered >= 8) {
      const h = this.#peek(8);
      const len = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
      const id = ((h[4]! << 24) | (h[5]! << 16) | (h[6]! << 8) | h[7]!) >>> 0;
      if (len > this.max) {
        this.#drop(8);
        this.#skip = len;
        return { id, oversized: len };
      }
      if (this.#buffered >= 8 + len) {
        this.#drop(8);
        return { id, body: this.#take(len) };
      }
    }
    return undefined;
  }

  /** Releases the underlying reader's lock after cancelling it. */
  cancel(reason?: unknown): void {
    this.reader.cancel(reason).catch(() => undefined);
  }

  #peek(n: number): Uint8Array {
    const first = this.#chunks[0]!;
    if (first.byteLength >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let off = 0;
    for (const c of this.#chunks) {
      const k = Math.min(c.byteLength, n - off);
      out.set(c.subarray(0, k), off);
      off += k;
      if (off === n) break;
    }
    return out;
  }

  /** Discards `n` buffered bytes (n ≤ buffered). */
  #drop(n: number): void {
    this.#buffered -= n;
    while (n > 0) {
      const c = this.#chunks[0]!;
      if (c.byteLength > n) {
        this.#chunks[0] = c.subarray(n);
        return;
      }
      n -= c.byteLength;
      this.#chunks.shift();
    }
  }

  #take(n: number): Uint8Array {
    this.#buffered -= n;
    const first = this.#chunks[0];
    if (first && first.byteLength >= n) {
      if (first.byteLength === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.#chunks[0]!;
      const k = Math.min(c.byteLength, n - off);
      out.set(c.subarray(0, k), off);
      off += k;
      if (k === c.byteLength) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(k);
    }
    return out;
  }
}
