/**
 * Block size per blob (src/blobs/tree.ts, store.ts, collection.ts): a blob added at 64 KiB or
 * 4 MiB blocks reads back verified, imports block by block into another store and resumes there
 * after a restart without reading a verified byte; the block size is bound into the root (same
 * bytes and block size → same root, another block size → another root); a block size that is
 * not a power of two from 16 KiB to 16 MiB is refused with INVALID_ARGUMENT, and a proof that
 * names another block size than the root binds does not verify.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addPaths } from '../../src/blobs/collection.js';
import { listBlobs } from '../../src/blobs/inventory.js';
import { BlobStore } from '../../src/blobs/store.js';
import { BLOCK_BYTES, blockCount, checkBlockBytes, isBlockBytes, rootHex, rootOf } from '../../src/blobs/tree.js';
import { deterministicBytes } from '../helpers/simWorld.js';

const KIB = 1024;
const MIB = 1024 * KIB;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'octopii-blobbs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Blocks `indexes` of `root` from one store into another, each with its proof. */
async function copyBlocks(from: BlobStore, to: BlobStore, root: Uint8Array, indexes: number[]): Promise<string[]> {
  const out: string[] = [];
  for (const i of indexes) {
    const { data, proof } = await from.blockWithProof(root, i);
    out.push(await to.putBlock(root, i, data, proof));
  }
  return out;
}

describe.each([
  ['64 KiB', 64 * KIB],
  ['4 MiB', 4 * MIB],
])('a blob in %s blocks', (_name, B) => {
  const SIZE = 5 * B + 12_345; // 6 blocks, the last one short
  const DATA = deterministicBytes(`blob-bs-${B}`, SIZE);
  const ROOT = rootOf(DATA, B);
  const N = blockCount(SIZE, B);
  const half = Array.from({ length: N / 2 }, (_, i) => i);
  const rest = Array.from({ length: N - N / 2 }, (_, i) => N / 2 + i);

  it('is named by the root over its own block size and reads back across block edges', async () => {
    const s = await BlobStore.open(dir);
    const root = await s.add(DATA, { blockBytes: B });
    const edge = await s.read(root, { offset: 2 * B - 10, length: 20 });
    expect({ root: rootHex(root), shape: await s.shape(root), edge: Buffer.from(edge).equals(Buffer.from(DATA.subarray(2 * B - 10, 2 * B + 10))) }).toEqual({
      root: rootHex(ROOT),
      shape: { size: SIZE, blockBytes: B },
      edge: true,
    });
  });

  it('imports block by block and resumes after a restart without reading a verified byte', async () => {
    const p = await BlobStore.open(join(dir, 'p'));
    await p.add(DATA, { blockBytes: B });
    await copyBlocks(p, await BlobStore.open(join(dir, 'f')), ROOT, half);
    const again = await BlobStore.open(join(dir, 'f'));
    const missing = await again.missing(ROOT);
    const partialB = await again.blockBytesOf(ROOT);
    const landed = await copyBlocks(p, again, ROOT, rest);
    const stats = { ...again.stats };
    const all = await again.read(ROOT, { offset: 0, length: SIZE });
    expect({ missing, partialB, last: landed.at(-1), stats, intact: Buffer.from(all).equals(Buffer.from(DATA)) }).toEqual({
      missing: [[N / 2, N]],
      partialB: B,
      last: 'complete',
      stats: { dataBytesRead: 0, dataBytesWritten: SIZE - (N / 2) * B },
      intact: true,
    });
  });

  it('lists a partial blob with its block count at its block size', async () => {
    const p = await BlobStore.open(join(dir, 'p'));
    await p.add(DATA, { blockBytes: B });
    const f = await BlobStore.open(join(dir, 'f'));
    await copyBlocks(p, f, ROOT, [0]);
    const [b] = await listBlobs(f);
    expect({ state: b!.state, blocks: b!.blocks, totalBlocks: b!.totalBlocks }).toEqual({ state: 'partial', blocks: 1, totalBlocks: N });
  });
});

