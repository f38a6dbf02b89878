/**
 * The `blobs` stream kind (Shipping Lane v2; docs/PROTOCOL.md "Blobs"): the fetcher opens a
 * stream, sends one request naming a root and the block ranges it lacks; the provider answers
 * with a header, then each block with the proof that verifies it against the root (iroh-blobs'
 * verified streaming), then an end frame — or an error frame. All integers little-endian.
 *
 * ```
 * request   version u8 = 1 ‖ root 32 B ‖ count u16 (1..1024) ‖ count × (start u32 ‖ end u32)
 *           [‖ 0x01 ‖ accept u8]     optional: the codecs the fetcher takes (bit 0 = brotli)
 *           block ranges [start, end), ascending, non-overlapping; end is clamped to the blob
 * HEADER    0x01 ‖ size u64 ‖ blockBytes u32               size is proven by every block's proof
 * BLOCK     0x02 ‖ index u32 ‖ proofCount u8 (≤ 64) ‖ proofCount × 32 B ‖ length u32 ‖ bytes
 * BLOCK_Z   0x05 ‖ index u32 ‖ proofCount u8 ‖ proof ‖ codec u8 ‖ rawLength u32 ‖ length u32 ‖ bytes
 *           a block compressed with `codec` (only one the request accepted); the proof is over
 *           the rawLength uncompressed bytes
 * END       0x03                                          every requested block was sent
 * ERROR     0x04 ‖ code u16 (src/errors.ts wire code) ‖ length u16 ‖ message UTF-8
 *
 * batch     version u8 = 2 ‖ count u16 (1..1024) ‖ count × root 32 B [‖ 0x01 ‖ accept u8]
 *           whole blobs the fetcher lacks entirely, on one stream
 * BATCH     0x06 ‖ count u16                                the provider takes the batch; then per
 *           root, in order, HEADER ‖ every BLOCK/BLOCK_Z ‖ END — or one ERROR for that root alone
 * ```
 *
 * A provider that predates batches reads version 2 as a bad request and answers ERROR
 * (PROTOCOL_ERROR) where a batch-aware one answers BATCH first: the fetcher then asks that
 * provider one blob per stream again (src/blobs/batch.ts).
 *
 * The accept field rides after the ranges, where a provider that predates it stops reading (the
 * fetcher closes its side after the request): an old provider ignores it and sends BLOCK frames
 * only, and a request without it (an old fetcher) gets BLOCK frames only.
 *
 * Pure apart from {@link ByteReader} reads: no node:* imports.
 */
import { fromWire, OctopiiError, toWire, type ErrorInfo } from '../errors.js';
import type { ByteReader } from '../lane/bytes.js';

export const BLOBS_WIRE_VERSION = 1;
export const BLOBS_MAX_RANGES = 1024;
export const BLOBS_MAX_PROOF = 64;
/** Block index meaning "to the end of the blob" in a request range. */
export const BLOBS_TO_END = 0xffffffff;

export const FRAME = { HEADER: 0x01, BLOCK: 0x02, END: 0x03, ERROR: 0x04, BLOCK_Z: 0x05, BATCH: 0x06 } as const;

/** Request version byte of a batch (many whole blobs on one stream). */
export const BLOBS_BATCH_VERSION = 2;
/** Most roots one batch request names. */
export const BLOBS_BATCH_MAX_ROOTS = 1024;

/** Block codecs (`codec` of a BLOCK_Z frame; bit `codec − 1` of a request's accept byte). 0 = as is. */
export const CODEC = { NONE: 0, BROTLI: 1 } as const;
export type Codec = (typeof CODEC)[keyof typeof CODEC];
const KNOWN_CODECS: readonly Codec[] = [CODEC.BROTLI];
/** Request extension tag: the accept byte follows. */
const EXT_ACCEPT = 0x01;

export interface BlobRequest {
  root: Uint8Array;
  /** Block ranges `[start, end)`. */
  ranges: Array<[number, number]>;
  /** Codecs the fetcher decodes; absent or empty = uncompressed blocks only. */
  accept?: Codec[];
}

/** A batch request: whole blobs, answered in order on one stream. */
export interface BlobBatchRequest {
  roots: Uint8Array[];
  accept?: Codec[];
}

export type BlobFrame =
  | { type: 'batch'; count: number }
  | { type: 'header'; size: number; blockBytes: number }
  /** `codec` NONE: `data` is the block; otherwise `data` is it compressed and `rawLength` its length uncompressed. */
  | { type: 'block'; index: number; proof: Uint8Array; data: Uint8Array; codec: Codec; rawLength: number }
  | { type: 'end' }
  | { type: 'error'; error: OctopiiError };

