/**
 * The blob hash tree (src/blobs/tree.ts): golden roots, a root rebuilt by hand from the spec in
 * docs/PROTOCOL.md "Blobs", proofs for every block of unbalanced trees, and forged proofs refused.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { allProofs, blockCount, leafHash, proofOf, rootFromLeaves, rootHex, rootOf, verifyProof } from '../../src/blobs/tree.js';

const seq = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251);
const sha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const u64 = (v: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return new Uint8Array(b);
};
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return new Uint8Array(b);
};
const leaves = (data: Uint8Array, b: number) => Array.from({ length: blockCount(data.byteLength, b) }, (_, i) => leafHash(i, data.subarray(i * b, (i + 1) * b)));

describe('blob tree golden vectors (bytes i % 251)', () => {
  // These roots name blobs on the wire and on disk: changing one orphans every stored blob.
  it.each([
    [0, 1024, 'f03ce5b3b0eb53e1c9f29238b26324b780572e1bfd170463d4bf8d1a2df45d8f'],
    [1, 1024, 'e44fdb334035e99a9d00485924d24be6e5068b53b04db65e1a9ceea8424cdb79'],
    [1024, 1024, '2208cb78612e71069f3b97c6a7b553380df1bb9084d1d0c7f6654bd7c12c2a63'],
    [1025, 1024, '2286269ade8928f89e2c8ef47c2fb258cee29794573d8010c192efe1920bbdd9'],
    [3079, 1024, '1322d2d0bd06d69c7740805c0fbd8447ba03de3c18ff209df7e4f523b478dce1'],
    [5120, 1024, '75d6b9f3d85780e6608e916d528e5a3e3b7c9f9ca390de277684d9b7c7af80e3'],
    [0, 1 << 20, '13f0ecf7a128813c89b2301f9c89cb2daac14d3df3ccf985972510327c87d0e4'],
    [(1 << 20) + 1, 1 << 20, '19e34b075ad66876ef59ac26c30148a369f7773df71081b7845bc69465baf606'],
  ] as Array<[number, number, string]>)('%i bytes in %i-byte blocks', (n, b, hex) => {
    expect(rootHex(rootOf(seq(n), b))).toBe(hex);
  });

  it('matches the spec computed by hand for 3 blocks: root = H(2‖size‖B‖H(1‖H(1‖L0‖L1)‖L2))', () => {
    const data = seq(3000);
    const L = [0, 1, 2].map((i) => sha(Uint8Array.of(0), u64(i), data.subarray(i * 1024, (i + 1) * 1024)));
    const top = sha(Uint8Array.of(1), sha(Uint8Array.of(1), L[0]!, L[1]!), L[2]!);
    const root = sha(Uint8Array.of(2), u64(3000), u32(1024), top);
    expect(rootHex(rootOf(data, 1024))).toBe(rootHex(root));
  });
});

describe('blob tree proofs', () => {
  it.each([1, 2, 3, 5, 7, 8, 13])('verifies every block of a %i-block blob with its own proof', (n) => {
    const data = seq(n * 64 - 3 * Number(n > 1));
    const ls = leaves(data, 64);
    const root = rootFromLeaves(ls, data.byteLength, 64);
    const ok = ls.map((l, i) => verifyProof(root, data.byteLength, i, l, proofOf(ls, i), 64));
    expect(ok).toEqual(ls.map(() => true));
  });

  it('computes every proof at once exactly as one at a time', () => {
    const ls = leaves(seq(13 * 64), 64);
    expect(allProofs(ls)).toEqual(ls.map((_, i) => proofOf(ls, i)));
  });

  it('refuses a block verified at another index', () => {
    const data = seq(5 * 64);
    const ls = leaves(data, 64);
    const root = rootFromLeaves(ls, data.byteLength, 64);
    expect(verifyProof(root, data.byteLength, 3, ls[2]!, proofOf(ls, 2), 64)).toBe(false);
  });

  it('refuses a flipped byte in the block', () => {
    const data = seq(5 * 64);
    const ls = leaves(data, 64);
    const root = rootFromLeaves(ls, data.byteLength, 64);
    const bad = data.slice(64, 128);
    bad[7]! ^= 1;
    expect(verifyProof(root, data.byteLength, 1, leafHash(1, bad), proofOf(ls, 1), 64)).toBe(false);
  });

  it('refuses a proof claiming another blob size', () => {
    const data = seq(5 * 64);
    const ls = leaves(data, 64);
    const root = rootFromLeaves(ls, data.byteLength, 64);
    expect(verifyProof(root, data.byteLength - 1, 0, ls[0]!, proofOf(ls, 0), 64)).toBe(false);
  });

  it('refuses a truncated proof', () => {
    const data = seq(5 * 64);
    const ls = leaves(data, 64);
    const root = rootFromLeaves(ls, data.byteLength, 64);
    expect(verifyProof(root, data.byteLength, 0, ls[0]!, proofOf(ls, 0).subarray(32), 64)).toBe(false);
  });

  it('keeps a leaf from passing for a parent (domain separation)', () => {
    const data = seq(2 * 64);
    const ls = leaves(data, 64);
    const root = rootFromLeaves(ls, data.byteLength, 64);
    // A one-block blob whose leaf equals the parent of the two-block tree has another root.
    const parent = sha(Uint8Array.of(1), ls[0]!, ls[1]!);
    expect(rootHex(rootFromLeaves([parent], 64, 64))).not.toBe(rootHex(root));
  });
});
