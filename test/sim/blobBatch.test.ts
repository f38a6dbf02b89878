/**
 * A batch (src/blobs/batch.ts) over the simulated network and clock (test/helpers/simWorld.ts,
 * real files with real fsync): every root of a batch lands on one stream; a provider that stalls
 * in the middle of a batch fails it TIMEOUT after the machine's idle deadline (simulated time),
 * the blobs landed before the stall kept and the rest listed as never answered.
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { fetchBatch } from '../../src/blobs/batch.js';
import { serveBlobs } from '../../src/blobs/provide.js';
import { BlobStore } from '../../src/blobs/store.js';
import { blobSimWorld } from '../helpers/blobSim.js';
import { deterministicBytes, type SimWorld } from '../helpers/simWorld.js';

let w: SimWorld;
let dir = '';
blobSimWorld('octopii-blobbatch-', (world, d) => {
  w = world;
  dir = d;
});

const FILES = Array.from({ length: 6 }, (_, i) => deterministicBytes(`sim-batch-${i}`, 1000 + 700 * i));

/** Steps the simulated clock 10 ms at a time until `done()` or `maxMs` of simulated time. */
async function stepUntil(done: () => boolean | Promise<boolean>, maxMs: number): Promise<void> {
  for (let t = 0; t < maxMs && !(await done()); t += 10) {
    w.clock.increment(10);
    await w.flush(8);
    await new Promise((r) => setTimeout(r, 1));
  }
}

async function world(beforeSend?: (index: number) => Promise<void> | void) {
  const src = await BlobStore.open(join(dir, 'p'));
  const roots = [];
  for (const f of FILES) roots.push(await src.add(f));
  serveBlobs(await w.start('p'), src, beforeSend ? { beforeSend } : {});
  const store = await BlobStore.open(join(dir, 'f'));
  return { roots, store, f: await w.start('f') };
}

it('lands every root of a batch from one stream', async () => {
  const { roots, store, f } = await world();
  let out: Awaited<ReturnType<typeof fetchBatch>> | undefined;
  void fetchBatch(f, w.ref('p'), roots, store, { idleMs: 5000 }).then((o) => (out = o));
  await stepUntil(() => out !== undefined, 20_000);
  const back = await Promise.all(roots.map((r, i) => store.read(r, { offset: 0, length: FILES[i]!.byteLength })));
  expect({ status: out?.status, done: out?.done, intact: back.every((b, i) => Buffer.from(b).equals(Buffer.from(FILES[i]!))) }).toEqual({ status: 'complete', done: [0, 1, 2, 3, 4, 5], intact: true });
});

it('a provider that stalls at the fourth blob fails the batch TIMEOUT after idleMs, keeping the three landed', async () => {
  let calls = 0;
  const { roots, store, f } = await world(() => (++calls === 4 ? new Promise<void>(() => undefined) : undefined));
  let out: Awaited<ReturnType<typeof fetchBatch>> | undefined;
  void fetchBatch(f, w.ref('p'), roots, store, { idleMs: 5000 }).then((o) => (out = o));
  // The three blobs before the stall land (real fsync) before the idle deadline is stepped through.
  await stepUntil(() => store.has(roots[2]!), 4000);
  await stepUntil(() => out !== undefined, 20_000);
  const held = await Promise.all(roots.map((r) => store.has(r)));
  expect({ status: out?.status, code: out?.error?.code, done: out?.done, held }).toEqual({ status: 'failed', code: 'TIMEOUT', done: [0, 1, 2], held: [true, true, true, false, false, false] });
});
