/** Collections (src/blobs/collection.ts): a directory round trip, unsafe manifests refused. */
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addDirectory, exportCollection, readCollection } from '../../src/blobs/collection.js';
import { listBlobs } from '../../src/blobs/inventory.js';
import { keptRoots } from '../../src/blobs/liveness.js';
import { BlobStore } from '../../src/blobs/store.js';
import { rootHex, rootOf } from '../../src/blobs/tree.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'octopii-collection-'));
  await mkdir(join(dir, 'in', 'sub', 'deeper'), { recursive: true });
  await writeFile(join(dir, 'in', 'a.txt'), 'alpha');
  await writeFile(join(dir, 'in', 'sub', 'b.bin'), new Uint8Array(3000).fill(7));
  await writeFile(join(dir, 'in', 'sub', 'deeper', 'c'), '');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const manifestWith = (path: string) =>
  new TextEncoder().encode(JSON.stringify({ 'octopii-collection': 1, entries: [{ path, root: rootHex(rootOf(new Uint8Array(0))), size: 0 }] }));

describe('collections', () => {
  it('lists every file of a directory with its root and size', async () => {
    const store = await BlobStore.open(join(dir, 'store'));
    const { root } = await addDirectory(store, join(dir, 'in'), { tag: 'tree' });
    expect((await readCollection(store, root)).map((e) => [e.path, e.size])).toEqual([
      ['a.txt', 5],
      ['sub/b.bin', 3000],
      ['sub/deeper/c', 0],
    ]);
  });

  it('exports the files byte for byte', async () => {
    const store = await BlobStore.open(join(dir, 'store'));
    const { root } = await addDirectory(store, join(dir, 'in'), { tag: 'tree' });
    await exportCollection(store, root, join(dir, 'out'));
    expect(await readFile(join(dir, 'out', 'sub', 'b.bin'))).toEqual(await readFile(join(dir, 'in', 'sub', 'b.bin')));
  });

  it('keeps the members of a tagged collection through gc', async () => {
    const store = await BlobStore.open(join(dir, 'store'));
    await addDirectory(store, join(dir, 'in'), { tag: 'tree' });
    expect(await store.gc()).toEqual([]);
  });

  it('writes one tag for a whole directory', async () => {
    const store = await BlobStore.open(join(dir, 'store'));
    const { root } = await addDirectory(store, join(dir, 'in'), { tag: 'tree' });
    expect([...(await store.tags())]).toEqual([['tree', rootHex(root)]]);
  });

  it('collects the members once the collection is untagged, all but one another tag names', async () => {
    const store = await BlobStore.open(join(dir, 'store'));
    const { root, entries } = await addDirectory(store, join(dir, 'in'), { tag: 'tree' });
    const b = entries.find((e) => e.path === 'sub/b.bin')!;
    await store.add(await readFile(join(dir, 'in', 'sub', 'b.bin')), { tag: 'b' });
    await store.setTag('tree', null);
    const removed = await store.gc();
    expect(removed.sort()).toEqual([rootHex(root), ...entries.filter((e) => e !== b).map((e) => e.root)].sort());
  });

  it('keeps the members of a tagged manifest before they arrive (a get in progress), naming the collection that keeps them', async () => {
    const store = await BlobStore.open(join(dir, 'store'));
    const { root, entries } = await addDirectory(store, join(dir, 'in'), { tag: 'tree' });
    const other = await BlobStore.open(join(dir, 'other'));
    await other.add(await store.read(root, { offset: 0, length: await store.size(root) }), { tag: 'got' });
    const kept = await keptRoots(other);
    expect(entries.map((e) => kept.get(e.root))).toEqual(entries.map(() => ({ tags: [], collections: ['got'] })));
  });

  it('lists a member with the collection that keeps it', async () => {
    const store = await BlobStore.open(join(dir, 'store'));
    const { entries } = await addDirectory(store, join(dir, 'in'), { tag: 'tree' });
    const row = (await listBlobs(store)).find((b) => b.root === entries[0]!.root);
    expect([row?.tags, row?.collections]).toEqual([[], ['tree']]);
  });

  it.each(['../escape', '/etc/passwd', 'a/../../b', 'a//b', 'a\\b', './a'])('refuses a manifest with the path %j, writing nothing', async (path) => {
    const store = await BlobStore.open(join(dir, 'store'));
    const root = await store.add(manifestWith(path));
    await expect(exportCollection(store, root, join(dir, 'out'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await readdir(dir)).not.toContain('out');
  });
});

describe('collections keep the executable bit', () => {
  it('a file with an execute bit comes out 0755, the others 0644', async () => {
    await chmod(join(dir, 'in', 'a.txt'), 0o700);
    await chmod(join(dir, 'in', 'sub', 'b.bin'), 0o600);
    const store = await BlobStore.open(join(dir, 'store'));
    const { root } = await addDirectory(store, join(dir, 'in'), { tag: 'tree' });
    await exportCollection(store, root, join(dir, 'out'));
    const modes = await Promise.all(['a.txt', 'sub/b.bin', 'sub/deeper/c'].map(async (p) => ((await stat(join(dir, 'out', p))).mode & 0o777).toString(8)));
    expect(modes).toEqual(['755', '644', '644']);
  });

  it('refuses a manifest with any other mode', async () => {
    const store = await BlobStore.open(join(dir, 'store'));
    const manifest = { 'octopii-collection': 1, entries: [{ path: 'x', root: rootHex(rootOf(new Uint8Array(0))), size: 0, mode: 0o4755 }] };
    const root = await store.add(new TextEncoder().encode(JSON.stringify(manifest)));
    await expect(readCollection(store, root)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
