/**
 * The WAL's on-disk format: frames that each carry one group-commit batch of records.
 *
 * A segment file is a sequence of frames, back to back, nothing else:
 *
 * ```text
 * frame   = crc32c:u32le  length:u32le  type:u8  reserved:3×0x00  payload[length]
 *           crc32c covers bytes 4 … 12+length (length, type, reserved, payload);
 *           type 1 = batch (0 is never used, so zero-filled space never parses)
 * payload = record*
 * record  = type:u8  length:u32le  body[length]
 *   1 entry      index:u64le term:u64le data[…]
 *   2 hardState  term:u64le commit:u64le hasVote:u8 vote:utf8[…]
 *   3 snapshot   index:u64le term:u64le
 *   4 truncate   index:u64le                (entries ≥ index are gone)
 * ```
 *
 * One frame per batch is LevelDB's idea (a `WriteBatch` is one log record, so a batch is applied
 * whole or not at all) with etcd's record types (`entryType`, `stateType`, `snapshotType`) and
 * its checksum (CRC-32C, Castagnoli). A frame is the unit of atomicity: a crash while a batch was
 * being written leaves at most one partial frame, at the very end of the last segment, and
 * recovery cuts it off; a frame that fails its checksum with a whole frame after it cannot come
 * from a crash (the later frame was only written after the earlier one was synced) and is
 * corruption. The rule errs one way only: entry data that itself holds a whole valid frame could
 * make a torn tail look like corruption (the WAL refuses to open), never corruption look torn.
 * CRC-32C comes from `@node-rs/crc32` (SSE4.2/SIMD), the fastest of three libraries
 * measured in bench/wal.ts.
 */
import { crc32c } from '@node-rs/crc32';
import { OctopiiError } from '../errors.js';
import type { HardState, SnapshotMarker } from './types.js';

/** Bytes before a frame's payload. */
export const FRAME_HEADER = 12;
/** Bytes before a record's body. */
export const RECORD_HEADER = 5;
/** Frame type of a batch. */
const FRAME_BATCH = 1;
/** Largest frame payload (u32). */
export const MAX_FRAME_PAYLOAD = 0xffff_ffff;

const REC_ENTRY = 1;
const REC_HARD_STATE = 2;
const REC_SNAPSHOT = 3;
const REC_TRUNCATE = 4;

/** One decoded record. `data` of an entry is a view into the buffer it was read from. */
export type WalRecord =
  | { readonly type: 'entry'; readonly index: number; readonly term: number; readonly data: Uint8Array }
  | { readonly type: 'hardState'; readonly hardState: HardState }
  | { readonly type: 'snapshot'; readonly snapshot: SnapshotMarker }
  | { readonly type: 'truncate'; readonly index: number };

const TWO32 = 2 ** 32;
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function putU64(b: Buffer, at: number, n: number): void {
  b.writeUInt32LE(n % TWO32, at);
  b.writeUInt32LE(Math.floor(n / TWO32), at + 4);
}

function getU64(b: Buffer, at: number): number {
  const hi = b.readUInt32LE(at + 4);
  if (hi >= 2 ** 21) throw new RangeError('u64 above 2^53');
  return b.readUInt32LE(at) + hi * TWO32;
}

/** Size of `r` encoded as a record, header included. */
function recordSize(r: WalRecord, vote?: Uint8Array): number {
  switch (r.type) {
    case 'entry':
      return RECORD_HEADER + 16 + r.data.byteLength;
    case 'hardState':
      return RECORD_HEADER + 17 + (vote?.byteLength ?? 0);
    case 'snapshot':
      return RECORD_HEADER + 16;
    case 'truncate':
      return RECORD_HEADER + 8;
  }
}

/** Encoded records, ready to be placed in a frame. */
export interface EncodedRecords {
  readonly bytes: Buffer;
  /** For each entry record, in order: where its data starts within `bytes`. */
  readonly entryDataOffsets: number[];
}

/** Encodes records back to back (a frame's payload, or part of one). */
export function encodeRecords(records: readonly WalRecord[]): EncodedRecords {
  const votes = records.map((r) => (r.type === 'hardState' && r.hardState.vote !== null ? utf8.encode(r.hardState.vote) : undefined));
  let total = 0;
  for (let i = 0; i < records.length; i++) total += recordSize(records[i]!, votes[i]);
  const b = Buffer.allocUnsafe(total);
  const entryDataOffsets: number[] = [];
  let at = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const size = recordSize(r, votes[i]);
    b.writeUInt32LE(size - RECORD_HEADER, at + 1);
    const body = at + RECORD_HEADER;
    switch (r.type) {
      case 'entry':
        b[at] = REC_ENTRY;
        putU64(b, body, r.index);
        putU64(b, body + 8, r.term);
        b.set(r.data, body + 16);
        entryDataOffsets.push(body + 16);
        break;
      case 'hardState': {
        b[at] = REC_HARD_STATE;
        putU64(b, body, r.hardState.term);
        putU64(b, body + 8, r.hardState.commit);
        const vote = votes[i];
        b[body + 16] = vote ? 1 : 0;
        if (vote) b.set(vote, body + 17);
        break;
      }
      case 'snapshot':
        b[at] = REC_SNAPSHOT;
        putU64(b, body, r.snapshot.index);
        putU64(b, body + 8, r.snapshot.term);
        break;
      case 'truncate':
        b[at] = REC_TRUNCATE;
        putU64(b, body, r.index);
        break;
    }
    at += size;
  }
  return { bytes: b, entryDataOffsets };
}

