/**
 * The hash tree that names a blob (Shipping Lane v2): a binary Merkle tree over SHA-256 hashes
 * of fixed-size blocks, after BLAKE3/bao (iroh-blobs' outboards) but with SHA-256, which
 * node:crypto runs at ~1.6 GB/s per core (src/hash/pool.ts) where a JavaScript BLAKE3 would not.
 *
 * Construction (docs/PROTOCOL.md "Blobs"), `B` = block size in bytes, `size` = blob bytes:
 *
 * ```
 * n        = max(1, ceil(size / B))                 blocks; the empty blob is one empty block
 * leaf(i)  = SHA-256(0x00 ‖ u64le i ‖ block_i)      domain 0x00, chunk counter bound in (bao)
 * parent   = SHA-256(0x01 ‖ left ‖ right)           domain 0x01
 * top      = leaf(0) when n = 1, else parent(top(left), top(right)) where the left subtree
 *            holds the largest power of two of blocks strictly below n (BLAKE3's left-full tree)
 * root     = SHA-256(0x02 ‖ u64le size ‖ u32le B ‖ top)   length and block size bound in
 * ```
 *
 * Domain separation keeps a leaf from passing for a parent (second-preimage splicing); the
 * counter keeps two equal blocks at different places apart; binding `size` into the root means
 * a proof for block i also proves the blob's length, so a provider cannot lie about it.
 *
 * A proof for block i is the sibling hashes on the path from its leaf to the top, bottom-up
 * (⌈log2 n⌉ × 32 bytes at most). The outboard kept beside a blob is its leaf layer (n × 32
 * bytes): parents are recomputed on load (n − 1 hashes of 65 bytes), which also checks the
 * outboard against the root — a forged outboard is refused there.
 *
 * Block size: a property of each blob (bound into its root, recorded in its outboard header), a
 * power of two from {@link MIN_BLOCK_BYTES} (16 KiB) to {@link MAX_BLOCK_BYTES} (16 MiB); the same
 * content at two block sizes has two roots. Default 1 MiB, by measurement (`npm run
 * bench:blobs`, this shared 2-core machine, 256 MiB per row): 256 KiB / 1 MiB / 4 MiB blocks hash through the pool (2 threads, 4 jobs in flight)
 * at 830 / 1,050 / 1,210 MB/s (a pool job costs ~50 µs, so small jobs lose to round trips);
 * outboards take 128 / 32 / 8 KiB per GiB; a proof is 384 / 320 / 256 bytes per block of a
 * 1 GiB blob; verifying one random 4 KiB read hashes its whole block: 0.22 / 0.79 / 3.3 ms.
 * 1 MiB stays within ~15 % of the best throughput while a random read costs under 1 ms (4 MiB
 * costs 4× that), and a broken connection loses at most 1 MiB per block in flight.
 *
 * Pure: node:crypto only for SHA-256 of the small inputs; block leaves may be hashed in the
 * pool by the caller with {@link leafMessage}.
 */
import { createHash } from 'node:crypto';
import { OctopiiError } from '../errors.js';
import { BLOCK_BYTES } from './blockSize.js';

export { BLOCK_BYTES, checkBlockBytes, DEFAULT_BLOCK_BYTES, isBlockBytes, MAX_BLOCK_BYTES, MIN_BLOCK_BYTES } from './blockSize.js';
/** Bytes of one hash (SHA-256). */
export const HASH_BYTES = 32;
/** Bytes in front of a block in a leaf message: domain byte + u64le index. */
export const LEAF_PREFIX_BYTES = 9;
/** Domain bytes. */
export const DOMAIN = { LEAF: 0x00, PARENT: 0x01, ROOT: 0x02 } as const;

/** Number of blocks of a blob of `size` bytes (at least 1: the empty blob is one empty block). */
export function blockCount(size: number, blockBytes = BLOCK_BYTES): number {
  if (!Number.isSafeInteger(size) || size < 0) throw new OctopiiError('INVALID_ARGUMENT', `blob size ${size} is not a byte count`);
  return Math.max(1, Math.ceil(size / blockBytes));
}

