/**
 * Multi-source fetch: one blob from several providers at once (iroh-blobs' downloader is the
 * model). The missing blocks are cut into units of `unitBlocks`; one worker per provider pulls
 * the next unit from a shared queue and fetches it with a scoped blobFetch machine
 * (`fetchBlob(…, { scope })`), so a provider gets units in proportion to its measured
 * throughput (a fast provider comes back for more sooner — work stealing); the bytes/ms of
 * each is reported. A provider whose unit fails (after the machine's own retries; a wrong
 * block fails it at once) is dropped; its unit goes back to the queue and, because every block
 * was verified and written on its own, the blocks it delivered before failing are kept — the
 * unit's next fetch asks only for what is still missing.
 *
 *   const r = await fetchBlobMulti(node, [p1, p2, p3], root, store);
 *   r.providers   // [{ peer, blocks, bytes, ms, bytesPerMs, dropped }]
 */
import type { BlockRanges } from '../../machines/blobFetch.js';
import { OctopiiError, type ErrorInfo } from '../errors.js';
import type { OctopiiNode, PeerRef } from '../node/node.js';
import { fetchBlob } from './fetch.js';
import type { BlobStore } from './store.js';

export interface ProviderReport {
  /** `host:port` of the provider. */
  peer: string;
  /** Blocks this provider delivered (verified and written), and their bytes. */
  blocks: number;
  bytes: number;
  /** Time spent fetching from it, ms (the node's clock). */
  ms: number;
  /** Measured throughput, bytes per ms (0 before any block). */
  bytesPerMs: number;
  /** Why it was dropped, or null. */
  dropped: ErrorInfo | null;
}

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
}

/** `ranges` cut into units of at most `unit` blocks, in order. */
export function splitUnits(ranges: BlockRanges, unit: number): BlockRanges {
  const out: BlockRanges = [];
  for (const [s, e] of ranges) for (let a = s; a < e; a += unit) out.push([a, Math.min(e, a + unit)]);
  return out;
}

/**
 * Fetches `root` into `store` from every provider in `peers` at once. Never rejects for a
 * provider's failure: resolves `failed` (with the last provider's error) when no provider is
 * left and blocks are still missing. Throws INVALID_ARGUMENT for an empty provider list.
 */
export async function fetchBlobMulti(node: OctopiiNode, peers: readonly PeerRef[], root: Uint8Array, store: BlobStore, options: MultiFetchOptions = {}): Promise<MultiFetchResult> {
  if (peers.length === 0) throw new OctopiiError('INVALID_ARGUMENT', 'a multi-source fetch needs at least one provider');
  const unitBlocks = Math.max(1, options.unitBlocks ?? 4);
  const attempts = Math.max(1, options.attemptsPerUnit ?? 2);
  const reports: ProviderReport[] = peers.map((p) => ({ peer: p.address, blocks: 0, bytes: 0, ms: 0, bytesPerMs: 0, dropped: null }));
  const release = store.pin(root);
  let lastError: ErrorInfo | null = null;
  const runUnit = async (i: number, unit: [number, number]): Promise<boolean> => {
    const t0 = node.clock.now();
    const r = await fetchBlob(node, peers[i]!, root, store, { scope: [unit], maxAttempts: attempts, maxMismatches: 1 });
    const rep = reports[i]!;
    rep.blocks += r.blocks;
    rep.bytes += r.bytes;
    rep.ms += node.clock.now() - t0;
    rep.bytesPerMs = rep.ms > 0 ? rep.bytes / rep.ms : 0;
    if (r.status === 'complete') return true;
    rep.dropped = r.error;
    lastError = r.error;
    return false;
  };
  try {
    let missing = await store.missing(root);
    // Nothing held: the size is unknown until one block proves it, so the first block comes first.
    for (let i = 0; missing === null && i < peers.length; i++) {
      if (await runUnit(i, [0, 1])) missing = await store.missing(root);
    }
    if (missing === null) return { status: 'failed', providers: reports, error: lastError };
    const queue = splitUnits(missing, unitBlocks);
    let busy = 0;
    let waiters: Array<() => void> = [];
    const wakeAll = () => {
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    };
    const worker = async (i: number) => {
      if (reports[i]!.dropped) return;
      for (;;) {
        const unit = queue.shift();
        if (!unit) {
          if (busy === 0) return;
          await new Promise<void>((r) => waiters.push(r)); // a busy worker may hand its unit back
          continue;
        }
        busy++;
        const ok = await runUnit(i, unit);
        busy--;
        if (!ok) queue.unshift(unit);
        wakeAll();
        if (!ok) return;
      }
    };
    await Promise.all(peers.map((_, i) => worker(i)));
    const left = await store.missing(root);
    const complete = left !== null && left.length === 0;
    return { status: complete ? 'complete' : 'failed', providers: reports, error: complete ? null : (lastError ?? { code: 'UNAVAILABLE', message: 'no provider left' }) };
  } finally {
    release();
  }
}