/** One frame around `parts` (their bytes concatenated as the payload). */
export function encodeFrame(parts: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const p of parts) length += p.byteLength;
  if (length > MAX_FRAME_PAYLOAD) throw new OctopiiError('TOO_LARGE', `WAL batch of ${length} bytes is above ${MAX_FRAME_PAYLOAD}`);
  const b = Buffer.allocUnsafe(FRAME_HEADER + length);
  b.writeUInt32LE(length, 4);
  b[8] = FRAME_BATCH;
  b[9] = b[10] = b[11] = 0;
  let at = FRAME_HEADER;
  for (const p of parts) {
    b.set(p, at);
    at += p.byteLength;
  }
  b.writeUInt32LE(crc32c(b.subarray(4)), 0);
  return b;
}

/** The result of reading the frame at an offset. */
export type FrameRead =
  | { readonly ok: true; readonly payloadStart: number; readonly end: number }
  | { readonly ok: false; readonly reason: string };

/** Reads and checks the frame at `at` in `buf` (the whole segment, or its tail from `at`). */
export function readFrame(buf: Buffer, at: number): FrameRead {
  const left = buf.byteLength - at;
  if (left < FRAME_HEADER) return { ok: false, reason: `${left} bytes left, less than a frame header` };
  if (buf[at + 8] !== FRAME_BATCH || buf[at + 9] !== 0 || buf[at + 10] !== 0 || buf[at + 11] !== 0) {
    return { ok: false, reason: `bad frame type ${buf[at + 8]}` };
  }
  const length = buf.readUInt32LE(at + 4);
  if (length > left - FRAME_HEADER) return { ok: false, reason: `frame length ${length} runs past the end (${left - FRAME_HEADER} bytes left)` };
  const end = at + FRAME_HEADER + length;
  const want = buf.readUInt32LE(at);
  const got = crc32c(buf.subarray(at + 4, end));
  if (want !== got) return { ok: false, reason: `checksum mismatch (stored ${want.toString(16)}, computed ${got.toString(16)})` };
  return { ok: true, payloadStart: at + FRAME_HEADER, end };
}

/**
 * The offset of the first whole, valid frame that starts after `from`, or -1: tells a torn tail
 * (nothing valid follows) from corruption in the middle (something does). Cheap on zero-filled
 * space: the type byte is checked before any checksum.
 */
export function findNextFrame(buf: Buffer, from: number): number {
  for (let at = from + 1; at + FRAME_HEADER <= buf.byteLength; at++) {
    if (buf[at + 8] !== FRAME_BATCH) continue;
    if (readFrame(buf, at).ok) return at;
  }
  return -1;
}

/**
 * Calls `visit(record, dataOffset)` for each record in the payload `buf[start, end)`;
 * `dataOffset` is where an entry's data starts in `buf` (-1 for other records). Throws a
 * RangeError on a malformed payload (the caller turns it into WAL_CORRUPT).
 */
export function forEachRecord(buf: Buffer, start: number, end: number, visit: (r: WalRecord, dataOffset: number) => void): void {
  let at = start;
  while (at < end) {
    if (end - at < RECORD_HEADER) throw new RangeError(`record header cut at ${at}`);
    const type = buf[at]!;
    const length = buf.readUInt32LE(at + 1);
    const body = at + RECORD_HEADER;
    const next = body + length;
    if (next > end) throw new RangeError(`record at ${at} runs past its frame`);
    switch (type) {
      case REC_ENTRY:
        if (length < 16) throw new RangeError(`entry record of ${length} bytes`);
        visit({ type: 'entry', index: getU64(buf, body), term: getU64(buf, body + 8), data: buf.subarray(body + 16, next) }, body + 16);
        break;
      case REC_HARD_STATE: {
        if (length < 17) throw new RangeError(`hard state record of ${length} bytes`);
        const vote = buf[body + 16] === 1 ? utf8Decoder.decode(buf.subarray(body + 17, next)) : null;
        visit({ type: 'hardState', hardState: { term: getU64(buf, body), commit: getU64(buf, body + 8), vote } }, -1);
        break;
      }
      case REC_SNAPSHOT:
        if (length !== 16) throw new RangeError(`snapshot record of ${length} bytes`);
        visit({ type: 'snapshot', snapshot: { index: getU64(buf, body), term: getU64(buf, body + 8) } }, -1);
        break;
      case REC_TRUNCATE:
        if (length !== 8) throw new RangeError(`truncate record of ${length} bytes`);
        visit({ type: 'truncate', index: getU64(buf, body) }, -1);
        break;
      default:
        throw new RangeError(`unknown record type ${type} at ${at}`);
    }
    at = next;
  }
}