describe('block size and the root', () => {
  const DATA = deterministicBytes('blob-bs-dedup', 300 * KIB);

  it('dedups the same bytes at the same block size: one root, one blob on disk', async () => {
    const s = await BlobStore.open(dir);
    const a = await s.add(DATA, { blockBytes: 64 * KIB });
    const b = await s.add(DATA, { blockBytes: 64 * KIB });
    expect({ same: rootHex(a) === rootHex(b), files: (await readdir(join(dir, 'blobs'))).sort() }).toEqual({ same: true, files: [`${rootHex(a)}.data`, `${rootHex(a)}.obao`] });
  });

  it('gives the same bytes at another block size another root', async () => {
    const s = await BlobStore.open(dir);
    const a = await s.add(DATA, { blockBytes: 64 * KIB });
    const b = await s.add(DATA);
    expect([rootHex(a) === rootHex(b), rootHex(b)]).toEqual([false, rootHex(rootOf(DATA, BLOCK_BYTES))]);
  });

  it.each([3000, 8 * KIB, 48 * KIB, 32 * MIB])('refuses block size %i with INVALID_ARGUMENT and keeps nothing', async (b) => {
    const s = await BlobStore.open(dir);
    await expect(s.add(DATA, { blockBytes: b })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await readdir(join(dir, 'blobs'))).toEqual([]);
  });

  it('refuses a proof naming a block size that is none with INVALID_ARGUMENT, writing nothing', async () => {
    const p = await BlobStore.open(join(dir, 'p'));
    const root = await p.add(DATA, { blockBytes: 64 * KIB });
    const { data, proof } = await p.blockWithProof(root, 1);
    const f = await BlobStore.open(join(dir, 'f'));
    await expect(f.putBlock(root, 1, data, { ...proof, blockBytes: 100_000 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await readdir(join(dir, 'f', 'partial'))).toEqual([]);
  });

  it('refuses a block whose proof names another block size than the root binds (BLOCK_MISMATCH)', async () => {
    const p = await BlobStore.open(join(dir, 'p'));
    const root = await p.add(DATA, { blockBytes: 64 * KIB });
    const { data, proof } = await p.blockWithProof(root, 0);
    const f = await BlobStore.open(join(dir, 'f'));
    await expect(f.putBlock(root, 0, data.subarray(0, 32 * KIB), { ...proof, blockBytes: 32 * KIB })).rejects.toMatchObject({ code: 'BLOCK_MISMATCH' });
  });

  it('checks block sizes: powers of two from 16 KiB to 16 MiB', () => {
    expect([16 * KIB, 256 * KIB, 16 * MIB, 12 * KIB, 24 * KIB, 32 * MIB].map(isBlockBytes)).toEqual([true, true, true, false, false, false]);
    expect(() => checkBlockBytes(24 * KIB)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('a collection at one block size', () => {
  it('adds every member and the manifest at the block size given', async () => {
    await writeFile(join(dir, 'a.bin'), deterministicBytes('bs-a', 100 * KIB));
    await writeFile(join(dir, 'b.bin'), deterministicBytes('bs-b', 10));
    const s = await BlobStore.open(join(dir, 'store'));
    const r = await addPaths(s, [join(dir, 'a.bin'), join(dir, 'b.bin')], { tag: 'c', blockBytes: 32 * KIB });
    const shapes = await Promise.all([r.root, ...r.entries.map((e) => Buffer.from(e.root, 'hex'))].map(async (root) => (await s.shape(new Uint8Array(root))).blockBytes));
    expect(shapes).toEqual([32 * KIB, 32 * KIB, 32 * KIB]);
  });

  it('refuses a bad block size before adding anything', async () => {
    await writeFile(join(dir, 'a.bin'), deterministicBytes('bs-a', 100));
    const s = await BlobStore.open(join(dir, 'store'));
    await expect(addPaths(s, [join(dir, 'a.bin')], { tag: 'c', blockBytes: 1000 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await readdir(join(dir, 'store', 'blobs'))).toEqual([]);
  });
});
