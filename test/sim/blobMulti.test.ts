/**
 * Multi-source blob fetch (src/blobs/multi.ts) between whole nodes on the memory network under
 * a simulated clock: units go to providers by measured throughput, a lying provider is dropped
 * without losing the good blocks it delivered, the blob completes from the others.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fetchBlobMulti, type MultiFetchResult } from '../../src/blobs/multi.js';
import { serveBlobs, type ServeBlobsOptions } from '../../src/blobs/provide.js';
import { BlobStore } from '../../src/blobs/store.js';
import { BLOCK_BYTES, rootOf } from '../../src/blobs/tree.js';
import { deterministicBytes, SimWorld } from '../helpers/simWorld.js';

const SIZE = 12 * BLOCK_BYTES - 77;
const DATA = deterministicBytes('blob-multi', SIZE);
const ROOT = rootOf(DATA);

/** Advances the simulated clock until `pred()` holds (SimWorld.until: real file I/O settles before each step); false after `limitMs` simulated. */
const settle = (pred: () => boolean, limitMs = 120_000): Promise<boolean> => w.until(pred, limitMs);

let w: SimWorld;
let dir: string;
beforeEach(async () => {
  w = await SimWorld.create({ stepMs: 10, highWaterMark: 256 * 1024 });
  dir = await mkdtemp(join(tmpdir(), 'octopii-blobmulti-'));
});
afterEach(async () => {
  await w.close();
  await rm(dir, { recursive: true, force: true });
});

async function provider(name: string, options: ServeBlobsOptions = {}): Promise<void> {
  const store = await BlobStore.open(join(dir, name));
  await store.add(DATA, { tag: 'data' });
  serveBlobs(await w.start(name), store, options);
}

async function multi(names: string[]): Promise<{ result: MultiFetchResult; store: BlobStore }> {
  const store = await BlobStore.open(join(dir, 'f'));
  const f = await w.start('f');
  let result: MultiFetchResult | undefined;
  void fetchBlobMulti(f, names.map((n) => w.ref(n)), ROOT, store, { unitBlocks: 1 }).then((r) => (result = r), () => undefined); // CLOSED when the world closes first
  await settle(() => result !== undefined, 300_000);
  return { result: result!, store };
}

describe('multi-source blob fetch', () => {
  it('completes from two providers, byte for byte', async () => {
    await provider('p1');
    await provider('p2');
    const { result, store } = await multi(['p1', 'p2']);
    const intact = Buffer.from(await store.read(ROOT, { offset: 0, length: SIZE })).equals(Buffer.from(DATA));
    expect({ status: result.status, intact, blocks: result.providers.reduce((a, p) => a + p.blocks, 0) }).toEqual({ status: 'complete', intact: true, blocks: 12 });
  });

  it('shows the multi fetch and its provider children in node.inspect() while it runs', async () => {
    await provider('p1');
    await provider('p2');
    const store = await BlobStore.open(join(dir, 'f'));
    const f = await w.start('f');
    let seen: { id: string; machine: string; children: string[] } | undefined;
    let result: MultiFetchResult | undefined;
    const onUnit = () => {
      if (seen) return;
      const node = f.inspect().tree.children.find((c) => c.id === 'blobs/multi#1');
      seen = node && { id: node.id, machine: node.machine, children: node.children.map((c) => `${c.id} ${c.machine}`).sort() };
    };
    void fetchBlobMulti(f, [w.ref('p1'), w.ref('p2')], ROOT, store, { unitBlocks: 1, onUnit }).then((r) => (result = r), () => undefined);
    await settle(() => result !== undefined, 300_000);
    expect({ status: result!.status, seen }).toEqual({
      status: 'complete',
      seen: { id: 'blobs/multi#1', machine: 'blobMulti', children: ['provider#0 blobMultiProvider', 'provider#1 blobMultiProvider'] },
    });
  });

  it('gives the slower provider fewer blocks', async () => {
    await provider('p1');
    await provider('p2');
    await w.start('f');
    w.network.setDelay(w.ref('f').address, w.ref('p2').address, 1000);
    await w.stop('f');
    const { result } = await multi(['p1', 'p2']);
    const [fast, slow] = result.providers;
    expect(fast!.blocks > slow!.blocks).toBe(true);
  });

  it('drops a provider that sends a wrong block and completes from the other', async () => {
    await provider('p1', { tamper: (i, d) => (i >= 1 ? d.map((b) => b ^ 1) : d) });
    await provider('p2');
    const { result, store } = await multi(['p1', 'p2']);
    const intact = Buffer.from(await store.read(ROOT, { offset: 0, length: SIZE })).equals(Buffer.from(DATA));
    expect({ status: result.status, intact, dropped: result.providers[0]!.dropped?.code }).toEqual({ status: 'complete', intact: true, dropped: 'BLOCK_MISMATCH' });
  });

  it('keeps the good block a dropped provider delivered (its first, before it lied)', async () => {
    await provider('p1', { tamper: (i, d) => (i >= 1 ? d.map((b) => b ^ 1) : d) });
    await provider('p2');
    const { result } = await multi(['p1', 'p2']);
    expect(result.providers[0]!.blocks > 0).toBe(true);
  });

  it('fails with the last error when every provider lies', async () => {
    await provider('p1', { tamper: (i, d) => (i >= 1 ? d.map((b) => b ^ 1) : d) });
    const { result } = await multi(['p1']);
    expect([result.status, result.error?.code]).toEqual(['failed', 'BLOCK_MISMATCH']);
  });
});