/** Bytes of block `index` of a blob of `size` bytes. */
export function blockLength(size: number, index: number, blockBytes = BLOCK_BYTES): number {
  return Math.max(0, Math.min(blockBytes, size - index * blockBytes));
}

function writeU64le(out: Uint8Array, at: number, v: number): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setBigUint64(at, BigInt(v), true);
}

/** The 9-byte prefix of leaf `index`: 0x00 ‖ u64le index. */
export function leafPrefix(index: number): Uint8Array {
  const p = new Uint8Array(LEAF_PREFIX_BYTES);
  p[0] = DOMAIN.LEAF;
  writeU64le(p, 1, index);
  return p;
}

/**
 * Writes the leaf prefix of `index` into the first 9 bytes of `buffer` (whose bytes from 9 on
 * hold the block) and returns the view to hash: the leaf message without copying the block.
 */
export function leafMessage(buffer: Uint8Array, index: number, blockLen: number): Uint8Array {
  buffer.set(leafPrefix(index), 0);
  return buffer.subarray(0, LEAF_PREFIX_BYTES + blockLen);
}

/** Leaf hash of block `index` on this thread (32 bytes). */
export function leafHash(index: number, block: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(leafPrefix(index)).update(block).digest());
}

/** Parent hash of two child hashes (32 bytes). */
export function parentHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(Uint8Array.of(DOMAIN.PARENT)).update(left).update(right).digest());
}

/** The root from the top of the tree, binding `size` and the block size (32 bytes). */
export function rootFromTop(top: Uint8Array, size: number, blockBytes = BLOCK_BYTES): Uint8Array {
  const p = new Uint8Array(13);
  p[0] = DOMAIN.ROOT;
  writeU64le(p, 1, size);
  new DataView(p.buffer).setUint32(9, blockBytes, true);
  return new Uint8Array(createHash('sha256').update(p).update(top).digest());
}

/** Blocks in the left subtree of a subtree of `n` ≥ 2 blocks: the largest power of two below n. */
export function leftCount(n: number): number {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
}

/** The top of the tree over `leaves[lo, hi)`. */
function topOf(leaves: readonly Uint8Array[], lo: number, hi: number): Uint8Array {
  if (hi - lo === 1) return leaves[lo]!;
  const mid = lo + leftCount(hi - lo);
  return parentHash(topOf(leaves, lo, mid), topOf(leaves, mid, hi));
}

/**
 * The root of a blob of `size` bytes from its leaf hashes. Throws INVALID_ARGUMENT when the
 * number of leaves is not `blockCount(size)`.
 */
export function rootFromLeaves(leaves: readonly Uint8Array[], size: number, blockBytes = BLOCK_BYTES): Uint8Array {
  const n = blockCount(size, blockBytes);
  if (leaves.length !== n) throw new OctopiiError('INVALID_ARGUMENT', `${leaves.length} leaf hashes for a ${size}-byte blob (expected ${n})`);
  return rootFromTop(topOf(leaves, 0, n), size, blockBytes);
}

/** The root of `data` hashed on this thread (small blobs, tests, golden vectors). */
export function rootOf(data: Uint8Array, blockBytes = BLOCK_BYTES): Uint8Array {
  const n = blockCount(data.byteLength, blockBytes);
  const leaves: Uint8Array[] = [];
  for (let i = 0; i < n; i++) leaves.push(leafHash(i, data.subarray(i * blockBytes, i * blockBytes + blockLength(data.byteLength, i, blockBytes))));
  return rootFromLeaves(leaves, data.byteLength, blockBytes);
}

/**
 * Sides on the path from the top to leaf `index` of an `n`-leaf tree, bottom-up: `true` where
 * the path's node is a left child (its sibling is on the right).
 */
