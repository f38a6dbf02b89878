/**
 * What `share`, `get` and `blobs` have in common: where the node's blob store lives
 * (`--store DIR`, else `<data-dir>/blobs`) and the SHA-256 pool the store and the node share.
 */
import { join, resolve } from 'node:path';
import type { NodeConfig } from '../config.js';

export interface StoreFlags {
  dataDir?: string;
  /** Blob store directory (default `<data-dir>/blobs`). */
  store?: string;
  config?: string;
}

/** The store directory for these flags and config. */
export const storeDirOf = (opts: StoreFlags, cfg: Pick<NodeConfig, 'dataDir'>): string => resolve(opts.store ?? join(cfg.dataDir, 'blobs'));

/**
 * Opens the store with the process's shared hash pool (src/hash/shared.ts), retained until
 * `release()`; the same pool is the node's `runtime.hasher`. Throws IO_ERROR,
 * PERMISSION_DENIED, NOT_A_DIRECTORY (see BlobStore.open).
 */
export async function openStore(dir: string, hashThreads?: number) {
  const [{ sharedHashPool }, { BlobStore }] = await Promise.all([import('../hash/index.js'), import('../blobs/store.js')]);
  const handle = sharedHashPool(hashThreads);
  const pool = handle.retain();
  try {
    const store = await BlobStore.open(dir, { hasher: pool });
    return { store, pool, release: () => handle.release() };
  } catch (e) {
    await handle.release();
    throw e;
  }
}

/** `12345678` → `"12.3 MB"` (SI, as the lane's figures). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/** A tag name from a path's last part: characters a tag cannot hold become `_` (src/blobs/store.ts tag names). */
export function tagFromName(prefix: string, name: string): string {
  const clean = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '') || 'root';
  return `${prefix}-${clean}`.slice(0, 100);
}
