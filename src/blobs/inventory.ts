/**
 * What a blob store holds, for `octopii blobs list`: every complete and partial blob with its
 * size, the verified blocks of a partial, the tags naming it and the tagged collections listing it. Reads only the outboard
 * headers and the verified-block maps (src/blobs/files.ts formats), never blob data.
 */
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toOctopiiError } from '../errors.js';
import { bitSet, decodeMap, decodeOutboardHeader, OUTBOARD_HEADER_BYTES } from './files.js';
import { keptRoots } from './liveness.js';
import type { BlobStore } from './store.js';
import { blockCount } from './tree.js';

export interface BlobListing {
  /** Root, hex. */
  root: string;
  /** Blob size, bytes. */
  size: number;
  /** `complete`, or `partial` with `blocks` of `totalBlocks` verified. */
  state: 'complete' | 'partial';
  blocks: number;
  totalBlocks: number;
  /** Tags naming this root, sorted. */
  tags: string[];
  /** Tags of the collections listing this root (they keep it through gc too), sorted. */
  collections: string[];
}

async function header(path: string): Promise<{ size: number; blockBytes: number }> {
  const fh = await open(path, 'r');
  try {
    const head = new Uint8Array(OUTBOARD_HEADER_BYTES);
    await fh.read(head, 0, OUTBOARD_HEADER_BYTES, 0);
    return decodeOutboardHeader(head);
  } finally {
    await fh.close();
  }
}

/**
 * Every blob in `store`, complete ones first, each group sorted by root. A blob whose files
 * vanish while listing (a concurrent gc) is left out. Throws IO_ERROR, BLOCK_MISMATCH (a
 * damaged outboard header).
 */
export async function listBlobs(store: BlobStore): Promise<BlobListing[]> {
  const kept = await keptRoots(store);
  const out: BlobListing[] = [];
  try {
    for (const where of ['blobs', 'partial'] as const) {
      const names = await readdir(join(store.dir, where));
      const roots = [...new Set(names.filter((f) => f.endsWith(where === 'blobs' ? '.data' : '.map')).map((f) => f.split('.')[0]!))].sort();
      for (const hex of roots) {
        try {
          const h = await header(join(store.dir, where, `${hex}.obao`));
          const totalBlocks = blockCount(h.size, h.blockBytes);
          let blocks = totalBlocks;
          if (where === 'partial') {
            const bits = decodeMap(new Uint8Array(await readFile(join(store.dir, where, `${hex}.map`))), totalBlocks);
            blocks = 0;
            for (let i = 0; i < totalBlocks; i++) if (bitSet(bits, i)) blocks++;
          }
          out.push({ root: hex, size: h.size, state: where === 'blobs' ? 'complete' : 'partial', blocks, totalBlocks, tags: [...(kept.get(hex)?.tags ?? [])].sort(), collections: [...(kept.get(hex)?.collections ?? [])].sort() });
        } catch (e) {
          if ((e as { code?: string }).code !== 'ENOENT') throw e;
        }
      }
    }
  } catch (e) {
    throw toOctopiiError(e, 'IO_ERROR');
  }
  return out;
}
