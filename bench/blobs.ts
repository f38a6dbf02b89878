/**
 * Shipping Lane v2 (blobs) figures. Prints figures only; never fails on speed.
 *
 *   npm run bench:blobs -- [--mib N]      (default 256 MiB per row)
 *
 * - tree: for block sizes 256 KiB, 1 MiB and 4 MiB — leaf hashing throughput through the
 *   HashPool (SharedArrayBuffer blocks, 4 jobs in flight, the way the store hashes), outboard
 *   bytes per GiB, proof bytes per block of a 1 GiB blob, and the cost of verifying one random
 *   4 KiB read (hash the covering block + check its leaf) — the figures behind BLOCK_BYTES
 *   (src/blobs/tree.ts).
 * - store: `BlobStore.add` of a file (MB/s) and `read` of the whole blob verified.
 */
import { performance } from 'node:perf_hooks';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { HashPool } from '../src/hash/index.js';
import { LEAF_PREFIX_BYTES, leafHash, leafMessage, proofLength, blockCount } from '../src/blobs/tree.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const MIB = 1 << 20;
const total = Number(arg('--mib') ?? 256) * MIB;

async function treeRow(pool: HashPool, blockBytes: number): Promise<void> {
  const inFlight = 4;
  const bufs = Array.from({ length: inFlight }, () => {
    const b = new Uint8Array(new SharedArrayBuffer(LEAF_PREFIX_BYTES + blockBytes));
    randomFillSync(b);
    return b;
  });
  const n = total / blockBytes;
  // warm the pool
  await Promise.all(bufs.map((b, i) => pool.sha256(leafMessage(b, i, blockBytes))));
  const t0 = performance.now();
  let next = 0;
  const worker = async (slot: number) => {
    while (next < n) {
      const i = next++;
      await pool.sha256(leafMessage(bufs[slot]!, i, blockBytes));
    }
  };
  await Promise.all(bufs.map((_, s) => worker(s)));
  const secs = (performance.now() - t0) / 1000;
  const gib = 1 << 30;
  const outboardPerGiB = (gib / blockBytes) * 32;
  const nGiB = blockCount(gib, blockBytes);
  const block = bufs[0]!.subarray(LEAF_PREFIX_BYTES);
  const reps = Math.max(4, Math.round((64 * MIB) / blockBytes));
  const v0 = performance.now();
  for (let i = 0; i < reps; i++) leafHash(i, block);
  const verifyMs = (performance.now() - v0) / reps;
  console.log(
    `tree  block ${String(blockBytes / 1024).padStart(5)} KiB  pool ${((total / secs) / 1e6).toFixed(0).padStart(5)} MB/s` +
      `  outboard ${String(outboardPerGiB / 1024).padStart(4)} KiB/GiB  proof ${proofLength(nGiB, nGiB - 1) * 32} B/block (1 GiB)` +
      `  verify 4 KiB read ${verifyMs.toFixed(2)} ms`,
  );
}

async function storeRow(pool: HashPool): Promise<void> {
  const { BlobStore } = await import('../src/blobs/store.js').catch(() => ({ BlobStore: undefined }));
  if (!BlobStore) return;
  const dir = await mkdtemp(join(tmpdir(), 'octopii-bench-blobs-'));
  try {
    const file = join(dir, 'input');
    const data = new Uint8Array(total);
    for (let off = 0; off < total; off += 65536) randomFillSync(data, off, 65536);
    await writeFile(file, data);
    const store = await BlobStore.open(join(dir, 'store'), { hasher: pool });
    const t0 = performance.now();
    const root = await store.add(file);
    const addS = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const back = await store.read(root, { offset: 0, length: total });
    const readS = (performance.now() - t1) / 1000;
    console.log(`store add ${((total / addS) / 1e6).toFixed(0)} MB/s   read verified ${((back.byteLength / readS) / 1e6).toFixed(0)} MB/s   (${total / MIB} MiB)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const pool = new HashPool({ threads: 2 });
try {
  for (const b of [256 * 1024, MIB, 4 * MIB]) await treeRow(pool, b);
  await storeRow(pool);
} finally {
  await pool.destroy();
}
