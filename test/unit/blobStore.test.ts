/**
 * The blob store (src/blobs/store.ts) on real files with fsync: add/read verified, import of
 * verified blocks, resume from the verified-block map without reading any verified byte again,
 * bad input refused with nothing written, disk full leaving the partial intact, tags and gc.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlobStore } from '../../src/blobs/store.js';
import { BLOCK_BYTES, rootHex, rootOf } from '../../src/blobs/tree.js';
import { leafOffset } from '../../src/blobs/files.js';
import { copyBlocks as copyBlocksOf, fourBlockBlob, providerStore, scratchDir } from '../helpers/blobStoreFixture.js';
import { deterministicBytes } from '../helpers/simWorld.js';
import { sha256Inline } from '../../src/hash/index.js';

const { size: SIZE, data: DATA, root: ROOT, n: N } = fourBlockBlob('blob-store');
const scratch = scratchDir('octopii-blobstore-');

const provider = () => providerStore(scratch.path, DATA);
const copyBlocks = (from: BlobStore, to: BlobStore, indexes: number[]) => copyBlocksOf(from, to, ROOT, indexes);

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });

describe('BlobStore add and read', () => {
  it('names added bytes by their tree root', async () => {
    const s = await BlobStore.open(scratch.path);
    expect(rootHex(await s.add(DATA))).toBe(rootHex(ROOT));
  });

  it('names an added file by the same root as the same bytes', async () => {
    await writeFile(join(scratch.path, 'in'), DATA);
    const s = await BlobStore.open(join(scratch.path, 'store'));
    expect(rootHex(await s.add(join(scratch.path, 'in')))).toBe(rootHex(ROOT));
  });

  it('stops an add on its signal with ABORTED, keeping nothing', async () => {
    const s = await BlobStore.open(scratch.path);
    const ac = new AbortController();
    ac.abort();
    await expect(s.add(DATA, { signal: ac.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    expect(await readdir(join(scratch.path, 'blobs'))).toEqual([]);
  });

  it('removes, on open, the map a crash left beside a blob that completed', async () => {
    const s = await BlobStore.open(scratch.path);
    await s.add(DATA);
    await writeFile(join(scratch.path, 'partial', `${rootHex(ROOT)}.map`), 'left over');
    await BlobStore.open(scratch.path);
    expect(await readdir(join(scratch.path, 'partial'))).toEqual([]);
  });

  it('reads a range across a block boundary', async () => {
    const s = await BlobStore.open(scratch.path);
    await s.add(DATA);
    const got = await s.read(ROOT, { offset: BLOCK_BYTES - 10, length: 20 });
    expect(Buffer.from(got).equals(Buffer.from(DATA.subarray(BLOCK_BYTES - 10, BLOCK_BYTES + 10)))).toBe(true);
  });

  it('refuses a range beyond the end with RANGE_NOT_SATISFIABLE', async () => {
    const s = await BlobStore.open(scratch.path);
    await s.add(DATA);
    await expect(s.read(ROOT, { offset: SIZE - 1, length: 2 })).rejects.toMatchObject({ code: 'RANGE_NOT_SATISFIABLE' });
  });

  it('reports a root it does not hold as BLOB_NOT_FOUND', async () => {
    const s = await BlobStore.open(scratch.path);
    await expect(s.read(ROOT, { offset: 0, length: 1 })).rejects.toMatchObject({ code: 'BLOB_NOT_FOUND' });
  });

  it('refuses a forged outboard (a leaf changed on disk) with BLOCK_MISMATCH', async () => {
    const s = await BlobStore.open(scratch.path);
    await s.add(DATA);
    const path = join(scratch.path, 'blobs', `${rootHex(ROOT)}.obao`);
    const ob = await readFile(path);
    ob[leafOffset(1)]! ^= 0xff;
    await writeFile(path, ob);
    const fresh = await BlobStore.open(scratch.path);
    await expect(fresh.read(ROOT, { offset: 0, length: 1 })).rejects.toMatchObject({ code: 'BLOCK_MISMATCH' });
  });

  it('refuses data corrupted on disk with BLOCK_MISMATCH', async () => {
    const s = await BlobStore.open(scratch.path);
    await s.add(DATA);
    const path = join(scratch.path, 'blobs', `${rootHex(ROOT)}.data`);
    const d = await readFile(path);
    d[2 * BLOCK_BYTES + 5]! ^= 1;
    await writeFile(path, d);
    await expect(s.read(ROOT, { offset: 2 * BLOCK_BYTES, length: 10 })).rejects.toMatchObject({ code: 'BLOCK_MISMATCH' });
  });
});

describe('BlobStore import of verified blocks', () => {
  it('completes a blob from blocks in any order', async () => {
    const p = await provider();
    const s = await BlobStore.open(join(scratch.path, 'fetcher'));
    await copyBlocks(p, s, [2, 0, 3, 1]);
    const all = await s.read(ROOT, { offset: 0, length: SIZE });
    expect(Buffer.from(all).equals(Buffer.from(DATA))).toBe(true);
  });

  it('refuses a block that does not verify and writes nothing', async () => {
    const p = await provider();
    const s = await BlobStore.open(join(scratch.path, 'fetcher'));
    const { data, proof } = await p.blockWithProof(ROOT, 1);
    const bad = data.slice();
    bad[100]! ^= 1;
    await expect(s.putBlock(ROOT, 1, bad, proof)).rejects.toMatchObject({ code: 'BLOCK_MISMATCH' });
    expect(await readdir(join(scratch.path, 'fetcher', 'partial'))).toEqual([]);
  });

  it('refuses a good block offered under another index', async () => {
    const p = await provider();
    const s = await BlobStore.open(join(scratch.path, 'fetcher'));
    const { data } = await p.blockWithProof(ROOT, 1);
    const { proof } = await p.blockWithProof(ROOT, 2);
    await expect(s.putBlock(ROOT, 2, data, proof)).rejects.toMatchObject({ code: 'BLOCK_MISMATCH' });
  });

  it('lists the missing blocks of a partial blob after a restart', async () => {
    const p = await provider();
    await copyBlocks(p, await BlobStore.open(join(scratch.path, 'fetcher')), [0, 1]);
    const again = await BlobStore.open(join(scratch.path, 'fetcher'));
    expect(await again.missing(ROOT)).toEqual([[2, N]]);
  });

  it('resumes after a restart without reading a verified byte from disk', async () => {
    const p = await provider();
    await copyBlocks(p, await BlobStore.open(join(scratch.path, 'fetcher')), [0, 1]);
    const again = await BlobStore.open(join(scratch.path, 'fetcher'));
    await copyBlocks(p, again, [2, 3]);
    expect({ read: again.stats.dataBytesRead, written: again.stats.dataBytesWritten }).toEqual({ read: 0, written: SIZE - 2 * BLOCK_BYTES });
  });

  it('resumes after a restart hashing only the blocks it did not hold', async () => {
    const p = await provider();
    await copyBlocks(p, await BlobStore.open(join(scratch.path, 'fetcher')), [0, 1]);
    let hashed = 0;
    const counting = { sha256: async (d: Uint8Array) => (hashed++, sha256Inline(d)) };
    const again = await BlobStore.open(join(scratch.path, 'fetcher'), { hasher: counting });
    await copyBlocks(p, again, [2, 3]);
    expect(hashed).toBe(2);
  });

  it('holds the resumed blob complete and intact', async () => {
    const p = await provider();
    await copyBlocks(p, await BlobStore.open(join(scratch.path, 'fetcher')), [0, 1]);
    const again = await BlobStore.open(join(scratch.path, 'fetcher'));
    await copyBlocks(p, again, [2, 3]);
    const all = await (await BlobStore.open(join(scratch.path, 'fetcher'))).read(ROOT, { offset: 0, length: SIZE });
    expect(Buffer.from(all).equals(Buffer.from(DATA))).toBe(true);
  });

  it('fails a block on a full disk with DISK_FULL, keeping the partial and its map', async () => {
    const p = await provider();
    let full = false;
    const s = await BlobStore.open(join(scratch.path, 'fetcher'), {
      beforeWrite: () => {
        if (full) throw enospc();
      },
    });
    await copyBlocks(p, s, [0, 1]);
    full = true;
    await expect(copyBlocks(p, s, [2])).rejects.toMatchObject({ code: 'DISK_FULL' });
    expect(await (await BlobStore.open(join(scratch.path, 'fetcher'))).missing(ROOT)).toEqual([[2, N]]);
  });

  it('finishes a blob once the disk has room again', async () => {
    const p = await provider();
    let full = false;
    const s = await BlobStore.open(join(scratch.path, 'fetcher'), {
      beforeWrite: () => {
        if (full) throw enospc();
      },
    });
    await copyBlocks(p, s, [0]);
    full = true;
    await copyBlocks(p, s, [1]).catch(() => undefined);
    full = false;
    expect(await copyBlocks(p, s, [1, 2, 3])).toEqual(['written', 'written', 'complete']);
  });

  it('takes a block it already holds as a duplicate, writing nothing', async () => {
    const p = await provider();
    const s = await BlobStore.open(join(scratch.path, 'fetcher'));
    await copyBlocks(p, s, [0]);
    const before = s.stats.dataBytesWritten;
    expect([await copyBlocks(p, s, [0]), s.stats.dataBytesWritten - before]).toEqual([['duplicate'], 0]);
  });
});

describe('BlobStore: a one-block blob from the network', () => {
  const SMALL = deterministicBytes('blob-store-small', 10_000);
  const SMALL_ROOT = rootOf(SMALL);
  const smallProvider = async () => {
    const s = await BlobStore.open(join(scratch.path, 'provider'));
    await s.add(SMALL);
    return s;
  };

  it('goes straight into blobs/: complete, readable, no partial or staging file left', async () => {
    const p = await smallProvider();
    const s = await BlobStore.open(join(scratch.path, 'fetcher'));
    const { data, proof } = await p.blockWithProof(SMALL_ROOT, 0);
    expect(await s.putBlock(SMALL_ROOT, 0, data, proof)).toBe('complete');
    const back = await (await BlobStore.open(join(scratch.path, 'fetcher'))).read(SMALL_ROOT, { offset: 0, length: SMALL.byteLength });
    expect({
      intact: Buffer.from(back).equals(Buffer.from(SMALL)),
      partial: await readdir(join(scratch.path, 'fetcher', 'partial')),
      tmp: await readdir(join(scratch.path, 'fetcher', 'tmp')),
    }).toEqual({ intact: true, partial: [], tmp: [] });
  });

  it('on a full disk fails with DISK_FULL and leaves nothing visible', async () => {
    const p = await smallProvider();
    const s = await BlobStore.open(join(scratch.path, 'fetcher'), {
      beforeWrite: (file) => {
        if (file === 'outboard') throw enospc();
      },
    });
    const { data, proof } = await p.blockWithProof(SMALL_ROOT, 0);
    await expect(s.putBlock(SMALL_ROOT, 0, data, proof)).rejects.toMatchObject({ code: 'DISK_FULL' });
    expect({ missing: await s.missing(SMALL_ROOT), tmp: await readdir(join(scratch.path, 'fetcher', 'tmp')) }).toEqual({ missing: null, tmp: [] });
  });
});

describe('BlobStore tags and gc', () => {
  it('collects untagged blobs and keeps tagged ones', async () => {
    const s = await BlobStore.open(scratch.path);
    const kept = await s.add(deterministicBytes('kept', 1000), { tag: 'kept' });
    const gone = await s.add(deterministicBytes('gone', 1000));
    expect(await s.gc()).toEqual([rootHex(gone)]);
    expect(await s.has(kept)).toBe(true);
  });

  it('keeps a pinned partial blob through gc', async () => {
    const p = await provider();
    const s = await BlobStore.open(join(scratch.path, 'fetcher'));
    const release = s.pin(ROOT);
    await copyBlocks(p, s, [0]);
    expect(await s.gc()).toEqual([]);
    release();
  });

  it('collects an unpinned, untagged partial blob', async () => {
    const p = await provider();
    const s = await BlobStore.open(join(scratch.path, 'fetcher'));
    await copyBlocks(p, s, [0]);
    await s.gc();
    expect(await s.missing(ROOT)).toBeNull();
  });

  it('refuses a tag name that is a path', async () => {
    const s = await BlobStore.open(scratch.path);
    await expect(s.setTag('../escape', ROOT)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
