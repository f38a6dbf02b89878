/**
 * Blob fetch over real QUIC (quinn) between two nodes on 127.0.0.1, real stores in os.tmpdir()
 * with fsync, hashing in a HashPool: a whole fetch, and a fetch stopped after two blocks then
 * started again, which asks the provider only for the blocks the fetcher lacks; from a provider
 * on a loopback address blocks travel uncompressed unless compression is asked for.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBlob } from '../../src/blobs/fetch.js';
import { serveBlobs } from '../../src/blobs/provide.js';
import { BlobStore } from '../../src/blobs/store.js';
import { BLOCK_BYTES } from '../../src/blobs/tree.js';
import { HashPool } from '../../src/hash/index.js';
import type { OctopiiNode } from '../../src/node.js';
import { NodePool, rm, tempDir } from '../helpers/laneFixtures.js';
import { deterministicBytes } from '../helpers/simWorld.js';

const SIZE = 5 * BLOCK_BYTES + 7;
const DATA = deterministicBytes('blob-quic', SIZE);

describe('blob fetch over quinn (real QUIC)', () => {
  let root: string;
  let pool: NodePool;
  let hashPool: HashPool;
  let provider: OctopiiNode;
  let store: BlobStore;
  let blobRoot: Uint8Array;
  let sent = 0;
  const peerOf = (n: OctopiiNode) => ({ address: n.address, nodeId: n.nodeId });

  beforeAll(async () => {
    root = await tempDir('octopii-blob-quic-');
    pool = new NodePool(root);
    hashPool = new HashPool({ threads: 2 });
    store = await BlobStore.open(join(root, 'provider'), { hasher: hashPool });
    await writeFile(join(root, 'input'), DATA);
    blobRoot = await store.add(join(root, 'input'), { tag: 'input' });
    provider = await pool.start({ transport: 'quinn' });
    serveBlobs(provider, store, { onBlock: (_i, bytes) => (sent += bytes) });
  });
  afterAll(async () => {
    await pool.stopAll();
    await hashPool.destroy();
    await rm(root, { recursive: true, force: true });
  });

  it('fetches a 5 MiB blob and holds it byte for byte', async () => {
    const fetcher = await pool.start({ transport: 'quinn' });
    const mine = await BlobStore.open(join(root, 'fetcher-1'), { hasher: hashPool });
    const r = await fetchBlob(fetcher, peerOf(provider), blobRoot, mine);
    const back = await mine.read(blobRoot, { offset: 0, length: SIZE });
    expect({ status: r.status, intact: Buffer.from(back).equals(Buffer.from(DATA)) }).toEqual({ status: 'complete', intact: true });
  });

  it('from a provider on 127.0.0.1 gets compressible blocks as they are by default, compressed when compression is true', async () => {
    const text = new TextEncoder().encode('octopii ships verified blocks. '.repeat(100_000)); // 3.1 MB, brotli takes it to a sliver
    const textRoot = await store.add(text);
    const fetcher = await pool.start({ transport: 'quinn' });
    const wire = { byDefault: 0, asked: 0 };
    const a = await fetchBlob(fetcher, peerOf(provider), textRoot, await BlobStore.open(join(root, 'fetcher-z1'), { hasher: hashPool }), { onWire: (_i, _b, w) => (wire.byDefault += w) });
    const b = await fetchBlob(fetcher, peerOf(provider), textRoot, await BlobStore.open(join(root, 'fetcher-z2'), { hasher: hashPool }), { compression: true, onWire: (_i, _b, w) => (wire.asked += w) });
    expect({ a: a.status, b: b.status, plain: wire.byDefault === text.byteLength, compressed: wire.asked < text.byteLength / 10 }).toEqual({ a: 'complete', b: 'complete', plain: true, compressed: true });
  });

  it('after a fetch stopped part way, a new fetch moves only the missing blocks', async () => {
    const fetcher = await pool.start({ transport: 'quinn' });
    const dir = join(root, 'fetcher-2');
    const first = await BlobStore.open(dir, { hasher: hashPool });
    // From a provider capped at 2 blocks a second: the fetcher commits (and reports) blocks in
    // groups while it writes the next ones, so an uncapped one has sent all 6 by then.
    const capped = await pool.start({ transport: 'quinn' });
    serveBlobs(capped, store, { limits: { maxUploadRate: 2 * BLOCK_BYTES } });
    const ac = new AbortController();
    await fetchBlob(fetcher, peerOf(capped), blobRoot, first, { signal: ac.signal, onProgress: (blocks) => blocks >= 2 && ac.abort() });
    await new Promise((r) => setTimeout(r, 100)); // writes of verified blocks already read land
    const again = await BlobStore.open(dir, { hasher: hashPool });
    const missing = (await again.missing(blobRoot)) ?? [];
    const missingBytes = missing.reduce((a, [s, e]) => a + Math.min(e * BLOCK_BYTES, SIZE) - s * BLOCK_BYTES, 0);
    sent = 0;
    const r = await fetchBlob(fetcher, peerOf(provider), blobRoot, again);
    expect({ status: r.status, partWay: missingBytes > 0 && missingBytes < SIZE, moved: sent === missingBytes, read: again.stats.dataBytesRead }).toEqual({
      status: 'complete',
      partWay: true,
      moved: true,
      read: 0,
    });
  });
});
