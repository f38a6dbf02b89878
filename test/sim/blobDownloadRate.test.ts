/**
 * Download limits of a blob fetcher (src/blobs/downloadLimits.ts, machines/blobFetch.ts
 * `streaming.throttled`) between whole nodes on the memory network under a simulated clock: a
 * node cap holds the fetch's throughput to the cap (bytes over simulated time), the fetch machine
 * shows `throttled` while it waits and reports the time it waited, a per-provider cap does not
 * slow the fetch from another provider, a node cap is shared by all of them. Stores are real
 * directories with real fsync.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AnyActorRef } from 'xstate';
import type { BlobFetchOutput } from '../../machines/blobFetch.js';
import { DownloadLimits } from '../../src/blobs/downloadLimits.js';
import { fetchBlob } from '../../src/blobs/fetch.js';
import { serveBlobs } from '../../src/blobs/provide.js';
import { BlobStore } from '../../src/blobs/store.js';
import { BLOCK_BYTES, rootOf } from '../../src/blobs/tree.js';
import { blobSimWorld } from '../helpers/blobSim.js';
import { deterministicBytes, type SimWorld } from '../helpers/simWorld.js';

const N = 10;
const SIZE = N * BLOCK_BYTES;
const DATA = deterministicBytes('blob-download-rate', SIZE);
const ROOT = rootOf(DATA);
/** 1 MB/s: a 1 MiB block every 1,049 ms simulated. */
const CAP = 1_000_000;

/** Advances the simulated clock until `pred()` holds (SimWorld.until: real file I/O settles before each step); false after `limitMs` simulated. */
const settle = (pred: () => boolean, limitMs = 120_000): Promise<boolean> => w.until(pred, limitMs);

let w: SimWorld;
let dir: string;
blobSimWorld('octopii-blobdownrate-', (world, d) => ((w = world), (dir = d)));

async function provider(name: string): Promise<void> {
  const store = await BlobStore.open(join(dir, name));
  await store.add(DATA, { tag: 'data' });
  serveBlobs(await w.start(name), store);
}

/** A fetch of ROOT from `from` into its own store with `limits`; simulated receive time (ms) of each block. */
function fetchFrom(from: string, store: BlobStore, limits: DownloadLimits): { done: () => BlobFetchOutput | undefined; times: number[] } {
  let result: BlobFetchOutput | undefined;
  const times: number[] = [];
  void fetchBlob(w.node('f'), w.ref(from), ROOT, store, { limits, onWire: () => times.push(w.clock.now()) }).then((r) => (result = r), () => undefined); // CLOSED when the world closes first
  return { done: () => result, times };
}

/** Steady-state rate of a run of receive times, bytes/s: blocks after the first over the time from the first. */
const rateOf = (times: number[]): number => ((times.length - 1) * BLOCK_BYTES) / ((times.at(-1)! - times[0]!) / 1000);

describe('blob fetcher download limits', () => {
  it('holds a node-capped fetch to the cap (bytes over simulated time)', async () => {
    await provider('p');
    await w.start('f');
    const f = fetchFrom('p', await BlobStore.open(join(dir, 'f')), new DownloadLimits({ maxDownloadRate: CAP }));
    await settle(() => f.done() !== undefined);
    // the first blocks come at once (the burst); from then on one block per BLOCK_BYTES / CAP
    expect({ status: f.done()!.status, ratio: Number((rateOf(f.times.slice(2)) / CAP).toFixed(2)) }).toEqual({ status: 'complete', ratio: 1 });
  });

  it('shows session.streaming.throttled in the fetch actor while it waits, and reports the time waited', async () => {
    await provider('p');
    const node = await w.start('f');
    const states = new Set<string>();
    node.onInspect((e) => {
      if (e.type === '@xstate.snapshot' && (e.actorRef as AnyActorRef).id.includes('/fetch#')) states.add(JSON.stringify((e.snapshot as { value?: unknown }).value));
    });
    const f = fetchFrom('p', await BlobStore.open(join(dir, 'f')), new DownloadLimits({ maxDownloadRate: CAP }));
    await settle(() => f.done() !== undefined);
    // N blocks at CAP take (N − 1 burst) × BLOCK_BYTES / CAP of waiting; what the network took is not waited
    expect({ throttled: states.has(JSON.stringify({ session: { streaming: 'throttled' } })), waitedEnough: f.done()!.throttledMs > 0.8 * (((N - 2) * BLOCK_BYTES) / CAP) * 1000 }).toEqual({
      throttled: true,
      waitedEnough: true,
    });
  });

  it('does not throttle without a cap', async () => {
    await provider('p');
    await w.start('f');
    const f = fetchFrom('p', await BlobStore.open(join(dir, 'f')), new DownloadLimits({}));
    await settle(() => f.done() !== undefined);
    expect({ status: f.done()!.status, throttledMs: f.done()!.throttledMs }).toEqual({ status: 'complete', throttledMs: 0 });
  });

  it('a per-provider cap does not slow the fetch from another provider: each gets the cap', async () => {
    await provider('p1');
    await provider('p2');
    await w.start('f');
    const limits = new DownloadLimits({ maxDownloadRatePerPeer: CAP });
    const a = fetchFrom('p1', await BlobStore.open(join(dir, 'f1')), limits);
    const b = fetchFrom('p2', await BlobStore.open(join(dir, 'f2')), limits);
    await settle(() => a.done() !== undefined && b.done() !== undefined);
    const ratios = [a.times, b.times].map((t) => Number((rateOf(t.slice(2)) / CAP).toFixed(1)));
    expect({ status: [a.done()!.status, b.done()!.status], ratios }).toEqual({ status: ['complete', 'complete'], ratios: [1, 1] });
  });

  it('a node cap is shared: fetches from two providers together get the cap', async () => {
    await provider('p1');
    await provider('p2');
    await w.start('f');
    const limits = new DownloadLimits({ maxDownloadRate: CAP });
    const a = fetchFrom('p1', await BlobStore.open(join(dir, 'f1')), limits);
    const b = fetchFrom('p2', await BlobStore.open(join(dir, 'f2')), limits);
    await settle(() => a.done() !== undefined && b.done() !== undefined);
    // blocks land together at first (the burst, and one read of each session before its first wait — 3 or 4 by how the sessions
    // interleave with real fsync); after that the shared bucket spaces all arrivals one block per BLOCK_BYTES / CAP
    const all = [...a.times, ...b.times].sort((x, y) => x - y);
    const gaps = all.slice(1).map((t, i) => t - all[i]!).filter((g) => g > 0).sort((x, y) => x - y);
    const medianGapMs = gaps[gaps.length >> 1]!;
    expect({ status: [a.done()!.status, b.done()!.status], ratio: Number((BLOCK_BYTES / (medianGapMs / 1000) / CAP).toFixed(1)) }).toEqual({ status: ['complete', 'complete'], ratio: 1 });
  });

  it('refuses a cap that is not a positive rate with INVALID_ARGUMENT', () => {
    expect(() => new DownloadLimits({ maxDownloadRatePerPeer: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('maxDownloadRatePerPeer') }));
  });
});
