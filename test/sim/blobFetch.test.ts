/**
 * Blob fetch between whole nodes on the memory network under a simulated clock (SimWorld):
 * a fetch, a resume after the provider is killed half way and restarted (the blocks held are not
 * asked for again), a provider that sends a wrong block (refused, refetched, provider marked),
 * one that always lies (fetch fails, nothing kept), a root nobody has. Stores are real
 * directories with real fsync.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BlobFetchOutput } from '../../machines/blobFetch.js';
import { fetchBlob } from '../../src/blobs/fetch.js';
import { serveBlobs, type ServeBlobsOptions } from '../../src/blobs/provide.js';
import { BlobStore } from '../../src/blobs/store.js';
import { BLOCK_BYTES, blockCount, rootOf } from '../../src/blobs/tree.js';
import { deterministicBytes, SimWorld } from '../helpers/simWorld.js';

const SIZE = 12 * BLOCK_BYTES - 1000;
const DATA = deterministicBytes('blob-fetch', SIZE);
const ROOT = rootOf(DATA);
const N = blockCount(SIZE);

/** Advances the simulated clock until `pred()` holds (SimWorld.until: real file I/O settles before each step); false after `limitMs` simulated. */
const settle = (pred: () => boolean, limitMs = 120_000): Promise<boolean> => w.until(pred, limitMs);

let w: SimWorld;
let dir: string;
beforeEach(async () => {
  w = await SimWorld.create({ stepMs: 10, highWaterMark: 256 * 1024, peer: { keepAliveMs: 1000, deadAfterMs: 2500, retryInitialMs: 100, maxRetries: 3 } });
  dir = await mkdtemp(join(tmpdir(), 'octopii-blobfetch-'));
});
afterEach(async () => {
  await w.close();
  await rm(dir, { recursive: true, force: true });
});

async function provider(options: ServeBlobsOptions = {}): Promise<BlobStore> {
  const store = await BlobStore.open(join(dir, 'p'));
  await store.add(DATA, { tag: 'data' });
  const node = await w.start('p');
  serveBlobs(node, store, options);
  return store;
}

async function fetchInSim(root = ROOT): Promise<{ result: BlobFetchOutput; store: BlobStore }> {
  const store = await BlobStore.open(join(dir, 'f'));
  const node = await w.start('f');
  let result: BlobFetchOutput | undefined;
  void fetchBlob(node, w.ref('p'), root, store).then((r) => (result = r), () => undefined); // CLOSED when the world closes first
  await settle(() => result !== undefined, 120_000);
  return { result: result!, store };
}

describe('blob fetch on the memory network', () => {
  it('fetches a blob, every block verified', async () => {
    await provider();
    const { result } = await fetchInSim();
    expect({ status: result.status, blocks: result.blocks, bytes: result.bytes }).toEqual({ status: 'complete', blocks: N, bytes: SIZE });
  });

  it('holds the fetched bytes intact', async () => {
    await provider();
    const { store } = await fetchInSim();
    expect(Buffer.from(await store.read(ROOT, { offset: 0, length: SIZE })).equals(Buffer.from(DATA))).toBe(true);
  });

  it('fails a root the provider lacks with BLOB_NOT_FOUND', async () => {
    await provider();
    const { result } = await fetchInSim(rootOf(deterministicBytes('other', 10)));
    expect([result.status, result.error?.code]).toEqual(['failed', 'BLOB_NOT_FOUND']);
  });

  it('refetches a wrong block, marks the provider and completes with the right bytes', async () => {
    let lied = false;
    await provider({
      tamper: (i, d) => {
        if (i !== 2 || lied) return d;
        lied = true;
        const bad = d.slice();
        bad[0]! ^= 1;
        return bad;
      },
    });
    const { result, store } = await fetchInSim();
    const intact = Buffer.from(await store.read(ROOT, { offset: 0, length: SIZE })).equals(Buffer.from(DATA));
    expect({ status: result.status, mismatches: result.mismatches, intact }).toEqual({ status: 'complete', mismatches: 1, intact: true });
  });

  it('gives up on a provider that keeps lying, keeping none of its wrong blocks', async () => {
    await provider({
      tamper: (i, d) => {
        if (i !== 2) return d;
        const bad = d.slice();
        bad[0]! ^= 1;
        return bad;
      },
    });
    const { result, store } = await fetchInSim();
    const missing = await store.missing(ROOT);
    expect({ status: result.status, code: result.error?.code, block2Missing: missing?.some(([s, e]) => s <= 2 && 2 < e) }).toEqual({ status: 'failed', code: 'BLOCK_MISMATCH', block2Missing: true });
  });
});

describe('a provider that stalls mid-range', () => {
  it('is given up after the idle deadline (TIMEOUT), and the retry asks only for the blocks not yet held and completes intact', async () => {
    const requested: number[] = [];
    let stalled = false;
    await provider({
      onBlock: (i) => requested.push(i),
      // The first time block 6 is due, the provider goes silent for good on that stream.
      beforeSend: (i) => (i === 6 && !stalled ? ((stalled = true), new Promise<void>(() => undefined)) : undefined),
    });
    const store = await BlobStore.open(join(dir, 'f'));
    const f = await w.start('f');
    let result: BlobFetchOutput | undefined;
    void fetchBlob(f, w.ref('p'), ROOT, store, { idleMs: 5000, backoff: { initialMs: 50, maxMs: 100 } }).then((r) => (result = r), () => undefined); // CLOSED when the world closes first
    await settle(() => result !== undefined, 60_000);
    const intact = Buffer.from(await store.read(ROOT, { offset: 0, length: SIZE })).equals(Buffer.from(DATA));
    expect({ status: result!.status, attempts: result!.attempts, sentTwice: requested.filter((i, k) => requested.indexOf(i) !== k), intact }).toEqual({
      status: 'complete',
      attempts: 2, // sessions opened: the stalled one and the retry
      sentTwice: [],
      intact: true,
    });
  });
});

