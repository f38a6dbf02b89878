/**
 * Multi-source fetch: one blob from several providers at once (iroh-blobs' downloader is the
 * model). The coordination is the blobMulti machine (machines/blobMulti.ts), run under the
 * node's supervisor as `blobs/multi#<n>` with one child per provider (`provider#<i>`), all
 * visible in `node.inspect()`. The missing blocks are cut into units of `unitBlocks`; an idle
 * provider takes the next unit from the shared queue and fetches it with a scoped blobFetch
 * machine (`fetchBlob(…, { scope })`), so a provider gets units in proportion to its measured
 * throughput (a fast provider comes back for more sooner — work stealing); the bytes/ms of
 * each is reported. A provider whose unit fails (after the machine's own retries; a wrong
 * block fails it at once) is dropped; its unit goes back to the queue and, because every block
 * was verified and written on its own, the blocks it delivered before failing are kept — the
 * unit's next fetch asks only for what is still missing.
 *
 *   const r = await fetchBlobMulti(node, [p1, p2, p3], root, store);
 *   r.providers   // [{ peer, blocks, bytes, ms, bytesPerMs, dropped }]
 */
import { fromPromise, type AnyActorRef } from 'xstate';
import type { BlockRanges } from '../../machines/blobFetch.js';
import { blobMultiMachine, blobMultiProviderMachine, type BlobMultiInput, type BlobMultiOutput, type FetchUnitInput, type ProviderReport, type UnitResult } from '../../machines/blobMulti.js';
import { OctopiiError, toOctopiiError, type ErrorInfo } from '../errors.js';
import type { OctopiiNode, PeerRef } from '../node/node.js';
import type { DownloadLimits } from './downloadLimits.js';
import { checkWindow, fetchBlob } from './fetch.js';
import type { BlobStore } from './store.js';

export { splitUnits } from '../../machines/blobMulti.js';
export type { ProviderReport } from '../../machines/blobMulti.js';

export interface MultiFetchResult {
  status: 'complete' | 'failed';
  providers: ProviderReport[];
  error: ErrorInfo | null;
}

export interface MultiFetchOptions {
  /** Blocks per unit of work (default 4). */
  unitBlocks?: number;
  /** Attempts per unit before its provider is dropped (default 2). */
  attemptsPerUnit?: number;
  /**
   * Called after each unit ends (done or failed), while the fetch still runs: every
   * provider's report so far. The machine and its providers are in `node.inspect()` then.
   */
  onUnit?: (providers: ProviderReport[]) => void;
  /** false: accept no compressed blocks; true: accept brotli; default: brotli except from a provider on a loopback address (src/blobs/fetch.ts). */
  compression?: boolean;
  /** Block writes in flight per provider before its reads pause (src/blobs/fetch.ts; default 4). */
  window?: number;
  /** Download caps (node-wide and per provider, src/blobs/downloadLimits.ts) shared by every provider's fetch. */
  limits?: DownloadLimits;
}

/** What the actors get as `handles`. */
interface MultiHandles {
  node: OctopiiNode;
  peers: readonly PeerRef[];
  root: Uint8Array;
  store: BlobStore;
  attempts: number;
  compression?: boolean;
  window?: number;
  limits?: DownloadLimits;
}

const handlesOf = (h: unknown): MultiHandles => h as MultiHandles;

/** The machine with its I/O provided. */
export const blobMultiLogic = blobMultiMachine.provide({
  actors: {
    loadMissing: fromPromise<BlockRanges | null, { handles: unknown }>(async ({ input }) => {
      const h = handlesOf(input.handles);
      return h.store.missing(h.root);
    }),
    provider: blobMultiProviderMachine.provide({
      actors: {
        fetchUnit: fromPromise<UnitResult, FetchUnitInput>(async ({ input }) => {
          const { node, peers, root, store, attempts, compression, window, limits } = handlesOf(input.handles);
          const t0 = node.clock.now();
          const r = await fetchBlob(node, peers[input.index]!, root, store, {
            scope: [input.unit],
            maxAttempts: attempts,
            maxMismatches: 1,
            ...(compression !== undefined ? { compression } : {}),
            ...(window !== undefined ? { window } : {}),
            ...(limits ? { limits } : {}),
          });
          return { status: r.status, blocks: r.blocks, bytes: r.bytes, ms: node.clock.now() - t0, error: r.error };
        }),
      },
    }),
  },
});

const multiSeq = new WeakMap<OctopiiNode, number>();

/**
 * Fetches `root` into `store` from every provider in `peers` at once. Never rejects for a
 * provider's failure: resolves `failed` (with the last provider's error) when no provider is
 * left and blocks are still missing. Throws INVALID_ARGUMENT for an empty provider list or a bad window;
 * rejects CLOSED when the node is stopped.
 */
export async function fetchBlobMulti(node: OctopiiNode, peers: readonly PeerRef[], root: Uint8Array, store: BlobStore, options: MultiFetchOptions = {}): Promise<MultiFetchResult> {
  if (peers.length === 0) throw new OctopiiError('INVALID_ARGUMENT', 'a multi-source fetch needs at least one provider');
  const handles: MultiHandles = {
    node,
    peers,
    root,
    store,
    attempts: Math.max(1, options.attemptsPerUnit ?? 2),
    ...(options.compression !== undefined ? { compression: options.compression } : {}),
    ...(options.window !== undefined ? { window: checkWindow(options.window) } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
  };
  const input: BlobMultiInput = { handles, peers: peers.map((p) => p.address), unitBlocks: Math.max(1, options.unitBlocks ?? 4) };
  const n = (multiSeq.get(node) ?? 0) + 1;
  multiSeq.set(node, n);
  const release = store.pin(root);
  try {
    const ref = node.spawn(`blobs/multi#${n}`, blobMultiLogic, { input, restart: 'temporary' });
    const out = await outputOf(ref, options.onUnit);
    return { status: out.status, providers: out.providers, error: out.error };
  } finally {
    release();
  }
}

type Snap = { status: string; output?: unknown; context?: { units: number; providers: Array<Omit<ProviderReport, 'bytesPerMs'>> } };

function outputOf(ref: AnyActorRef, onUnit?: (providers: ProviderReport[]) => void): Promise<BlobMultiOutput> {
  let seen = 0;
  return new Promise((resolve, reject) => {
    let sub: { unsubscribe(): void } | undefined;
    let settled = false;
    const done = (fn: () => void) => {
      if (settled) return;
      settled = true;
      sub?.unsubscribe();
      fn();
    };
    const check = (s: Snap) => {
      const c = s.context;
      if (onUnit && s.status === 'active' && c && c.units > seen) {
        seen = c.units;
        onUnit(c.providers.map((p) => ({ peer: p.peer, blocks: p.blocks, bytes: p.bytes, ms: p.ms, bytesPerMs: p.ms > 0 ? p.bytes / p.ms : 0, dropped: p.dropped })));
      }
      if (s.status === 'done') done(() => resolve(s.output as BlobMultiOutput));
      else if (s.status === 'stopped') done(() => reject(new OctopiiError('CLOSED', 'node stopped during the fetch')));
    };
    sub = ref.subscribe({ next: check, error: (e) => done(() => reject(toOctopiiError(e, 'INTERNAL'))), complete: () => check(ref.getSnapshot() as Snap) });
    if (settled) sub.unsubscribe();
    check(ref.getSnapshot() as Snap);
  });
}
