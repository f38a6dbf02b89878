/**
 * `octopii get TICKET… [--dir DIR]`: fetches the collection a ticket names into the node's blob
 * store (src/blobs/fetchCollection.ts) — resuming from what the store already holds, every
 * block verified against the root before it is written, from every provider the tickets name
 * at once — then writes its files under DIR (default: the current directory), each read back
 * verified. Several tickets must name the same root; their providers are pooled.
 *
 * Output: a progress bar on a terminal (bytes, rate, ETA, providers); then one line on stderr.
 * With `--json`, JSON lines on stdout instead:
 *   {"event":"manifest","root","files","bytes","blobs","toFetchBytes"}
 *   {"event":"progress","fetchedBytes","toFetchBytes","doneBlobs","totalBlobs"}   at most every 200 ms
 *   {"event":"done","root","dir","files","bytes","fetchedBytes","missingBytes","durationMs","providers"}
 *   | {"event":"failed", … ,"error":{"code","message"}}
 * Resolves with the exit code: 0 when every file was written verified, 1 otherwise (what was
 * verified stays in the store: run the same command again to resume).
 *
 * `--window N` (over the config's `blobs.fetchWindow`; default 4): block writes in flight per
 * blob and provider before reading pauses. `--max-download-rate RATE` /
 * `--max-download-rate-per-peer RATE` (bytes per second, over `blobs.maxDownloadRate[PerPeer]`):
 * caps on what this run downloads in all and from each provider (src/blobs/downloadLimits.ts).
 */
import { resolve } from 'node:path';
import { identityFileOf, loadConfig } from '../config.js';
import { OctopiiError, toOctopiiError } from '../errors.js';
import { loadOrCreateIdentity } from '../identity.js';
import type { BlobTicket } from '../blobs/ticket.js';
import { formatBytes, openStore, storeDirOf, type StoreFlags } from './blobStore.js';
import { permissionsOption, type IdentityFlags } from './identityFlags.js';
import { jsonLine } from './output.js';

export interface GetOptions extends IdentityFlags, StoreFlags {
  dir?: string;
  tag?: string;
  json?: boolean;
  transport?: 'quinn' | 'matrixai';
  /** false (`--no-compress`): accept no compressed blocks. */
  compress?: boolean;
  /** Block writes in flight per blob and provider (over the config's `blobs.fetchWindow`). */
  window?: number;
  /** Download caps, bytes per second (over the config's `blobs.maxDownloadRate*`). */
  maxDownloadRate?: number;
  maxDownloadRatePerPeer?: number;
}

/** The providers of `tickets` (one root), each node ID and address once. Throws INVALID_ARGUMENT when the roots differ. */
export function poolTickets(tickets: readonly BlobTicket[]): BlobTicket {
  const root = tickets[0]!.root;
  const hex = Buffer.from(root).toString('hex');
  const providers: BlobTicket['providers'] = [];
  for (const t of tickets) {
    if (Buffer.from(t.root).toString('hex') !== hex) throw new OctopiiError('INVALID_ARGUMENT', 'the tickets name different collections: give several tickets only for the same content');
    for (const p of t.providers) if (!providers.some((q) => q.nodeId === p.nodeId && q.address === p.address)) providers.push(p);
  }
  if (providers.length === 0) throw new OctopiiError('INVALID_ARGUMENT', 'the ticket names no provider');
  return { root, providers };
}

