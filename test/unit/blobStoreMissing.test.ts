/**
 * BlobStore.missing (src/blobs/store.ts) while another caller's last block is landing: it says
 * `[]` only once the blob is in blobs/ and readable — a multi-source or concurrent fetch that
 * asks right after the last block's bits are durable must not report a blob complete that a
 * read then cannot find (seen as BLOB_NOT_FOUND after a complete multi-source fetch).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobStore } from '../../src/blobs/store.js';
import { copyBlocks } from '../helpers/blobStoreFixture.js';
import { deterministicBytes } from '../helpers/simWorld.js';

const KIB = 1024;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'octopii-blobmissing-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('missing() while the last block lands', () => {
  it('returns [] only once the blob is complete and readable (it finishes the move into blobs/ itself)', async () => {
    const B = 16 * KIB;
    const data = deterministicBytes('blob-last-block', 4 * B);
    const p = await BlobStore.open(join(dir, 'p'));
    const root = await p.add(data, { blockBytes: B });
    const f = await BlobStore.open(join(dir, 'f'));
    await copyBlocks(p, f, root, [0, 1, 2]);
    const { data: last, proof } = await p.blockWithProof(root, 3);
    const landing = f.putBlock(root, 3, last, proof);
    let missing: Array<[number, number]> | null = [[3, 4]];
    // Polled as another caller would: each ask a turn of the event loop (the landing's file I/O runs between them).
    while (missing === null || missing.length > 0) {
      await new Promise((r) => setImmediate(r));
      missing = await f.missing(root);
    }
    const readableThen = await f.has(root);
    await landing;
    expect({ missing, readableThen }).toEqual({ missing: [], readableThen: true });
  });
});
