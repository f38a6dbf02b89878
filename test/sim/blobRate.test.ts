/**
 * Upload limits of a blob provider (src/blobs/uploadLimits.ts, machines/blobProvide.ts
 * `throttled`) between whole nodes on the memory network under a simulated clock: a node cap
 * holds the provider's throughput to the cap (bytes over simulated time), the provide machine
 * shows `throttled` while it waits, a per-peer cap does not slow another peer, a node cap is
 * shared by all peers. Stores are real directories with real fsync.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AnyActorRef } from 'xstate';
import type { BlobFetchOutput } from '../../machines/blobFetch.js';
import { fetchBlob } from '../../src/blobs/fetch.js';
import { serveBlobs, type ServeBlobsOptions } from '../../src/blobs/provide.js';
import { BlobStore } from '../../src/blobs/store.js';
import { BLOCK_BYTES, rootOf } from '../../src/blobs/tree.js';
import { blobSimWorld } from '../helpers/blobSim.js';
import { deterministicBytes, type SimWorld } from '../helpers/simWorld.js';

const N = 10;
const SIZE = N * BLOCK_BYTES;
const DATA = deterministicBytes('blob-rate', SIZE);
const ROOT = rootOf(DATA);
/** 1 MB/s: a 1 MiB block every 1,049 ms simulated (~105 steps, so the real disk and hashing between steps never fall behind the cap). */
const CAP = 1_000_000;

/** Advances the simulated clock until `pred()` holds (SimWorld.until: real file I/O settles before each step); false after `limitMs` simulated. */
const settle = (pred: () => boolean, limitMs = 120_000): Promise<boolean> => w.until(pred, limitMs);

let w: SimWorld;
let dir: string;
blobSimWorld('octopii-blobrate-', (world, d) => ((w = world), (dir = d)));

/** Simulated send times (ms) of each block, per fetching node ID. */
type Sends = Map<string, number[]>;

async function provider(options: ServeBlobsOptions): Promise<Sends> {
  const store = await BlobStore.open(join(dir, 'p'));
  await store.add(DATA, { tag: 'data' });
  const node = await w.start('p');
  const sends: Sends = new Map();
  serveBlobs(node, store, { ...options, onBlock: (_i, _b, peer) => sends.set(peer, [...(sends.get(peer) ?? []), w.clock.now()]) });
  return sends;
}

function fetchFrom(name: string, store: BlobStore): { done: () => BlobFetchOutput | undefined } {
  let result: BlobFetchOutput | undefined;
  void fetchBlob(w.node(name), w.ref('p'), ROOT, store).then((r) => (result = r), () => undefined); // CLOSED when the world closes first
  return { done: () => result };
}

/** Steady-state rate of a run of send times, bytes/s: blocks after the first over the time from the first. */
const rateOf = (times: number[]): number => ((times.length - 1) * BLOCK_BYTES) / ((times.at(-1)! - times[0]!) / 1000);

describe('blob provider upload limits', () => {
  it('holds a node-capped provider to the cap (bytes over simulated time)', async () => {
    const sent: number[] = [];
    const store = await BlobStore.open(join(dir, 'p'));
    await store.add(DATA, { tag: 'data' });
    serveBlobs(await w.start('p'), store, { limits: { maxUploadRate: CAP }, onBlock: () => sent.push(w.clock.now()) });
    await w.start('f');
    const f = fetchFrom('f', await BlobStore.open(join(dir, 'f')));
    await settle(() => f.done() !== undefined);
    // the first blocks go at once (the burst); from then on one block per BLOCK_BYTES / CAP
    expect({ status: f.done()!.status, ratio: Number((rateOf(sent.slice(2)) / CAP).toFixed(2)) }).toEqual({ status: 'complete', ratio: 1 });
  });

  it('shows streaming.throttled in the provide actor while it waits for tokens', async () => {
    const store = await BlobStore.open(join(dir, 'p'));
    await store.add(DATA, { tag: 'data' });
    const p = await w.start('p');
    const states = new Set<string>();
    p.onInspect((e) => {
      if (e.type === '@xstate.snapshot' && (e.actorRef as AnyActorRef).id.includes('/provide#')) states.add(JSON.stringify((e.snapshot as { value?: unknown }).value));
    });
    serveBlobs(p, store, { limits: { maxUploadRate: CAP } });
    await w.start('f');
    const f = fetchFrom('f', await BlobStore.open(join(dir, 'f')));
    await settle(() => f.done() !== undefined);
    expect(states.has(JSON.stringify({ streaming: 'throttled' }))).toBe(true);
  });

  it('reports the time spent throttled in the provide output', async () => {
    const store = await BlobStore.open(join(dir, 'p'));
    await store.add(DATA, { tag: 'data' });
    const p = await w.start('p');
    let throttledMs = -1;
    p.onInspect((e) => {
      const s = e.type === '@xstate.snapshot' ? (e.snapshot as { status?: string; output?: { throttledMs: number } }) : undefined;
      if (s?.status === 'done' && (e.actorRef as AnyActorRef).id.includes('/provide#')) throttledMs = s.output!.throttledMs;
    });
    serveBlobs(p, store, { limits: { maxUploadRate: CAP } });
    await w.start('f');
    const f = fetchFrom('f', await BlobStore.open(join(dir, 'f')));
    await settle(() => f.done() !== undefined && throttledMs >= 0);
    // N blocks at CAP take (N − 1 burst) × BLOCK_BYTES / CAP; what the network took is not waited
    expect(throttledMs > 0.8 * (((N - 2) * BLOCK_BYTES) / CAP) * 1000).toBe(true);
  });

  it('a per-peer cap does not slow another peer: two fetchers each get the cap', async () => {
    const sends = await provider({ limits: { maxUploadRatePerPeer: CAP } });
    await w.start('f1');
    await w.start('f2');
    const a = fetchFrom('f1', await BlobStore.open(join(dir, 'f1')));
    const b = fetchFrom('f2', await BlobStore.open(join(dir, 'f2')));
    await settle(() => a.done() !== undefined && b.done() !== undefined);
    const ratios = [...sends.values()].map((t) => Number((rateOf(t.slice(2)) / CAP).toFixed(1)));
    expect({ status: [a.done()!.status, b.done()!.status], ratios }).toEqual({ status: ['complete', 'complete'], ratios: [1, 1] });
  });

  it('a node cap is shared: two fetchers together get the cap', async () => {
    const sends = await provider({ limits: { maxUploadRate: CAP } });
    await w.start('f1');
    await w.start('f2');
    const a = fetchFrom('f1', await BlobStore.open(join(dir, 'f1')));
    const b = fetchFrom('f2', await BlobStore.open(join(dir, 'f2')));
    await settle(() => a.done() !== undefined && b.done() !== undefined);
    const all = [...sends.values()].flat().sort((x, y) => x - y);
    expect({ status: [a.done()!.status, b.done()!.status], ratio: Number((rateOf(all.slice(2)) / CAP).toFixed(1)) }).toEqual({ status: ['complete', 'complete'], ratio: 1 });
  });
});