function checkRanges(ranges: Array<[number, number]>): void {
  if (ranges.length < 1 || ranges.length > BLOBS_MAX_RANGES) throw new OctopiiError('PROTOCOL_ERROR', `${ranges.length} ranges in a blob request (1..${BLOBS_MAX_RANGES})`);
  let last = -1;
  for (const [s, e] of ranges) {
    if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e > BLOBS_TO_END || s >= e || s < last) {
      throw new OctopiiError('PROTOCOL_ERROR', `bad block range [${s}, ${e}) in a blob request`);
    }
    last = e;
  }
}

/** Encodes a request. Throws PROTOCOL_ERROR for a root that is not 32 bytes or bad ranges. */
export function encodeBlobRequest(req: BlobRequest): Uint8Array {
  if (req.root.byteLength !== 32) throw new OctopiiError('PROTOCOL_ERROR', 'a blob root is 32 bytes');
  checkRanges(req.ranges);
  const accept = acceptMask(req.accept);
  const out = new Uint8Array(35 + 8 * req.ranges.length + (accept ? 2 : 0));
  const v = new DataView(out.buffer);
  out[0] = BLOBS_WIRE_VERSION;
  out.set(req.root, 1);
  v.setUint16(33, req.ranges.length, true);
  req.ranges.forEach(([s, e], i) => {
    v.setUint32(35 + 8 * i, s, true);
    v.setUint32(39 + 8 * i, e, true);
  });
  if (accept) out.set([EXT_ACCEPT, accept], 35 + 8 * req.ranges.length);
  return out;
}

const acceptMask = (accept: Codec[] | undefined): number => (accept?.length ? accept.reduce<number>((m, c) => m | (1 << (c - 1)), 0) : 0);

/** Encodes a batch request. Throws PROTOCOL_ERROR for 0 or more than {@link BLOBS_BATCH_MAX_ROOTS} roots, or a root that is not 32 bytes. */
export function encodeBlobBatchRequest(req: BlobBatchRequest): Uint8Array {
  const n = req.roots.length;
  if (n < 1 || n > BLOBS_BATCH_MAX_ROOTS) throw new OctopiiError('PROTOCOL_ERROR', `${n} roots in a blob batch (1..${BLOBS_BATCH_MAX_ROOTS})`);
  const accept = acceptMask(req.accept);
  const out = new Uint8Array(3 + 32 * n + (accept ? 2 : 0));
  out[0] = BLOBS_BATCH_VERSION;
  new DataView(out.buffer).setUint16(1, n, true);
  req.roots.forEach((r, i) => {
    if (r.byteLength !== 32) throw new OctopiiError('PROTOCOL_ERROR', `root ${i} of a blob batch is ${r.byteLength} bytes (32)`);
    out.set(r, 3 + 32 * i);
  });
  if (accept) out.set([EXT_ACCEPT, accept], 3 + 32 * n);
  return out;
}

/** The optional accept field at the end of a request (both versions). */
async function readAccept(r: ByteReader): Promise<Codec[] | undefined> {
  const ext = await r.readByte();
  if (ext === undefined) return undefined;
  if (ext !== EXT_ACCEPT) throw new OctopiiError('PROTOCOL_ERROR', `unknown blob request extension ${ext}`);
  const mask = await r.readByte();
  if (mask === undefined) throw new OctopiiError('PROTOCOL_ERROR', 'blob request ended inside its accept field');
  return KNOWN_CODECS.filter((c) => mask & (1 << (c - 1)));
}

/**
 * Reads a request of either version off a stream (what a provider does): a single-blob request
 * (version 1, see {@link readBlobRequest}) or a batch (version 2). Throws PROTOCOL_ERROR for
 * another version, a batch of 0 or more than {@link BLOBS_BATCH_MAX_ROOTS} roots, a request
 * that ends inside a root (a root that is not 32 bytes), an unknown extension.
 */
