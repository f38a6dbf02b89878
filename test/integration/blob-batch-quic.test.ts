/**
 * Batched collection fetch over real QUIC (quinn) between nodes on 127.0.0.1, real stores in
 * os.tmpdir() with fsync: a collection of 600 small files (and one of 2.5 MiB) comes in a few
 * streams — one per batch of small members — each blob verified against its own root; what the
 * store holds is not asked again; one root the provider lacks fails that root alone; a wrong
 * block in a batch keeps nothing unverified and the blob is fetched again on its own; and a
 * provider that refuses batches (as one that predates them) is asked one blob per stream.
 */
import { mkdir, rm as rmFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDirectory, type CollectionEntry } from '../../src/blobs/collection.js';
import { BATCH_MAX_BLOBS, COLLECTION_BATCHES_IN_FLIGHT, fetchCollection } from '../../src/blobs/fetchCollection.js';
import { serveBlobs, type ServeBlobsOptions } from '../../src/blobs/provide.js';
import { BlobStore } from '../../src/blobs/store.js';
import { BLOCK_BYTES, parseRoot, rootHex } from '../../src/blobs/tree.js';
import type { OctopiiNode } from '../../src/node.js';
import type { ActorNode } from '../../src/node/inspect.js';
import { NodePool, rm, tempDir } from '../helpers/laneFixtures.js';
import { deterministicBytes } from '../helpers/simWorld.js';

const SMALL = 600;
/** File i: 0 to ~8 kB; files 0, 50, 100 … have the same bytes (one blob for 12 files). */
const smallBytes = (i: number) => {
  const k = i % 50 === 0 ? 50 : i;
  return deterministicBytes(`batch-${k}`, (k * 137) % 8192);
};
const BIG = deterministicBytes('batch-big', 2 * BLOCK_BYTES + BLOCK_BYTES / 2);