function pathSides(n: number, index: number): boolean[] {
  const sides: boolean[] = [];
  let lo = 0;
  let hi = n;
  while (hi - lo > 1) {
    const mid = lo + leftCount(hi - lo);
    if (index < mid) {
      sides.push(true);
      hi = mid;
    } else {
      sides.push(false);
      lo = mid;
    }
  }
  return sides.reverse();
}

/** Number of sibling hashes in the proof of block `index` of an `n`-block blob. */
export function proofLength(n: number, index: number): number {
  return pathSides(n, index).length;
}

/**
 * The proof of block `index`: sibling hashes bottom-up, concatenated (32 bytes each). Throws
 * INVALID_ARGUMENT for an index outside the blob.
 */
export function proofOf(leaves: readonly Uint8Array[], index: number): Uint8Array {
  const n = leaves.length;
  if (!Number.isInteger(index) || index < 0 || index >= n) throw new OctopiiError('INVALID_ARGUMENT', `block ${index} outside a ${n}-block blob`);
  const siblings: Uint8Array[] = [];
  let lo = 0;
  let hi = n;
  while (hi - lo > 1) {
    const mid = lo + leftCount(hi - lo);
    if (index < mid) {
      siblings.push(topOf(leaves, mid, hi));
      hi = mid;
    } else {
      siblings.push(topOf(leaves, lo, mid));
      lo = mid;
    }
  }
  siblings.reverse();
  const out = new Uint8Array(siblings.length * HASH_BYTES);
  siblings.forEach((s, i) => out.set(s, i * HASH_BYTES));
  return out;
}

/**
 * True when `leaf` (the leaf hash of block `index`) and `proof` lead to `root` for a blob of
 * `size` bytes. False for a wrong leaf, proof, size, index, or a proof of the wrong length.
 */
export function verifyProof(root: Uint8Array, size: number, index: number, leaf: Uint8Array, proof: Uint8Array, blockBytes = BLOCK_BYTES): boolean {
  if (!Number.isSafeInteger(size) || size < 0) return false;
  const n = blockCount(size, blockBytes);
  if (!Number.isInteger(index) || index < 0 || index >= n) return false;
  const sides = pathSides(n, index);
  if (proof.byteLength !== sides.length * HASH_BYTES) return false;
  let node = leaf;
  for (let i = 0; i < sides.length; i++) {
    const sib = proof.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);
    node = sides[i] ? parentHash(node, sib) : parentHash(sib, node);
  }
  return equalBytes(rootFromTop(node, size, blockBytes), root);
}

/**
 * Every proof of a blob at once, from its leaves, in O(n) parent hashes (a provider serving a
 * whole blob): `proofs[i]` is {@link proofOf}(leaves, i).
 */
export function allProofs(leaves: readonly Uint8Array[]): Uint8Array[] {
  const n = leaves.length;
  const siblings: Uint8Array[][] = Array.from({ length: n }, () => []);
  const walk = (lo: number, hi: number): Uint8Array => {
    if (hi - lo === 1) return leaves[lo]!;
    const mid = lo + leftCount(hi - lo);
    const l = walk(lo, mid);
    const r = walk(mid, hi);
    for (let i = lo; i < mid; i++) siblings[i]!.push(r);
    for (let i = mid; i < hi; i++) siblings[i]!.push(l);
    return parentHash(l, r);
  };
  walk(0, n);
  return siblings.map((s) => {
    const out = new Uint8Array(s.length * HASH_BYTES);
    s.forEach((h, i) => out.set(h, i * HASH_BYTES));
    return out;
  });
}

/** Constant-length byte equality. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let d = 0;
  for (let i = 0; i < a.byteLength; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** Lower-case hex of a root (64 characters). */
export function rootHex(root: Uint8Array): string {
  return Buffer.from(root.buffer, root.byteOffset, root.byteLength).toString('hex');
}

/** A root from its 64-character hex. Throws INVALID_ARGUMENT for anything else. */
export function parseRoot(hex: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new OctopiiError('INVALID_ARGUMENT', `not a blob root: ${JSON.stringify(hex)}`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
