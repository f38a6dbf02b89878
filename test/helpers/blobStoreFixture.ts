/**
 * The blob store tests' fixture: a 4-block blob (the last block short) of deterministic bytes, a
 * scratch directory per test, a provider store holding the blob, and blocks copied from one store
 * to another the way a fetch imports them (each with its proof).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { BlobStore } from '../../src/blobs/store.js';
import { BLOCK_BYTES, blockCount, rootOf } from '../../src/blobs/tree.js';
import { deterministicBytes } from './simWorld.js';

/** A 3 MiB + 12,345-byte blob named by `seed`: its bytes, root and block count. */
export function fourBlockBlob(seed: string): { size: number; data: Uint8Array; root: Uint8Array; n: number } {
  const size = 3 * BLOCK_BYTES + 12_345;
  const data = deterministicBytes(seed, size);
  return { size, data, root: rootOf(data), n: blockCount(size) };
}

/** Registers a fresh scratch directory per test (removed after it); read `.path` inside a test. */
export function scratchDir(prefix: string): { readonly path: string } {
  let path = '';
  beforeEach(async () => {
    path = await mkdtemp(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    await rm(path, { recursive: true, force: true });
  });
  return {
    get path() {
      return path;
    },
  };
}

/** A store at `dir/provider` holding `data`. */
export async function providerStore(dir: string, data: Uint8Array): Promise<BlobStore> {
  const s = await BlobStore.open(join(dir, 'provider'));
  await s.add(data);
  return s;
}

/** Imports blocks `indexes` of `root` from `from` into `to` with their proofs; the putBlock outcomes. */
export async function copyBlocks(from: BlobStore, to: BlobStore, root: Uint8Array, indexes: number[], options: { defer?: boolean } = {}): Promise<string[]> {
  const out: string[] = [];
  for (const i of indexes) {
    const { data, proof } = await from.blockWithProof(root, i);
    out.push(await to.putBlock(root, i, data, proof, options));
  }
  return out;
}
