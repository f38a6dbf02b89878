/**
 * Fetching a whole collection (src/blobs/collection.ts) into a store: the manifest first, then
 * every member blob the store does not hold complete. Small members the store lacks entirely
 * (at most {@link BATCH_MEMBER_MAX_BYTES}) go in batches — up to {@link BATCH_MAX_BLOBS} whole
 * blobs on one stream with one blobBatch machine (src/blobs/batch.ts), batch k from provider k
 * in turn, {@link COLLECTION_BATCHES_IN_FLIGHT} batches at once: on this repository's
 * node_modules (7,830 files, 161 MB, 127.0.0.1, a loaded 2-core machine) `get` took 44–65 s one
 * stream per file, 16–30 s in batches (`npm run bench:blobs-tree`). The rest — large members,
 * partial ones, and whatever a batch did not land (a root its provider lacks, the roots after a
 * failed batch, every root of a provider that refuses batches) — go one blob at a time,
 * {@link COLLECTION_BLOBS_IN_FLIGHT} at once per caller: from one provider with one blobFetch
 * machine per blob (src/blobs/fetch.ts), from several with the multi-source fetch
 * (src/blobs/multi.ts), each blob starting at the next provider in turn. What the store already
 * holds — whole blobs, or the verified blocks of a partial one from an interrupted run — is not asked for again, and
 * a blob that several files share is fetched once. The manifest is tagged `tag` before its
 * blocks arrive; once complete, that tag keeps every member (src/blobs/liveness.ts), so a gc()
 * cannot take a partial fetch away.
 *
 *   const r = await fetchCollection(node, ticket.providers, ticket.root, store, { tag: 'got' });
 *   if (r.status === 'complete') await exportCollection(store, ticket.root, './out');
 */
import { OctopiiError, toOctopiiError, type ErrorInfo } from '../errors.js';
import type { OctopiiNode, PeerRef } from '../node/node.js';
import { eachLimited, readCollection, type CollectionEntry } from './collection.js';
import { fetchBatch } from './batch.js';
import { fetchBlob } from './fetch.js';
import { fetchBlobMulti, type ProviderReport } from './multi.js';
import type { DownloadLimits } from './downloadLimits.js';
import type { BlobStore } from './store.js';
import { BLOCK_BYTES, parseRoot, rootHex } from './tree.js';

/** Member blobs fetched at once one per stream (large ones, and what a batch handed back): each costs a stream and a few fdatasyncs, so several overlap. */
export const COLLECTION_BLOBS_IN_FLIGHT = 8;

/**
 * Members of at most this many bytes (one block at the default block size) that the store lacks
 * entirely are fetched in batches — many whole blobs on one stream (src/blobs/batch.ts) — rather
 * than one stream and one machine each.
 */
export const BATCH_MEMBER_MAX_BYTES = 1 << 20;
/** Most members in one batch, and most bytes of them (a batch is one stream: it should not run for long). */
export const BATCH_MAX_BLOBS = 256;
export const BATCH_MAX_BYTES = 8 << 20;
/** Batches fetched at once (each writes up to BATCH_BLOBS_IN_FLIGHT blobs at once). */
export const COLLECTION_BATCHES_IN_FLIGHT = 2;