export async function readAnyBlobRequest(r: ByteReader): Promise<({ kind: 'single' } & BlobRequest) | ({ kind: 'batch' } & BlobBatchRequest)> {
  const v = await r.readByte();
  if (v === BLOBS_BATCH_VERSION) {
    const c = await r.readExact(2, 'blob batch count');
    const n = c[0]! | (c[1]! << 8);
    if (n < 1 || n > BLOBS_BATCH_MAX_ROOTS) throw new OctopiiError('PROTOCOL_ERROR', `${n} roots in a blob batch (1..${BLOBS_BATCH_MAX_ROOTS})`);
    const body = new Uint8Array(32 * n);
    const got = await r.fill(body);
    if (got < body.byteLength) throw new OctopiiError('PROTOCOL_ERROR', `blob batch request ended inside root ${Math.floor(got / 32)} (${got % 32} of 32 bytes)`);
    const roots = Array.from({ length: n }, (_, i) => body.slice(32 * i, 32 * i + 32));
    const accept = await readAccept(r);
    return { kind: 'batch', roots, ...(accept ? { accept } : {}) };
  }
  if (v !== BLOBS_WIRE_VERSION) throw new OctopiiError('PROTOCOL_ERROR', `blob request version ${v ?? 'none'} (expected ${BLOBS_WIRE_VERSION} or ${BLOBS_BATCH_VERSION})`);
  return { kind: 'single', ...(await readRequestBody(r)) };
}

/** A BATCH frame: the provider answers `count` roots on this stream. */
export function encodeBatchFrame(count: number): Uint8Array {
  return Uint8Array.of(FRAME.BATCH, count & 0xff, count >> 8);
}

/**
 * Reads a request off a stream, to the end of the fetcher's side (where the optional accept
 * field ends). Codecs this version does not know are left out of `accept`. Throws
 * PROTOCOL_ERROR (version, count, ranges, truncation, an unknown extension).
 */
export async function readBlobRequest(r: ByteReader): Promise<BlobRequest> {
  const v = await r.readByte();
  if (v !== BLOBS_WIRE_VERSION) throw new OctopiiError('PROTOCOL_ERROR', `blob request version ${v ?? 'none'} (expected ${BLOBS_WIRE_VERSION})`);
  return readRequestBody(r);
}

/** A version-1 request after its version byte. */
async function readRequestBody(r: ByteReader): Promise<BlobRequest> {
  const head = await r.readExact(34, 'blob request');
  const count = new DataView(head.buffer, head.byteOffset).getUint16(32, true);
  if (count < 1 || count > BLOBS_MAX_RANGES) throw new OctopiiError('PROTOCOL_ERROR', `${count} ranges in a blob request`);
  const body = await r.readExact(8 * count, 'blob request ranges');
  const v = new DataView(body.buffer);
  const ranges: Array<[number, number]> = Array.from({ length: count }, (_, i) => [v.getUint32(8 * i, true), v.getUint32(8 * i + 4, true)]);
  checkRanges(ranges);
  const accept = await readAccept(r);
  return { root: head.slice(0, 32), ranges, ...(accept ? { accept } : {}) };
}

export function encodeHeaderFrame(size: number, blockBytes: number): Uint8Array {
  const out = new Uint8Array(13);
  const v = new DataView(out.buffer);
  out[0] = FRAME.HEADER;
  v.setBigUint64(1, BigInt(size), true);
  v.setUint32(9, blockBytes, true);
  return out;
}

/**
 * A block frame's head: `type`, u32le index, proof count, the proof, then `tail` bytes for the
 * caller (lengths, codec), returned with the view to fill them. Throws INTERNAL for a proof that
 * is not whole hashes or longer than BLOBS_MAX_PROOF.
 */
function blockHead(type: number, index: number, proof: Uint8Array, tail: number): { out: Uint8Array; v: DataView; at: number } {
  const count = proof.byteLength / 32;
  if (!Number.isInteger(count) || count > BLOBS_MAX_PROOF) throw new OctopiiError('INTERNAL', `proof of ${proof.byteLength} bytes`);
  const out = new Uint8Array(6 + proof.byteLength + tail);
  const v = new DataView(out.buffer);
  out[0] = type;
  v.setUint32(1, index, true);
  out[5] = count;
  out.set(proof, 6);
  return { out, v, at: 6 + proof.byteLength };
}

/** The head of a BLOCK frame (everything before the block's bytes, which follow as they are). */
export function encodeBlockFrameHead(index: number, proof: Uint8Array, length: number): Uint8Array {
  const { out, v, at } = blockHead(FRAME.BLOCK, index, proof, 4);
  v.setUint32(at, length, true);
  return out;
}

/** The head of a BLOCK_Z frame: block `index` compressed with `codec` to `length` bytes from `rawLength`. */
export function encodeCompressedBlockFrameHead(index: number, proof: Uint8Array, codec: Codec, rawLength: number, length: number): Uint8Array {
  const { out, v, at } = blockHead(FRAME.BLOCK_Z, index, proof, 9);
  out[at] = codec;
  v.setUint32(at + 1, rawLength, true);
  v.setUint32(at + 5, length, true);
  return out;
}

