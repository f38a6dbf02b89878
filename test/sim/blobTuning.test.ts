/**
 * Block size and fetch window between whole nodes on the memory network under a simulated clock:
 * a blob added at 256 KiB blocks fetched from one provider, and at 64 KiB blocks from two (the
 * fetcher learns the block size from each provider's header, the root proves it); a fetch never
 * has more block writes in flight than its window. Stores are real directories with real fsync.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BlobFetchOutput } from '../../machines/blobFetch.js';
import { fetchBlob } from '../../src/blobs/fetch.js';
import { fetchBlobMulti, type MultiFetchResult } from '../../src/blobs/multi.js';
import { serveBlobs } from '../../src/blobs/provide.js';
import { BlobStore } from '../../src/blobs/store.js';
import { blockCount, rootOf } from '../../src/blobs/tree.js';
import { blobSimWorld } from '../helpers/blobSim.js';
import { deterministicBytes, type SimWorld } from '../helpers/simWorld.js';

const KIB = 1024;

/** Advances the simulated clock until `pred()` holds (SimWorld.until: real file I/O settles before each step); false after `limitMs` simulated. */
const settle = (pred: () => boolean, limitMs = 120_000): Promise<boolean> => w.until(pred, limitMs);

let w: SimWorld;
let dir: string;
blobSimWorld('octopii-blobtuning-', (world, d) => ((w = world), (dir = d)));

async function provider(name: string, data: Uint8Array, blockBytes?: number): Promise<void> {
  const store = await BlobStore.open(join(dir, name));
  await store.add(data, { tag: 'data', ...(blockBytes !== undefined ? { blockBytes } : {}) });
  serveBlobs(await w.start(name), store);
}

describe('blob block size on the wire', () => {
  it('fetches a blob in 256 KiB blocks from one provider, every block verified at that size', async () => {
    const B = 256 * KIB;
    const size = 9 * B + 1234;
    const data = deterministicBytes('blob-bs-256', size);
    const root = rootOf(data, B);
    await provider('p', data, B);
    const store = await BlobStore.open(join(dir, 'f'));
    let result: BlobFetchOutput | undefined;
    void fetchBlob(await w.start('f'), w.ref('p'), root, store).then((r) => (result = r), () => undefined); // CLOSED when the world closes first
    await settle(() => result !== undefined);
    const intact = Buffer.from(await store.read(root, { offset: 0, length: size })).equals(Buffer.from(data));
    expect({ status: result!.status, blocks: result!.blocks, bytes: result!.bytes, intact, shape: await store.shape(root) }).toEqual({
      status: 'complete',
      blocks: blockCount(size, B),
      bytes: size,
      intact: true,
      shape: { size, blockBytes: B },
    });
  });

  it('fetches a blob in 64 KiB blocks from two providers at once', async () => {
    const B = 64 * KIB;
    const size = 20 * B - 5;
    const data = deterministicBytes('blob-bs-64', size);
    const root = rootOf(data, B);
    await provider('p1', data, B);
    await provider('p2', data, B);
    const store = await BlobStore.open(join(dir, 'f'));
    let result: MultiFetchResult | undefined;
    void fetchBlobMulti(await w.start('f'), [w.ref('p1'), w.ref('p2')], root, store, { unitBlocks: 2 }).then((r) => (result = r), () => undefined);
    await settle(() => result !== undefined);
    const intact = Buffer.from(await store.read(root, { offset: 0, length: size })).equals(Buffer.from(data));
    expect({ status: result!.status, blocks: result!.providers.reduce((a, p) => a + p.blocks, 0), intact }).toEqual({ status: 'complete', blocks: blockCount(size, B), intact: true });
  });
});

describe('fetch window', () => {
  const SIZE = 24 * 64 * KIB;
  const DATA = deterministicBytes('blob-window', SIZE);
  const ROOT = rootOf(DATA, 64 * KIB);

  /** Fetches with `window`, each block write held 50 ms simulated; the most block writes in flight at once. */
  async function peakWrites(window: number): Promise<{ status: string | undefined; peak: number }> {
    await provider('p', DATA, 64 * KIB);
    const store = await BlobStore.open(join(dir, 'f'));
    const put = store.putBlock.bind(store);
    let inFlight = 0;
    let peak = 0;
    store.putBlock = async (...args) => {
      peak = Math.max(peak, ++inFlight);
      try {
        await new Promise<void>((r) => w.clock.setTimeout(r, 50));
        return await put(...args);
      } finally {
        inFlight--;
      }
    };
    let result: BlobFetchOutput | undefined;
    void fetchBlob(await w.start('f'), w.ref('p'), ROOT, store, { window }).then((r) => (result = r), () => undefined);
    await settle(() => result !== undefined);
    return { status: result?.status, peak };
  }

  it.each([2, 6])('with window %i keeps that many block writes in flight at most', async (window) => {
    expect(await peakWrites(window)).toEqual({ status: 'complete', peak: window });
  });

  it('refuses a window of 0 with INVALID_ARGUMENT', async () => {
    await provider('p', DATA, 64 * KIB);
    const store = await BlobStore.open(join(dir, 'f'));
    await expect(fetchBlob(await w.start('f'), w.ref('p'), ROOT, store, { window: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
