/**
 * `octopii share PATH…`: adds the files and directories to the node's blob store as one
 * collection (src/blobs/collection.ts `addPaths`, tagged so gc keeps it), starts a node serving
 * the `blobs` stream kind, prints a ticket and serves until SIGINT/SIGTERM (exit 0).
 *
 * stdout: the ticket alone on one line; with `--json` one line
 *   {"event":"sharing","ticket","root","files","bytes","skipped","tag","nodeId","address","store"}
 * stderr: what was added and the command that fetches it.
 *
 * The ticket names this node's ID and the address peers should dial: `--advertise HOST:PORT`,
 * else the listen address — for a wildcard listen (0.0.0.0, the default) the first non-internal
 * IPv4 address of this host (127.0.0.1 when it has none) with the bound port.
 *
 * `--max-upload-rate SIZE` / `--max-upload-rate-per-peer SIZE` (bytes per second, e.g. `10MB`;
 * over the config's `blobs.maxUploadRate` / `blobs.maxUploadRatePerPeer`) cap what the node
 * uploads in all and to each fetcher (token buckets, src/blobs/uploadLimits.ts). Blocks go
 * brotli-compressed to fetchers that accept it when that pays (src/blobs/codec.ts);
 * `--no-compress` sends every block as it is. `--block-size SIZE` (over the config's
 * `blobs.blockSize`; default 1 MiB) is the block size of every blob added — a power of two from
 * 16 KiB to 16 MiB, bound into the roots (fetchers learn it from each blob's header).
 */
import { networkInterfaces } from 'node:os';
import { basename, resolve } from 'node:path';
import { identityFileOf, loadConfig } from '../config.js';
import { loadOrCreateIdentity } from '../identity.js';
import { parseAddress } from '../transport/address.js';
import { openStore, formatBytes, storeDirOf, tagFromName, type StoreFlags } from './blobStore.js';
import { permissionsOption, type IdentityFlags } from './identityFlags.js';
import { jsonLine } from './output.js';

export interface ShareOptions extends IdentityFlags, StoreFlags {
  listen?: string;
  advertise?: string;
  tag?: string;
  json?: boolean;
  transport?: 'quinn' | 'matrixai';
  /** Upload caps, bytes per second (over the config's `blobs.maxUploadRate*`). */
  maxUploadRate?: number;
  maxUploadRatePerPeer?: number;
  /** false (`--no-compress`): never send compressed blocks. */
  compress?: boolean;
  /** Block size of the blobs added, bytes (over the config's `blobs.blockSize`). */
  blockSize?: number;
}

/** The address to put in the ticket for a node bound to `bound` (see the file header). */
export function advertisedAddress(bound: string, advertise: string | undefined): string {
  if (advertise) return advertise;
  const { host, port } = parseAddress(bound);
  if (host !== '0.0.0.0' && host !== '::') return bound;
  const v4 = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal);
  return `${v4?.address ?? '127.0.0.1'}:${port}`;
}

/**
 * Shares `paths` until SIGINT/SIGTERM. Throws before the ticket is printed: SOURCE_NOT_FOUND
 * (a path), INVALID_ARGUMENT (config; two paths with one name), INVALID_IDENTITY, the store's
 * errors (DISK_FULL, PERMISSION_DENIED, IO_ERROR), the transport's listen errors.
 */
export async function runShare(paths: string[], opts: ShareOptions): Promise<void> {
  const stopSignal = new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
  const cfg = loadConfig({ listen: opts.listen ?? '0.0.0.0:0', dataDir: opts.dataDir, identityFile: opts.identity, transport: opts.transport }, { file: opts.config });
  const identity = await loadOrCreateIdentity(identityFileOf(cfg), permissionsOption(opts));
  const storeDir = storeDirOf(opts, cfg);
  const { store, pool, release } = await openStore(storeDir, cfg.hashThreads);
  try {
    const [{ addPaths }, { serveBlobs }, { encodeTicket }, { rootHex }, { OctopiiNode }] = await Promise.all([
      import('../blobs/collection.js'),
      import('../blobs/provide.js'),
      import('../blobs/ticket.js'),
      import('../blobs/tree.js'),
      import('../node.js'),
    ]);
    const tag = opts.tag ?? tagFromName('share', basename(resolve(paths[0]!)));
    const t0 = performance.now();
    if (!opts.json) process.stderr.write(`adding ${paths.join(' ')} to ${storeDir} (identical files are stored once)…\n`);
    const blockBytes = opts.blockSize ?? cfg.blobs.blockSize;
    const added = await addPaths(store, paths, { tag, ...(blockBytes !== undefined ? { blockBytes } : {}) });
    const bytes = added.entries.reduce((a, e) => a + e.size, 0);
    const addMs = performance.now() - t0;
    const node = await OctopiiNode.start({ ...cfg, identity, runtime: { hasher: pool } });
    try {
      const maxUploadRate = opts.maxUploadRate ?? cfg.blobs.maxUploadRate;
      const maxUploadRatePerPeer = opts.maxUploadRatePerPeer ?? cfg.blobs.maxUploadRatePerPeer;
      serveBlobs(node, store, {
        ...(opts.compress === false ? { compress: false } : {}),
        limits: { ...(maxUploadRate !== undefined ? { maxUploadRate } : {}), ...(maxUploadRatePerPeer !== undefined ? { maxUploadRatePerPeer } : {}) },
      });
      const address = advertisedAddress(node.address, opts.advertise);
      const ticket = encodeTicket({ root: added.root, providers: [{ nodeId: node.nodeId, address }] });
      const root = rootHex(added.root);
      if (opts.json) {
        jsonLine({ event: 'sharing', ticket, root, files: added.entries.length, bytes, skipped: added.skipped, tag, nodeId: node.nodeId, address, store: storeDir });
      } else {
        process.stdout.write(`${ticket}\n`);
        const skipped = added.skipped > 0 ? ` (${added.skipped} symlinks or special files skipped)` : '';
        process.stderr.write(
          `added ${added.entries.length} files, ${formatBytes(bytes)} in ${(addMs / 1000).toFixed(1)} s${skipped} as collection ${root} (tag ${tag})\n` +
            `serving on ${node.address} as ${node.nodeId}; fetch with:\n  octopii get ${ticket}\n(Ctrl-C to stop)\n`,
        );
      }
      await stopSignal;
    } finally {
      await node.stop();
    }
  } finally {
    await release();
  }
}
