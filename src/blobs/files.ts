/**
 * On-disk formats of the blob store (src/blobs/store.ts), pure encoders/decoders:
 *
 * Outboard (`<root>.obao`, beside each blob's data, after bao's "outboard" encoding: the tree
 * kept apart from the data so the data file is the plain blob), little-endian:
 * ```
 * magic      8 B   "OCTOOB01"
 * blockBytes u32   block size, bytes
 * reserved   u32   0
 * size       u64   blob size, bytes
 * root       32 B  the blob's root
 * leaves     n × 32 B   leaf hashes of blocks 0..n-1 (in a partial blob: zero until verified)
 * ```
 * Verified-block map (`<root>.map`, partial blobs only):
 * ```
 * magic      8 B   "OCTOMAP1"
 * blocks     u32   n
 * bits       ⌈n/8⌉ B   bit i (byte i>>3, bit i&7) set ⇔ block i was verified and is durable
 * ```
 */
import { OctopiiError } from '../errors.js';
import { BLOCK_BYTES, blockCount, HASH_BYTES } from './tree.js';

export const OUTBOARD_MAGIC = 'OCTOOB01';
export const OUTBOARD_HEADER_BYTES = 56;
export const MAP_MAGIC = 'OCTOMAP1';
export const MAP_HEADER_BYTES = 12;

export interface OutboardHeader {
  blockBytes: number;
  size: number;
  root: Uint8Array;
}

/** The outboard header (56 bytes). */
export function encodeOutboardHeader(h: OutboardHeader): Uint8Array {
  const out = new Uint8Array(OUTBOARD_HEADER_BYTES);
  const v = new DataView(out.buffer);
  out.set(Buffer.from(OUTBOARD_MAGIC, 'ascii'), 0);
  v.setUint32(8, h.blockBytes, true);
  v.setBigUint64(16, BigInt(h.size), true);
  out.set(h.root, 24);
  return out;
}

/** Parses an outboard header; throws BLOCK_MISMATCH for a bad magic or a short file. */
export function decodeOutboardHeader(bytes: Uint8Array): OutboardHeader {
  if (bytes.byteLength < OUTBOARD_HEADER_BYTES || Buffer.from(bytes.subarray(0, 8)).toString('ascii') !== OUTBOARD_MAGIC) {
    throw new OctopiiError('BLOCK_MISMATCH', 'outboard header is not an octopii outboard');
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { blockBytes: v.getUint32(8, true), size: Number(v.getBigUint64(16, true)), root: bytes.slice(24, 24 + HASH_BYTES) };
}

/** A whole outboard: header and leaves (`blockBytes`: the blob's block size, default 1 MiB). */
export function encodeOutboard(root: Uint8Array, size: number, leaves: readonly Uint8Array[], blockBytes = BLOCK_BYTES): Uint8Array {
  const out = new Uint8Array(OUTBOARD_HEADER_BYTES + leaves.length * HASH_BYTES);
  out.set(encodeOutboardHeader({ blockBytes, size, root }), 0);
  leaves.forEach((l, i) => out.set(l, OUTBOARD_HEADER_BYTES + i * HASH_BYTES));
  return out;
}

/** File offset of leaf `index` in an outboard. */
export const leafOffset = (index: number): number => OUTBOARD_HEADER_BYTES + index * HASH_BYTES;

/** Whole outboard length for a blob of `size` bytes. */
export const outboardBytes = (size: number, blockBytes: number): number => leafOffset(blockCount(size, blockBytes));

/** A fresh map header + all-zero bits for `n` blocks. */
export function encodeEmptyMap(n: number): Uint8Array {
  const out = new Uint8Array(MAP_HEADER_BYTES + Math.ceil(n / 8));
  out.set(Buffer.from(MAP_MAGIC, 'ascii'), 0);
  new DataView(out.buffer).setUint32(8, n, true);
  return out;
}

/** Parses a map file into its bits; throws IO_ERROR when it is not one for `n` blocks. */
export function decodeMap(bytes: Uint8Array, n: number): Uint8Array {
  const ok =
    bytes.byteLength === MAP_HEADER_BYTES + Math.ceil(n / 8) &&
    Buffer.from(bytes.subarray(0, 8)).toString('ascii') === MAP_MAGIC &&
    new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true) === n;
  if (!ok) throw new OctopiiError('IO_ERROR', `verified-block map is damaged (expected ${n} blocks)`);
  return bytes.slice(MAP_HEADER_BYTES);
}

export const bitSet = (bits: Uint8Array, i: number): boolean => (bits[i >> 3]! & (1 << (i & 7))) !== 0;

/** Block ranges `[start, end)` whose bit is clear, ascending. */
export function missingRanges(bits: Uint8Array, n: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = -1;
  for (let i = 0; i < n; i++) {
    if (!bitSet(bits, i)) {
      if (start < 0) start = i;
    } else if (start >= 0) {
      out.push([start, i]);
      start = -1;
    }
  }
  if (start >= 0) out.push([start, n]);
  return out;
}