describe('blob fetch under the supervisor', () => {
  it('runs as peer:<id>/fetch#n, a temporary child of the node', async () => {
    await provider();
    const store = await BlobStore.open(join(dir, 'f'));
    const f = await w.start('f');
    // Read while the fetch runs: at its first verified block (a flush runs it to the end).
    let during: unknown;
    const done = fetchBlob(f, w.ref('p'), ROOT, store, {
      onProgress: () => (during ??= f.inspect().children[`peer:${w.ref('p').nodeId}/fetch#1`]),
    }).catch(() => undefined); // CLOSED when the world closes
    await w.flush();
    await done;
    expect(during).toMatchObject({ restart: 'temporary', status: 'running' });
  });
});

describe('blob provide under the supervisor', () => {
  it('serves each stream as peer:<id>/provide#n, a temporary child of the provider node', async () => {
    await provider();
    const { result } = await fetchInSim();
    expect([result.status, w.node('p').inspect().children[`peer:${w.ref('f').nodeId}/provide#1`]]).toMatchObject(['complete', { restart: 'temporary' }]);
  });
});

describe('blob fetch on a full disk', () => {
  it('fails with DISK_FULL after its retries, the partial blob and its map intact', async () => {
    await provider();
    let written = 0;
    const store = await BlobStore.open(join(dir, 'f'), {
      beforeWrite: (file) => {
        if (file === 'data' && ++written > 3) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      },
    });
    const f = await w.start('f');
    let result: BlobFetchOutput | undefined;
    void fetchBlob(f, w.ref('p'), ROOT, store, { maxAttempts: 3, backoff: { initialMs: 50, maxMs: 100 } }).then((r) => (result = r), () => undefined); // CLOSED when the world closes first
    await settle(() => result !== undefined, 60_000);
    const reopened = await BlobStore.open(join(dir, 'f'));
    expect({ code: result!.error?.code, missing: await reopened.missing(ROOT) }).toEqual({ code: 'DISK_FULL', missing: [[3, N]] });
  });

  it('completes once there is room again, asking only for the missing blocks', async () => {
    let sent = 0;
    await provider({ onBlock: (_i, b) => (sent += b) });
    let full = true;
    let written = 0;
    const store = await BlobStore.open(join(dir, 'f'), {
      beforeWrite: (file) => {
        if (file === 'data' && full && ++written > 3) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      },
    });
    const f = await w.start('f');
    let first: BlobFetchOutput | undefined;
    void fetchBlob(f, w.ref('p'), ROOT, store, { maxAttempts: 1 }).then((r) => (first = r), () => undefined); // CLOSED when the world closes first
    await settle(() => first !== undefined, 60_000);
    full = false;
    sent = 0;
    let second: BlobFetchOutput | undefined;
    void fetchBlob(f, w.ref('p'), ROOT, store).then((r) => (second = r), () => undefined); // CLOSED when the world closes first
    await settle(() => second !== undefined, 60_000);
    expect({ status: second!.status, sent }).toEqual({ status: 'complete', sent: SIZE - 3 * BLOCK_BYTES });
  });
});

describe('blob fetch resume', () => {
  it('after the provider is killed at ~50% and restarted, asks only for the missing blocks and moves at most one block more than the blob', async () => {
    let sent = 0;
    // Capped at 4 blocks per simulated second: the fetcher commits (and reports) blocks in
    // groups while it writes the next ones, so an uncapped provider has sent them all by then.
    const pStore = await provider({ onBlock: (_i, bytes) => (sent += bytes), limits: { maxUploadRate: 4 * BLOCK_BYTES } });
    const fStore = await BlobStore.open(join(dir, 'f'));
    const f = await w.start('f');
    let result: BlobFetchOutput | undefined;
    let landed = 0;
    // The provider crashes as soon as half the blocks are verified and durable at the fetcher
    // (a flush would otherwise run the whole fetch before the test could look).
    // Once: blocks landing from the restarted provider must not crash it too.
    let crashed = false;
    const onProgress = (blocks: number) => {
      landed = blocks;
      if (blocks >= N / 2 && !crashed) {
        crashed = true;
        queueMicrotask(() => w.network.crash(w.nodes.get('p')!.address));
      }
    };
    void fetchBlob(f, w.ref('p'), ROOT, fStore, { onProgress }).then((r) => (result = r), () => undefined); // CLOSED when the world closes first
    await settle(() => landed >= N / 2, 60_000);
    await w.kill('p');
    await w.advance(500);
    // Blocks held now stay held (a verified block is never dropped); more may still land.
    const missing = (await fStore.missing(ROOT)) ?? [[0, N]];
    const held = Array.from({ length: N }, (_, i) => i).filter((i) => !missing.some(([s0, e]) => i >= s0 && i < e));
    const resent: number[] = [];
    const p2 = await w.start('p');
    serveBlobs(p2, pStore, {
      onBlock: (i, bytes) => {
        sent += bytes;
        if (held.includes(i)) resent.push(i);
      },
    });
    await settle(() => result !== undefined, 120_000);
    expect({
      status: result!.status,
      halfHeld: held.length >= N / 2 && held.length < N,
      resent,
      totalWithinOneBlock: sent <= SIZE + BLOCK_BYTES,
    }).toEqual({ status: 'complete', halfHeld: true, resent: [], totalWithinOneBlock: true });
  });
});
