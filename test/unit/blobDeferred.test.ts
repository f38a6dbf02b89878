/**
 * Deferred landing of verified blocks (src/blobs/landing.ts, what a fetch session uses): held at
 * once, durable only at a commit; a crash before it (a store reopened on the same directory)
 * never finds a map bit for a block that was not durable. Hashing in place (headroom). Export
 * by kernel copy, verified (src/blobs/collection.ts, BlobStore.verifyFile).
 */
import { chmod, mkdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { addDirectory, exportCollection } from '../../src/blobs/collection.js';
import { BlobStore } from '../../src/blobs/store.js';
import { BLOCK_BYTES, LEAF_PREFIX_BYTES } from '../../src/blobs/tree.js';
import { copyBlocks, fourBlockBlob, providerStore, scratchDir } from '../helpers/blobStoreFixture.js';

const { size: SIZE, data: DATA, root: ROOT, n: N } = fourBlockBlob('blob-deferred');
const scratch = scratchDir('octopii-blobdeferred-');

const provider = () => providerStore(scratch.path, DATA);
const putDeferred = (from: BlobStore, to: BlobStore, indexes: number[]) => copyBlocks(from, to, ROOT, indexes, { defer: true });

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
/** What a restart after a crash would find: a second store on the same directory, reading the map on disk. */
const afterCrash = async () => (await BlobStore.open(join(scratch.path, 'fetcher'))).missing(ROOT);

describe('deferred landing', () => {
  it('holds a deferred block at once: the same store does not ask for it again', async () => {
    const p = await provider();
    const s = await BlobStore.open(join(scratch.path, 'fetcher'));
    expect({ put: await putDeferred(p, s, [0, 1]), missing: await s.missing(ROOT) }).toEqual({ put: ['written', 'written'], missing: [[2, N]] });
  });

  it('a crash before the commit finds no map bit for the deferred blocks', async () => {
    const p = await provider();
    await putDeferred(p, await BlobStore.open(join(scratch.path, 'fetcher')), [0, 1]);
    expect(await afterCrash()).toEqual([[0, N]]);
  });

  it('a crash after flush() finds the committed blocks held', async () => {
    const p = await provider();
    const s = await BlobStore.open(join(scratch.path, 'fetcher'));
    await putDeferred(p, s, [0, 1]);
    await s.flush(ROOT);
    expect(await afterCrash()).toEqual([[2, N]]);
  });

  it('a failed commit (the map write fails) claims nothing on disk and drops the blocks from memory, to be fetched again', async () => {
    const p = await provider();
    let full = false;
    const s = await BlobStore.open(join(scratch.path, 'fetcher'), {
      beforeWrite: (file) => {
        if (full && file === 'map') throw enospc();
      },
    });
    await putDeferred(p, s, [0, 1]);
    full = true;
    await expect(s.flush(ROOT)).rejects.toMatchObject({ code: 'DISK_FULL' });
    expect({ memory: await s.missing(ROOT), disk: await afterCrash() }).toEqual({ memory: [[0, N]], disk: [[0, N]] });
  });

  it('after a failed commit, the same blocks land again and commit', async () => {
    const p = await provider();
    let full = false;
    const s = await BlobStore.open(join(scratch.path, 'fetcher'), {
      beforeWrite: (file) => {
        if (full && file === 'map') throw enospc();
      },
    });
    await putDeferred(p, s, [0, 1]);
    full = true;
    await s.flush(ROOT).catch(() => undefined);
    full = false;
    expect(await putDeferred(p, s, [0, 1])).toEqual(['written', 'written']);
    await s.flush(ROOT);
    expect(await afterCrash()).toEqual([[2, N]]);
  });

  it('a block whose data write fails is not held', async () => {
    const p = await provider();
    let full = false;
    const s = await BlobStore.open(join(scratch.path, 'fetcher'), {
      beforeWrite: (file) => {
        if (full && file === 'data') throw enospc();
      },
    });
    await putDeferred(p, s, [0]);
    full = true;
    await expect(putDeferred(p, s, [1])).rejects.toMatchObject({ code: 'DISK_FULL' });
    expect(await s.missing(ROOT)).toEqual([[1, N]]);
  });

  it('the last deferred block completes the blob durably: a restarted store reads it intact', async () => {
    const p = await provider();
    const s = await BlobStore.open(join(scratch.path, 'fetcher'));
    expect(await putDeferred(p, s, [3, 1, 0, 2])).toEqual(['written', 'written', 'written', 'complete']);
    const again = await BlobStore.open(join(scratch.path, 'fetcher'));
    expect(Buffer.from(await again.read(ROOT, { offset: 0, length: SIZE })).equals(Buffer.from(DATA))).toBe(true);
  });

  it('flush() of a blob with nothing deferred, or unknown, resolves', async () => {
    const s = await BlobStore.open(join(scratch.path, 'fetcher'));
    await expect(s.flush(ROOT)).resolves.toBeUndefined();
  });
});

describe('hashing in place', () => {
  it('a block given with headroom verifies and lands; its bytes are left as they were', async () => {
    const p = await provider();
    const s = await BlobStore.open(join(scratch.path, 'fetcher'));
    const { data, proof } = await p.blockWithProof(ROOT, 1);
    const buf = new Uint8Array(new SharedArrayBuffer(LEAF_PREFIX_BYTES + data.byteLength));
    const view = buf.subarray(LEAF_PREFIX_BYTES);
    view.set(data);
    expect({ put: await s.putBlock(ROOT, 1, view, proof, { headroom: true }), intact: Buffer.from(view).equals(Buffer.from(data)) }).toEqual({ put: 'written', intact: true });
  });

  it('a corrupted block given with headroom is refused with BLOCK_MISMATCH', async () => {
    const p = await provider();
    const s = await BlobStore.open(join(scratch.path, 'fetcher'));
    const { data, proof } = await p.blockWithProof(ROOT, 1);
    const buf = new Uint8Array(LEAF_PREFIX_BYTES + data.byteLength);
    buf.set(data, LEAF_PREFIX_BYTES);
    buf[LEAF_PREFIX_BYTES + 5]! ^= 1;
    await expect(s.putBlock(ROOT, 1, buf.subarray(LEAF_PREFIX_BYTES), proof, { headroom: true })).rejects.toMatchObject({ code: 'BLOCK_MISMATCH' });
  });
});

describe('export by copy, verified', () => {
  beforeEach(async () => {
    await mkdir(join(scratch.path, 'in', 'sub'), { recursive: true });
    await writeFile(join(scratch.path, 'in', 'big.bin'), DATA);
    await writeFile(join(scratch.path, 'in', 'sub', 'run.sh'), '#!/bin/sh\necho hi\n');
    await chmod(join(scratch.path, 'in', 'sub', 'run.sh'), 0o755);
  });

  it('writes every file byte for byte, a multi-block one too', async () => {
    const store = await BlobStore.open(join(scratch.path, 'store'));
    const { root } = await addDirectory(store, join(scratch.path, 'in'), { tag: 'tree' });
    await exportCollection(store, root, join(scratch.path, 'out'));
    expect({
      big: (await readFile(join(scratch.path, 'out', 'big.bin'))).equals(Buffer.from(DATA)),
      small: (await readFile(join(scratch.path, 'out', 'sub', 'run.sh'), 'utf8')) === '#!/bin/sh\necho hi\n',
    }).toEqual({ big: true, small: true });
  });

  it('gives the copies their manifest modes, not the store files’', async () => {
    const store = await BlobStore.open(join(scratch.path, 'store'));
    const { root } = await addDirectory(store, join(scratch.path, 'in'), { tag: 'tree' });
    await exportCollection(store, root, join(scratch.path, 'out'));
    expect([(await stat(join(scratch.path, 'out', 'big.bin'))).mode & 0o777, (await stat(join(scratch.path, 'out', 'sub', 'run.sh'))).mode & 0o777]).toEqual([0o644, 0o755]);
  });

  it('overwrites an existing file at the target with the blob', async () => {
    const store = await BlobStore.open(join(scratch.path, 'store'));
    const { root } = await addDirectory(store, join(scratch.path, 'in'), { tag: 'tree' });
    await mkdir(join(scratch.path, 'out'));
    await writeFile(join(scratch.path, 'out', 'big.bin'), 'x'.repeat(SIZE + 100));
    await exportCollection(store, root, join(scratch.path, 'out'));
    expect((await readFile(join(scratch.path, 'out', 'big.bin'))).equals(Buffer.from(DATA))).toBe(true);
  });

  it('verifyFile accepts an intact copy', async () => {
    const store = await BlobStore.open(join(scratch.path, 'store'));
    const r = await store.add(DATA);
    await writeFile(join(scratch.path, 'copy'), DATA);
    await expect(store.verifyFile(r, join(scratch.path, 'copy'))).resolves.toBeUndefined();
  });

  it('verifyFile refuses a copy with one byte changed (BLOCK_MISMATCH)', async () => {
    const store = await BlobStore.open(join(scratch.path, 'store'));
    const r = await store.add(DATA);
    const bad = Buffer.from(DATA);
    bad[2 * BLOCK_BYTES + 77]! ^= 1;
    await writeFile(join(scratch.path, 'copy'), bad);
    await expect(store.verifyFile(r, join(scratch.path, 'copy'))).rejects.toMatchObject({ code: 'BLOCK_MISMATCH' });
  });

  it('verifyFile refuses a copy of another size (BLOCK_MISMATCH)', async () => {
    const store = await BlobStore.open(join(scratch.path, 'store'));
    const r = await store.add(DATA);
    await writeFile(join(scratch.path, 'copy'), DATA);
    await truncate(join(scratch.path, 'copy'), SIZE - 1);
    await expect(store.verifyFile(r, join(scratch.path, 'copy'))).rejects.toMatchObject({ code: 'BLOCK_MISMATCH' });
  });
});
