/**
 * The fetch session (src/blobs/fetch.ts) against a scripted provider stream: a header that names
 * a block size no blob may have (not a power of two from 16 KiB to 16 MiB) fails the fetch with
 * PROTOCOL_ERROR before any block is read or written.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runBlobFetch, type FetchHandles } from '../../src/blobs/fetch.js';
import { BlobStore } from '../../src/blobs/store.js';
import { rootHex, rootOf } from '../../src/blobs/tree.js';
import type { DuplexStream } from '../../src/transport/types.js';
import { encodeHeaderFrame } from '../../src/wire/blobs.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'octopii-blobhead-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A stream whose provider side answers `frames` and ignores the request. */
function scripted(frames: Uint8Array[]): DuplexStream {
  return {
    id: 1,
    readable: new ReadableStream({
      start(c) {
        for (const f of frames) c.enqueue(f);
        c.close();
      },
    }),
    writable: new WritableStream(),
    abort: () => undefined,
  };
}

describe('fetch session header', () => {
  it.each([1000, 8 * 1024, 32 << 20])('fails with PROTOCOL_ERROR when the provider names block size %i, writing nothing', async (blockBytes) => {
    const store = await BlobStore.open(dir);
    const handles: FetchHandles = { store, open: async () => scripted([encodeHeaderFrame(100_000, blockBytes)]) };
    const out = await runBlobFetch({ handles, root: rootHex(rootOf(new Uint8Array(10))), maxAttempts: 1 });
    expect({ status: out.status, code: out.error?.code, partial: await readdir(join(dir, 'partial')) }).toEqual({ status: 'failed', code: 'PROTOCOL_ERROR', partial: [] });
  });
});