export const encodeEndFrame = (): Uint8Array => Uint8Array.of(FRAME.END);

export function encodeErrorFrame(e: ErrorInfo | OctopiiError): Uint8Array {
  const w = toWire(e);
  const msg = new TextEncoder().encode(w.message).subarray(0, 0xffff);
  const out = new Uint8Array(5 + msg.byteLength);
  const v = new DataView(out.buffer);
  out[0] = FRAME.ERROR;
  v.setUint16(1, w.code, true);
  v.setUint16(3, msg.byteLength, true);
  out.set(msg, 5);
  return out;
}

/**
 * Reads the next frame; `maxBlock` bounds a BLOCK's length (bytes). `into(len)`, when given,
 * returns the `len`-byte view an uncompressed BLOCK's bytes are read into (a reused buffer: the
 * fetcher reads a block where it hashes it, src/blobs/fetch.ts); otherwise a fresh buffer.
 * Throws PROTOCOL_ERROR for an unknown frame type, a proof or block over its bound, or a stream
 * that ends mid-frame or before END.
 */
export async function readBlobFrame(r: ByteReader, maxBlock: number, into?: (len: number) => Uint8Array): Promise<BlobFrame> {
  const t = await r.readByte();
  if (t === undefined) throw new OctopiiError('PROTOCOL_ERROR', 'blob stream ended before its END frame');
  switch (t) {
    case FRAME.HEADER: {
      const b = await r.readExact(12, 'blob header');
      const v = new DataView(b.buffer);
      return { type: 'header', size: Number(v.getBigUint64(0, true)), blockBytes: v.getUint32(8, true) };
    }
    case FRAME.BLOCK: {
      const h = await r.readExact(5, 'block frame');
      const index = new DataView(h.buffer).getUint32(0, true);
      const count = h[4]!;
      if (count > BLOBS_MAX_PROOF) throw new OctopiiError('PROTOCOL_ERROR', `proof of ${count} hashes`);
      const proof = await r.readExact(32 * count, 'block proof');
      const len = new DataView((await r.readExact(4, 'block length')).buffer).getUint32(0, true);
      if (len > maxBlock) throw new OctopiiError('PROTOCOL_ERROR', `block of ${len} bytes (at most ${maxBlock})`);
      if (!into) return { type: 'block', index, proof, data: await r.readExact(len, 'block'), codec: CODEC.NONE, rawLength: len };
      const data = into(len);
      const got = await r.fill(data);
      if (got < len) throw new OctopiiError('PROTOCOL_ERROR', `truncated block: got ${got} of ${len} bytes`);
      return { type: 'block', index, proof, data, codec: CODEC.NONE, rawLength: len };
    }
    case FRAME.BLOCK_Z: {
      const h = await r.readExact(5, 'block frame');
      const index = new DataView(h.buffer).getUint32(0, true);
      const count = h[4]!;
      if (count > BLOBS_MAX_PROOF) throw new OctopiiError('PROTOCOL_ERROR', `proof of ${count} hashes`);
      const proof = await r.readExact(32 * count, 'block proof');
      const t = await r.readExact(9, 'compressed block head');
      const v = new DataView(t.buffer, t.byteOffset);
      const codec = t[0]!;
      const rawLength = v.getUint32(1, true);
      const len = v.getUint32(5, true);
      if (!KNOWN_CODECS.includes(codec as Codec)) throw new OctopiiError('PROTOCOL_ERROR', `unknown block codec ${codec}`);
      if (rawLength > maxBlock) throw new OctopiiError('PROTOCOL_ERROR', `block of ${rawLength} bytes (at most ${maxBlock})`);
      if (len > rawLength) throw new OctopiiError('PROTOCOL_ERROR', `compressed block of ${len} bytes, larger than its ${rawLength}`);
      return { type: 'block', index, proof, data: await r.readExact(len, 'block'), codec: codec as Codec, rawLength };
    }
    case FRAME.END:
      return { type: 'end' };
    case FRAME.BATCH: {
      const c = await r.readExact(2, 'batch frame');
      return { type: 'batch', count: c[0]! | (c[1]! << 8) };
    }
    case FRAME.ERROR: {
      const h = await r.readExact(4, 'error frame');
      const v = new DataView(h.buffer);
      const msg = new TextDecoder().decode(await r.readExact(v.getUint16(2, true), 'error message'));
      return { type: 'error', error: fromWire({ code: v.getUint16(0, true), message: msg }) };
    }
    default:
      throw new OctopiiError('PROTOCOL_ERROR', `unknown blob frame type ${t}`);
  }
}
