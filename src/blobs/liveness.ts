/**
 * What keeps a blob alive through gc: a tag naming it, or a tag naming a complete collection
 * manifest that lists it — one tag holds a whole tree, as iroh-blobs' HashSeq tags hold their
 * children, so a collection of 7,830 files costs one tag file (one write and two fdatasyncs)
 * rather than one per member. Pins (in-memory holds of a running fetch or add) are the store's.
 *
 * A tagged blob is a manifest when its first bytes open one (`{"octopii-collection":`); it is
 * then read verified and decoded (src/blobs/collection.ts). A manifest that does not decode keeps
 * only itself.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeManifest, MANIFEST_PREFIX } from './collection.js';
import type { BlobStore } from './store.js';
import { parseRoot } from './tree.js';

/** Why a root is kept: the tags naming it, and the tags of the collections listing it. */
export interface Keepers {
  tags: string[];
  collections: string[];
}

/** The members (root hex) of the complete collection manifest `hex`; [] when it is not one. */
async function membersOf(store: BlobStore, hex: string): Promise<string[]> {
  const head = new Uint8Array(MANIFEST_PREFIX.byteLength);
  let fh;
  try {
    fh = await open(join(store.dir, 'blobs', `${hex}.data`), 'r');
  } catch {
    return []; // partial, or gone
  }
  try {
    const { bytesRead } = await fh.read(head, 0, head.byteLength, 0);
    if (bytesRead < head.byteLength || !head.every((b, i) => b === MANIFEST_PREFIX[i])) return [];
  } finally {
    await fh.close();
  }
  try {
    const root = parseRoot(hex);
    return decodeManifest(await store.read(root, { offset: 0, length: await store.size(root) })).map((e) => e.root);
  } catch {
    return [];
  }
}

/**
 * Every root a tag keeps alive, with why: root hex → {@link Keepers}. Reads each tagged blob's
 * first bytes, and the whole of each tagged manifest. Throws IO_ERROR (the tags directory).
 */
export async function keptRoots(store: BlobStore): Promise<Map<string, Keepers>> {
  const out = new Map<string, Keepers>();
  const entry = (hex: string) => {
    let k = out.get(hex);
    if (!k) out.set(hex, (k = { tags: [], collections: [] }));
    return k;
  };
  const tags = await store.tags();
  const manifests = new Map<string, string[]>();
  for (const [name, hex] of tags) {
    entry(hex).tags.push(name);
    if (!manifests.has(hex)) manifests.set(hex, await membersOf(store, hex));
    for (const m of manifests.get(hex)!) if (m !== hex && !entry(m).collections.includes(name)) entry(m).collections.push(name);
  }
  return out;
}
