/**
 * Per-block compression of the `blobs` stream kind between whole nodes on the memory network
 * under a simulated clock: compressible blocks travel compressed (fewer payload bytes, counted
 * at both ends) and land intact; incompressible ones travel as they are; a compressed block
 * corrupted in flight is refused like any bad block (BLOCK_MISMATCH) and refetched; a fetcher
 * or a provider without compression (as before codecs) still gets every block, uncompressed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BlobFetchOutput } from '../../machines/blobFetch.js';
import { fetchBlob, type FetchBlobOptions } from '../../src/blobs/fetch.js';
import { fetchBlobMulti, type MultiFetchResult } from '../../src/blobs/multi.js';
import { serveBlobs, type ServeBlobsOptions } from '../../src/blobs/provide.js';
import { BlobStore } from '../../src/blobs/store.js';
import { BLOCK_BYTES, rootOf } from '../../src/blobs/tree.js';
import { deterministicBytes, SimWorld } from '../helpers/simWorld.js';

const SIZE = 6 * BLOCK_BYTES - 500;
/** Log-like text: compresses to a small fraction. */
const TEXT = new Uint8Array(
  Buffer.from(Array.from({ length: Math.ceil(SIZE / 20) }, (_, i) => `${String(i).padStart(8, '0')} GET /blobs/${(i * 7919) % 1000} 200\n`).join('')).subarray(0, SIZE),
);
/** Pseudo-random bytes: do not compress. */
const NOISE = deterministicBytes('blob-compress', SIZE);

/** Advances the simulated clock until `pred()` holds (SimWorld.until: real file I/O settles before each step); false after `limitMs` simulated. */
const settle = (pred: () => boolean, limitMs = 120_000): Promise<boolean> => w.until(pred, limitMs);

let w: SimWorld;
let dir: string;
beforeEach(async () => {
  w = await SimWorld.create({ stepMs: 10, highWaterMark: 256 * 1024 });
  dir = await mkdtemp(join(tmpdir(), 'octopii-blobcompress-'));
});
afterEach(async () => {
  await w.close();
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  result: BlobFetchOutput;
  intact: boolean;
  /** Payload bytes the provider wrote and the fetcher read (compressed or not). */
  sentOnWire: number;
  readOnWire: number;
}

async function run(data: Uint8Array, serve: ServeBlobsOptions = {}, fetch: FetchBlobOptions = {}): Promise<Run> {
  const root = rootOf(data);
  const pStore = await BlobStore.open(join(dir, 'p'));
  await pStore.add(data, { tag: 'data' });
  let sentOnWire = 0;
  let readOnWire = 0;
  serveBlobs(await w.start('p'), pStore, { ...serve, onBlock: (_i, _b, _p, wire) => (sentOnWire += wire) });
  const store = await BlobStore.open(join(dir, 'f'));
  const f = await w.start('f');
  let result: BlobFetchOutput | undefined;
  void fetchBlob(f, w.ref('p'), root, store, { ...fetch, onWire: (_i, _b, wire) => (readOnWire += wire) }).then((r) => (result = r), () => undefined); // CLOSED when the world closes first
  await settle(() => result !== undefined);
  const intact = result!.status === 'complete' && Buffer.from(await store.read(root, { offset: 0, length: SIZE })).equals(Buffer.from(data));
  return { result: result!, intact, sentOnWire, readOnWire };
}

describe('blob compression', () => {
  it('sends compressible blocks compressed: under a tenth of the bytes on the wire, the blob intact', async () => {
    const r = await run(TEXT);
    expect({ status: r.result.status, intact: r.intact, bytes: r.result.bytes, small: r.sentOnWire < SIZE / 10, bothEnds: r.readOnWire === r.sentOnWire }).toEqual({
      status: 'complete',
      intact: true,
      bytes: SIZE,
      small: true,
      bothEnds: true,
    });
  });

  it('sends incompressible blocks as they are', async () => {
    const r = await run(NOISE);
    expect({ status: r.result.status, intact: r.intact, sentOnWire: r.sentOnWire }).toEqual({ status: 'complete', intact: true, sentOnWire: SIZE });
  });

  it('refuses a corrupted compressed block (BLOCK_MISMATCH), refetches it and completes intact', async () => {
    let corrupted = false;
    const r = await run(TEXT, {
      tamperWire: (i, payload, compressed) => {
        if (i !== 2 || !compressed || corrupted) return payload;
        corrupted = true;
        const bad = payload.slice();
        bad[Math.floor(bad.byteLength / 2)]! ^= 0xff;
        return bad;
      },
    });
    expect({ corrupted, status: r.result.status, mismatches: r.result.mismatches, intact: r.intact }).toEqual({ corrupted: true, status: 'complete', mismatches: 1, intact: true });
  });

  it('serves a fetcher that does not accept codecs (as before them) uncompressed blocks', async () => {
    const r = await run(TEXT, {}, { compression: false });
    expect({ status: r.result.status, intact: r.intact, sentOnWire: r.sentOnWire }).toEqual({ status: 'complete', intact: true, sentOnWire: SIZE });
  });

  it('fetches from a provider that does not compress (as before codecs) every block uncompressed', async () => {
    const r = await run(TEXT, { compress: false });
    expect({ status: r.result.status, intact: r.intact, readOnWire: r.readOnWire }).toEqual({ status: 'complete', intact: true, readOnWire: SIZE });
  });

  it.each([
    [true, 'compressed'],
    [false, 'as they are'],
  ])('a multi-source fetch with compression %s gets its blocks %s from every provider', async (compression) => {
    const root = rootOf(TEXT);
    let sentOnWire = 0;
    for (const name of ['p1', 'p2']) {
      const pStore = await BlobStore.open(join(dir, name));
      await pStore.add(TEXT, { tag: 'data' });
      serveBlobs(await w.start(name), pStore, { onBlock: (_i, _b, _p, wire) => (sentOnWire += wire) });
    }
    const store = await BlobStore.open(join(dir, 'f'));
    const f = await w.start('f');
    let result: MultiFetchResult | undefined;
    void fetchBlobMulti(f, [w.ref('p1'), w.ref('p2')], root, store, { unitBlocks: 1, compression }).then((r) => (result = r), () => undefined); // CLOSED when the world closes first
    await settle(() => result !== undefined);
    const intact = Buffer.from(await store.read(root, { offset: 0, length: SIZE })).equals(Buffer.from(TEXT));
    expect({ status: result!.status, intact, raw: sentOnWire === SIZE, small: sentOnWire < SIZE / 10 }).toEqual({ status: 'complete', intact: true, raw: !compression, small: compression });
  });
});