/** Fetches and writes out; resolves with the exit code (see the file header). Throws INVALID_ARGUMENT (tickets, config), INVALID_IDENTITY, the store's and transport's errors. */
export async function runGet(tickets: BlobTicket[], opts: GetOptions): Promise<number> {
  const ticket = poolTickets(tickets);
  const v6 = ticket.providers.some((p) => p.address.startsWith('['));
  const cfg = loadConfig({ listen: v6 ? '[::]:0' : '0.0.0.0:0', dataDir: opts.dataDir, identityFile: opts.identity, transport: opts.transport }, { file: opts.config });
  const identity = await loadOrCreateIdentity(identityFileOf(cfg), permissionsOption(opts));
  const outDir = resolve(opts.dir ?? '.');
  const { store, pool, release } = await openStore(storeDirOf(opts, cfg), cfg.hashThreads);
  try {
    const [{ fetchCollection }, { exportCollection }, { rootHex }, { OctopiiNode }, { DownloadLimits }, progressLib] = await Promise.all([
      import('../blobs/fetchCollection.js'),
      import('../blobs/collection.js'),
      import('../blobs/tree.js'),
      import('../node.js'),
      import('../blobs/downloadLimits.js'),
      process.stderr.isTTY && !opts.json ? import('cli-progress') : undefined,
    ]);
    const root = rootHex(ticket.root);
    const tag = opts.tag ?? `get-${root.slice(0, 16)}`;
    const window = opts.window ?? cfg.blobs.fetchWindow;
    const limits = new DownloadLimits({ maxDownloadRate: opts.maxDownloadRate ?? cfg.blobs.maxDownloadRate, maxDownloadRatePerPeer: opts.maxDownloadRatePerPeer ?? cfg.blobs.maxDownloadRatePerPeer });
    const node = await OctopiiNode.start({ ...cfg, identity, runtime: { hasher: pool } });
    const started = performance.now();
    let bar: import('cli-progress').SingleBar | undefined;
    let lastJson = 0;
    try {
      const r = await fetchCollection(node, ticket.providers, ticket.root, store, {
        tag,
        ...(opts.compress === false ? { compression: false } : {}),
        ...(window !== undefined ? { window } : {}),
        ...(limits.active ? { limits } : {}),
        onManifest: (entries) => {
          if (opts.json) jsonLine({ event: 'manifest', root, files: entries.length, bytes: entries.reduce((a, e) => a + e.size, 0), blobs: new Set(entries.map((e) => e.root)).size });
        },
        onProgress: (p) => {
          const secs = (performance.now() - started) / 1000 || 1;
          if (progressLib && p.totalBlobs > 0) {
            if (!bar) {
              bar = new progressLib.default.SingleBar(
                {
                  stream: process.stderr,
                  format: ' {bar} {percentage}% | {value}/{total} bytes | {speed} MB/s | ETA {eta_formatted} | {blobs} blobs | {providers} providers',
                  etaBuffer: 50,
                },
                progressLib.default.Presets.shades_classic,
              );
              bar.start(p.toFetchBytes, 0, { speed: '0.0', blobs: '', providers: ticket.providers.length });
            }
            bar.update(Math.min(p.fetchedBytes, p.toFetchBytes), { speed: (p.fetchedBytes / 1e6 / secs).toFixed(1), blobs: `${p.doneBlobs}/${p.totalBlobs}`, providers: ticket.providers.length });
          }
          const now = performance.now();
          if (opts.json && p.totalBlobs > 0 && now - lastJson >= 200) {
            lastJson = now;
            jsonLine({ event: 'progress', ...p });
          }
        },
      });
      bar?.stop();
      const base = { root, dir: outDir, files: r.entries.length, bytes: r.totalBytes, fetchedBytes: r.fetchedBytes, missingBytes: r.missingBytes, providers: r.providers };
      if (r.status !== 'complete') {
        const error = r.error ?? { code: 'UNAVAILABLE', message: 'fetch failed' };
        if (opts.json) jsonLine({ event: 'failed', ...base, durationMs: Math.round(performance.now() - started), error });
        else process.stderr.write(`octopii: ${error.code}: ${error.message}\n(what was verified is kept in the store: run the same command again to resume)\n`);
        return 1;
      }
      const fetchedMs = performance.now() - started;
      try {
        await exportCollection(store, ticket.root, outDir);
      } catch (e) {
        const error = toOctopiiError(e).toJSON();
        if (opts.json) jsonLine({ event: 'failed', ...base, durationMs: Math.round(performance.now() - started), error });
        else process.stderr.write(`octopii: ${error.code}: ${error.message}\n`);
        return 1;
      }
      const durationMs = performance.now() - started;
      if (opts.json) jsonLine({ event: 'done', ...base, durationMs: Math.round(durationMs) });
      else {
        const rate = r.fetchedBytes > 0 ? ` (${formatBytes(r.fetchedBytes)} fetched in ${(fetchedMs / 1000).toFixed(1)} s, ${(r.fetchedBytes / 1e6 / (fetchedMs / 1000)).toFixed(1)} MB/s, from ${r.providers.filter((p) => p.bytes > 0).length} of ${r.providers.length} providers)` : ' (all of it was already in the store)';
        process.stderr.write(`got ${r.entries.length} files, ${formatBytes(r.totalBytes)}${rate}; every block verified; written to ${outDir} in ${(durationMs / 1000).toFixed(1)} s\n`);
      }
      return 0;
    } finally {
      bar?.stop();
      await node.stop();
    }
  } finally {
    await release();
  }
}
