/**
 * Seeded blob-fetch simulation (TigerBeetle's VOPR shape): a fetcher pulls a blob from two
 * providers (multi-source) or one, while a seeded PRNG kills and restarts providers, drops and
 * partitions links; after every step the invariants are checked:
 *
 *  1. verified blocks are never lost: the fetcher's missing blocks only ever shrink;
 *  2. nothing unverified is kept: once complete, the blob reads back byte for byte;
 *  3. the fetch ends: once faults stop and every provider is up, it completes.
 *
 * `SEEDS=N` runs N seeds (default 6), `SEED=S` replays one; a failing seed prints its replay
 * command; `BLOB_SIM_VERBOSE=1` prints each seed's providers, fault steps and outcome.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fetchBlob } from '../../src/blobs/fetch.js';
import { fetchBlobMulti } from '../../src/blobs/multi.js';
import { serveBlobs } from '../../src/blobs/provide.js';
import { BlobStore } from '../../src/blobs/store.js';
import { BLOCK_BYTES, blockCount, rootOf } from '../../src/blobs/tree.js';
import { deterministicBytes, SimWorld } from '../helpers/simWorld.js';
import { Random } from './random.js';

const SEEDS = process.env.SEED ? [Number(process.env.SEED)] : Array.from({ length: Number(process.env.SEEDS ?? 6) }, (_, i) => i + 1);
const SIZE = 10 * BLOCK_BYTES - 4321;
const DATA = deterministicBytes('blob-faults', SIZE);
const ROOT = rootOf(DATA);
const N = blockCount(SIZE);

const countMissing = (m: Array<[number, number]> | null) => (m === null ? N : m.reduce((a, [s, e]) => a + e - s, 0));

async function simulate(seed: number): Promise<string[]> {
  const rng = new Random(seed);
  const w = await SimWorld.create({ stepMs: 10, highWaterMark: 256 * 1024, peer: { keepAliveMs: 1000, deadAfterMs: 2500, retryInitialMs: 100, maxRetries: 3 } });
  const dir = await mkdtemp(join(tmpdir(), 'octopii-blobfaults-'));
  const violations: string[] = [];
  const step = async (ms: number) => {
    for (let t = 0; t < ms; t += 10) {
      w.clock.increment(10);
      await w.flush(8);
      await new Promise((r) => setTimeout(r, 1));
    }
  };
  try {
    const providers = rng.chance(0.5) ? ['p1', 'p2'] : ['p1'];
    const stores = new Map<string, BlobStore>();
    for (const p of providers) {
      const s = await BlobStore.open(join(dir, p));
      await s.add(DATA, { tag: 'data' });
      stores.set(p, s);
      serveBlobs(await w.start(p), s);
    }
    const fStore = await BlobStore.open(join(dir, 'f'));
    const f = await w.start('f');
    let done: string | undefined;
    const big = { maxAttempts: 1000, backoff: { initialMs: 100, maxMs: 1000 } };
    const run = async (): Promise<void> => {
      // Fetches end on their own after enough failures; the fetcher starts again (resuming) until complete.
      for (let round = 0; round < 50; round++) {
        const r =
          providers.length > 1
            ? await fetchBlobMulti(f, providers.map((p) => w.ref(p)), ROOT, fStore, { unitBlocks: 2, attemptsPerUnit: 3 })
            : await fetchBlob(f, w.ref('p1'), ROOT, fStore, big);
        if (r.status === 'complete') return void (done = 'complete');
      }
      done = 'gave up';
    };
    void run().catch((e: unknown) => (done = `threw ${String(e)}`));
    let lastMissing = N;
    let faults = 0;
    for (let i = 0; i < 12 && done === undefined; i++) {
      const p = rng.pick(providers);
      const fault = rng.int(0, 3);
      faults++;
      if (fault === 0 && w.nodes.get(p)!.node) await w.kill(p);
      else if (fault === 1) w.network.dropConnection(w.ref('f').address, w.ref(p).address);
      else if (fault === 2) w.network.partition(w.ref('f').address, w.ref(p).address);
      await step(rng.int(100, 1500));
      w.network.heal();
      for (const q of providers) {
        if (!w.nodes.get(q)!.node && rng.chance(0.7)) serveBlobs(await w.start(q), stores.get(q)!);
      }
      const missing = countMissing(await fStore.missing(ROOT));
      if (missing > lastMissing) violations.push(`step ${i}: missing blocks grew from ${lastMissing} to ${missing}`);
      lastMissing = missing;
    }
    for (const q of providers) if (!w.nodes.get(q)!.node) serveBlobs(await w.start(q), stores.get(q)!);
    for (let t = 0; t < 600_000 && done === undefined; t += 100) await step(100);
    if (process.env.BLOB_SIM_VERBOSE) console.log(`seed ${seed}: ${providers.length} provider(s), ${faults} fault step(s), ${done}`);
    if (done !== 'complete') violations.push(`fetch did not complete: ${done ?? 'still running'}`);
    else {
      const back = await fStore.read(ROOT, { offset: 0, length: SIZE });
      if (!Buffer.from(back).equals(Buffer.from(DATA))) violations.push('completed blob differs from the source');
    }
  } finally {
    await w.close();
    await rm(dir, { recursive: true, force: true });
  }
  return violations;
}

describe('seeded blob fetch under faults', () => {
  it.each(SEEDS)('seed %i keeps verified blocks and completes intact', async (seed) => {
    const violations = await simulate(seed);
    expect(violations, `replay: SEED=${seed} npx vitest run test/sim/blobFaults.test.ts`).toEqual([]);
  }, 120_000);
});