/** `items` cut in order into groups of at most `maxItems` and (unless one item alone is larger) `maxBytes`. */
export function groupBatches<T extends { bytes: number }>(items: readonly T[], maxItems = BATCH_MAX_BLOBS, maxBytes = BATCH_MAX_BYTES): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const t of items) {
    if (cur.length > 0 && (cur.length >= maxItems || bytes + t.bytes > maxBytes)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(t);
    bytes += t.bytes;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

export interface CollectionProgress {
  /** Bytes this run fetched, verified and wrote so far. */
  fetchedBytes: number;
  /** Bytes still missing when the members were listed (what this run has to fetch). */
  toFetchBytes: number;
  /** Member blobs complete in the store so far, of `totalBlobs` (distinct roots). */
  doneBlobs: number;
  totalBlobs: number;
}

export interface CollectionFetchOptions {
  /** Tag of the manifest, which keeps the members too (src/blobs/store.ts tag names). */
  tag: string;
  /** Called as blocks land and blobs complete. */
  onProgress?: (p: CollectionProgress) => void;
  /** Called once the manifest is held, with its entries, before any member is fetched. */
  onManifest?: (entries: CollectionEntry[]) => void;
  /** false: accept no compressed blocks from the providers; true: accept brotli; default: brotli except from a provider on a loopback address (src/blobs/fetch.ts). */
  compression?: boolean;
  /** Block writes in flight per blob fetch and provider before reads pause (src/blobs/fetch.ts; default 4). */
  window?: number;
  /** Download caps (node-wide and per provider) shared by every blob this fetch moves (src/blobs/downloadLimits.ts). */
  limits?: DownloadLimits;
  /** false: one stream per member, as before batches (default true: small members in batches, {@link BATCH_MEMBER_MAX_BYTES}). */
  batch?: boolean;
}

export interface CollectionFetchResult {
  status: 'complete' | 'failed';
  /** The manifest's entries (empty when the manifest itself could not be fetched). */
  entries: CollectionEntry[];
  /** Bytes of all files in the collection. */
  totalBytes: number;
  /** Bytes this run moved over the network (verified and written), manifest included. */
  fetchedBytes: number;
  /** Bytes that were missing from the store when this run started listing members (manifest excluded). */
  missingBytes: number;
  /** Per provider, summed over every blob. */
  providers: ProviderReport[];
  error: ErrorInfo | null;
}

/** Bytes of the block ranges `ranges` of a blob of `size` bytes in `blockBytes`-byte blocks (default 1 MiB). */
export const rangeBytes = (ranges: ReadonlyArray<readonly [number, number]>, size: number, blockBytes = BLOCK_BYTES): number =>
  ranges.reduce((a, [s, e]) => a + Math.max(0, Math.min(e * blockBytes, size) - s * blockBytes), 0);

/**
 * Fetches collection `root` and its members into `store` from `peers` (at least one). Never
 * rejects for a provider's failure: resolves `failed` with the error (BLOB_NOT_FOUND,
 * BLOCK_MISMATCH, UNAVAILABLE, INVALID_ARGUMENT for an unsafe manifest …); what was verified
 * stays in the store for the next run. Throws INVALID_ARGUMENT for an empty provider list.
 */
export async function fetchCollection(node: OctopiiNode, peers: readonly PeerRef[], root: Uint8Array, store: BlobStore, options: CollectionFetchOptions): Promise<CollectionFetchResult> {
  if (peers.length === 0) throw new OctopiiError('INVALID_ARGUMENT', 'a fetch needs at least one provider');
  const reports = new Map<string, ProviderReport>(peers.map((p) => [p.address, { peer: p.address, blocks: 0, bytes: 0, ms: 0, bytesPerMs: 0, dropped: null }]));
  let fetchedBytes = 0;
  let turn = 0;
  const progress: CollectionProgress = { fetchedBytes: 0, toFetchBytes: 0, doneBlobs: 0, totalBlobs: 0 };
  const emit = () => options.onProgress?.({ ...progress, fetchedBytes });
  const tuning = { ...(options.compression !== undefined ? { compression: options.compression } : {}), ...(options.window !== undefined ? { window: options.window } : {}), ...(options.limits ? { limits: options.limits } : {}) };

  /** One blob, complete or failed; the bytes it moved counted as they land. */
  const fetchOne = async (blob: Uint8Array): Promise<ErrorInfo | null> => {
    if (peers.length === 1) {
      const peer = peers[0]!;
      let seen = 0;
      const t0 = node.clock.now();
      const r = await fetchBlob(node, peer, blob, store, {
        ...tuning,
        onProgress: (_blocks, bytes) => {
          fetchedBytes += bytes - seen;
          seen = bytes;
          emit();
        },
      });
      fetchedBytes += r.bytes - seen;
      const rep = reports.get(peer.address)!;
      rep.blocks += r.blocks;
      rep.bytes += r.bytes;
      rep.ms += node.clock.now() - t0;
      rep.bytesPerMs = rep.ms > 0 ? rep.bytes / rep.ms : 0;
      if (r.error) rep.dropped = r.error;
      return r.status === 'complete' ? null : (r.error ?? { code: 'UNAVAILABLE', message: 'fetch failed' });
    }
    // Each blob starts at the next provider: a one-block blob comes whole from the first one
    // asked, so without the rotation every small file would come from peers[0].
    const k = turn++ % peers.length;
    const r = await fetchBlobMulti(node, [...peers.slice(k), ...peers.slice(0, k)], blob, store, tuning);
    for (const p of r.providers) {
      const rep = reports.get(p.peer)!;
      rep.blocks += p.blocks;
      rep.bytes += p.bytes;
      rep.ms += p.ms;
      rep.bytesPerMs = rep.ms > 0 ? rep.bytes / rep.ms : 0;
      if (p.dropped) rep.dropped = p.dropped;
      fetchedBytes += p.bytes;
    }
    emit();
    return r.status === 'complete' ? null : r.error;
  };

  const result = (status: 'complete' | 'failed', entries: CollectionEntry[], missingBytes: number, error: ErrorInfo | null): CollectionFetchResult => ({
    status,
    entries,
    totalBytes: entries.reduce((a, e) => a + e.size, 0),
    fetchedBytes,
    missingBytes,
    providers: [...reports.values()],
    error,
  });

  await store.setTag(options.tag, root);
  const manifestError = (await store.has(root)) ? null : await fetchOne(root);
  if (manifestError) return result('failed', [], 0, manifestError);
  let entries: CollectionEntry[];
  try {
    entries = await readCollection(store, root);
  } catch (e) {
    return result('failed', [], 0, toOctopiiError(e).toJSON());
  }
  options.onManifest?.(entries);

  // The manifest's tag, written before its fetch and now naming a complete manifest, keeps every
  // member through gc() (src/blobs/liveness.ts) — in this process and any other on the store.

  // Distinct roots and what each still lacks (the verified-block maps: nothing is read or hashed).
  const sizes = new Map(entries.map((e) => [e.root, e.size]));
  const todo: Array<{ root: Uint8Array; bytes: number; whole: boolean }> = [];
  for (const [hex, size] of sizes) {
    const blob = parseRoot(hex);
    const missing = await store.missing(blob);
    if (missing !== null && missing.length === 0) continue;
    todo.push({ root: blob, bytes: missing === null ? size : rangeBytes(missing, size, await store.blockBytesOf(blob)), whole: missing === null });
  }
  progress.totalBlobs = sizes.size;
  progress.doneBlobs = sizes.size - todo.length;
  progress.toFetchBytes = todo.reduce((a, t) => a + t.bytes, 0);
  emit();

  let failure: ErrorInfo | null = null;
  /** One member on its own stream(s): retries, several providers. */
  const perBlob = async (t: { root: Uint8Array }): Promise<void> => {
    if (failure) return;
    const error = await fetchOne(t.root);
    if (error) {
      failure ??= { ...error, message: `blob ${rootHex(t.root)}: ${error.message}` };
      return;
    }
    progress.doneBlobs++;
    emit();
  };
  // Small members the store lacks entirely go in batches (one stream each), batch k to provider k
  // in turn; what a batch does not land — a root its provider answered with an ERROR, the roots
  // after a failed stream, every root of a provider that refuses batches — goes per blob.
  const batchable = (t: (typeof todo)[number]) => options.batch !== false && t.whole && t.bytes <= BATCH_MEMBER_MAX_BYTES;
  const batches = groupBatches(todo.filter(batchable));
  const noBatch = new Set<string>();
  const runBatch = async (b: typeof todo, k: number): Promise<void> => {
    if (failure) return;
    const peer = peers[k % peers.length]!;
    let left = b;
    if (!noBatch.has(peer.address)) {
      const t0 = node.clock.now();
      const seen = { blobs: 0, bytes: 0 };
      const out = await fetchBatch(node, peer, b.map((t) => t.root), store, {
        ...(options.compression !== undefined ? { compression: options.compression } : {}),
        ...(options.limits ? { limits: options.limits } : {}),
        onProgress: (blobs, bytes) => {
          progress.doneBlobs += blobs - seen.blobs;
          fetchedBytes += bytes - seen.bytes;
          seen.blobs = blobs;
          seen.bytes = bytes;
          emit();
        },
      });
      progress.doneBlobs += out.done.length - seen.blobs;
      fetchedBytes += out.bytes - seen.bytes;
      const rep = reports.get(peer.address)!;
      rep.blocks += out.blocks;
      rep.bytes += out.bytes;
      rep.ms += node.clock.now() - t0;
      rep.bytesPerMs = rep.ms > 0 ? rep.bytes / rep.ms : 0;
      if (out.status === 'refused') noBatch.add(peer.address);
      const landed = new Set(out.done);
      left = b.filter((_, i) => !landed.has(i));
      if (left.length < b.length) emit();
    }
    await eachLimited(left, COLLECTION_BLOBS_IN_FLIGHT, perBlob);
  };
  await Promise.all([eachLimited(batches, COLLECTION_BATCHES_IN_FLIGHT, runBatch), eachLimited(todo.filter((t) => !batchable(t)), COLLECTION_BLOBS_IN_FLIGHT, perBlob)]);
  return result(failure ? 'failed' : 'complete', entries, progress.toFetchBytes, failure);
}