describe('batched collection fetch over quinn (real QUIC)', () => {
  let root: string;
  let pool: NodePool;
  let srcStore: BlobStore;
  let collection: Uint8Array;
  let entries: CollectionEntry[];
  let seq = 0;
  const peerOf = (n: OctopiiNode) => ({ address: n.address, nodeId: n.nodeId });
  /** Distinct member roots of the collection. */
  const distinct = () => new Set(entries.map((e) => e.root));
  const smallRoots = () => new Set(entries.filter((e) => e.size <= BLOCK_BYTES).map((e) => e.root)).size;

  /** A provider node serving `store`, counting the `blobs` streams it is asked on and the block bytes it sends. */
  async function provider(store: BlobStore, options: ServeBlobsOptions = {}) {
    const node = await pool.start({ transport: 'quinn' });
    const seen = { streams: 0, sent: 0 };
    const register = node.router.register.bind(node.router);
    node.router.register = (kind, handler) => register(kind, (stream, ctx) => (kind === 'blobs' && seen.streams++, handler(stream, ctx)));
    serveBlobs(node, store, { ...options, onBlock: (_i, bytes) => (seen.sent += bytes) });
    return { node, seen };
  }

  async function fetcher() {
    const node = await pool.start({ transport: 'quinn' });
    const store = await BlobStore.open(join(root, `fetcher-${++seq}`));
    return { node, store };
  }

  beforeAll(async () => {
    root = await tempDir('octopii-blob-batch-');
    pool = new NodePool(root);
    const dir = join(root, 'tree');
    await mkdir(join(dir, 'sub'), { recursive: true });
    for (let i = 0; i < SMALL; i++) await writeFile(join(dir, i % 2 ? 'sub' : '', `f${i}.txt`), smallBytes(i));
    await writeFile(join(dir, 'big.bin'), BIG);
    srcStore = await BlobStore.open(join(root, 'provider'));
    ({ root: collection, entries } = await addDirectory(srcStore, dir, { tag: 'tree' }));
  });
  afterAll(async () => {
    await pool.stopAll();
    await rm(root, { recursive: true, force: true });
  });

  it('fetches 600 small files in batches: one stream for the manifest, one per batch, one for the large file; every blob held and sent once', async () => {
    const p = await provider(srcStore);
    const f = await fetcher();
    const r = await fetchCollection(f.node, [peerOf(p.node)], collection, f.store, { tag: 'got' });
    const held = await Promise.all([...distinct()].map((h) => f.store.has(parseRoot(h))));
    const bytes = [...new Map(entries.map((e) => [e.root, e.size])).values()].reduce((a, b) => a + b, 0);
    expect({ status: r.status, held: held.every(Boolean), streams: p.seen.streams, sent: p.seen.sent, fetched: r.fetchedBytes - (await f.store.size(collection)) }).toEqual({
      status: 'complete',
      held: true,
      streams: 1 + Math.ceil(smallRoots() / BATCH_MAX_BLOBS) + 1,
      sent: (await srcStore.size(collection)) + bytes,
      fetched: bytes,
    });
  });

  it('asks nothing the store already holds', async () => {
    const p = await provider(srcStore);
    const f = await fetcher();
    // The fetcher already holds files 1..199 (added at the same block size: the same roots).
    let held = 0;
    const have = new Set<string>();
    for (let i = 1; i < 200; i++) {
      const r = rootHex(await f.store.add(smallBytes(i)));
      if (!have.has(r)) held += smallBytes(i).byteLength;
      have.add(r);
    }
    const r = await fetchCollection(f.node, [peerOf(p.node)], collection, f.store, { tag: 'got' });
    const bytes = [...new Map(entries.map((e) => [e.root, e.size])).values()].reduce((a, b) => a + b, 0);
    expect({ status: r.status, sent: p.seen.sent }).toEqual({ status: 'complete', sent: (await srcStore.size(collection)) + bytes - held });
  });

  it('a root the provider lacks fails alone: every other member lands, the fetch fails BLOB_NOT_FOUND for that root', async () => {
    const dir = join(root, 'provider-missing');
    const partial = await BlobStore.open(dir);
    const { root: coll, entries: es } = await addDirectory(partial, join(root, 'tree'), { tag: 'tree' });
    const gone = es.find((e) => e.path === 'f7.txt' || e.path === 'sub/f7.txt')!.root;
    for (const ext of ['data', 'obao']) await rmFile(join(dir, 'blobs', `${gone}.${ext}`));
    const p = await provider(await BlobStore.open(dir));
    const f = await fetcher();
    const r = await fetchCollection(f.node, [peerOf(p.node)], coll, f.store, { tag: 'got' });
    const others = await Promise.all([...new Set(es.map((e) => e.root))].filter((h) => h !== gone).map((h) => f.store.has(parseRoot(h))));
    expect({ status: r.status, code: r.error?.code, names: r.error?.message.includes(gone), others: others.every(Boolean), missing: await f.store.has(parseRoot(gone)) }).toEqual({
      status: 'failed',
      code: 'BLOB_NOT_FOUND',
      names: true,
      others: true,
      missing: false,
    });
  });

  it('a wrong block in a batch: nothing unverified is kept, the batch ends, the blob is fetched again on its own and lands intact', async () => {
    const victim = entries.find((e) => e.path === 'sub/f3.txt')!;
    let tampered = 0;
    const p = await provider(srcStore, {
      tamper: (_i, data, r) => {
        if (rootHex(r) !== victim.root || tampered > 0) return data;
        tampered++;
        const bad = data.slice();
        bad[0]! ^= 0xff;
        return bad;
      },
    });
    const f = await fetcher();
    const r = await fetchCollection(f.node, [peerOf(p.node)], collection, f.store, { tag: 'got' });
    const back = await f.store.read(parseRoot(victim.root), { offset: 0, length: victim.size });
    expect({ status: r.status, tampered, intact: Buffer.from(back).equals(Buffer.from(smallBytes(3))) }).toEqual({ status: 'complete', tampered: 1, intact: true });
  });

  it('falls back to one blob per stream from a provider that refuses batches', async () => {
    const p = await provider(srcStore, { batches: false });
    const f = await fetcher();
    const r = await fetchCollection(f.node, [peerOf(p.node)], collection, f.store, { tag: 'got' });
    const held = await Promise.all([...distinct()].map((h) => f.store.has(parseRoot(h))));
    const batches = Math.ceil(smallRoots() / BATCH_MAX_BLOBS);
    expect({ status: r.status, held: held.every(Boolean), streams: p.seen.streams }).toEqual({
      status: 'complete',
      held: true,
      // the manifest, the batches refused before the first refusal came back, then every member on its own
      streams: 1 + Math.min(COLLECTION_BATCHES_IN_FLIGHT, batches) + distinct().size,
    });
  });

  it('from two providers, one of which refuses batches: every member lands, each provider serving some', async () => {
    const old = await provider(srcStore, { batches: false });
    const fresh = await provider(srcStore);
    const f = await fetcher();
    const r = await fetchCollection(f.node, [peerOf(old.node), peerOf(fresh.node)], collection, f.store, { tag: 'got' });
    const held = await Promise.all([...distinct()].map((h) => f.store.has(parseRoot(h))));
    expect({ status: r.status, held: held.every(Boolean), oldServed: old.seen.sent > 0, freshServed: fresh.seen.sent > 0 }).toEqual({ status: 'complete', held: true, oldServed: true, freshServed: true });
  });

  it('the batch is a machine in node.inspect() while it runs', async () => {
    const slow = await provider(srcStore, { beforeSend: () => new Promise((r) => setTimeout(r, 2)) });
    const f = await fetcher();
    const seen = new Set<string>();
    const walk = (n: ActorNode): void => {
      if (n.machine === 'blobBatch') seen.add(n.state);
      n.children.forEach(walk);
    };
    const r = await fetchCollection(f.node, [peerOf(slow.node)], collection, f.store, { tag: 'got', onProgress: () => walk(f.node.inspect().tree) });
    expect({ status: r.status, streaming: seen.has('session.streaming.flowing') }).toEqual({ status: 'complete', streaming: true });
  });
});
