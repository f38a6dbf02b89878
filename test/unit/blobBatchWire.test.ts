/**
 * The batch request of the `blobs` wire format (src/wire/blobs.ts, request version 2): golden
 * bytes, round trips through a stream cut into 1-byte chunks, malformed batches refused with
 * PROTOCOL_ERROR, and what a provider that predates batches makes of one (PROTOCOL_ERROR too:
 * the fetcher's cue to fall back).
 */
import { describe, expect, it } from 'vitest';
import { ByteReader } from '../../src/lane/bytes.js';
import { BLOBS_BATCH_MAX_ROOTS, CODEC, encodeBatchFrame, encodeBlobBatchRequest, encodeBlobRequest, readAnyBlobRequest, readBlobFrame, readBlobRequest } from '../../src/wire/blobs.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const A = Uint8Array.from({ length: 32 }, (_, i) => i);
const B = Uint8Array.from({ length: 32 }, (_, i) => 0xff - i);

function readerOf(bytes: Uint8Array): ByteReader {
  let i = 0;
  const rs = new ReadableStream<Uint8Array>({
    pull(c) {
      if (i < bytes.byteLength) c.enqueue(bytes.slice(i, ++i));
      else c.close();
    },
  });
  return new ByteReader(rs.getReader());
}

describe('blobs batch wire golden vectors', () => {
  it('encodes a batch of two roots', () => {
    expect(hex(encodeBlobBatchRequest({ roots: [A, B] }))).toBe('02' + '0200' + hex(A) + hex(B));
  });

  it('encodes a batch that accepts brotli', () => {
    expect(hex(encodeBlobBatchRequest({ roots: [A], accept: [CODEC.BROTLI] }))).toBe('02' + '0100' + hex(A) + '0101');
  });

  it('encodes a BATCH frame for 300 roots', () => {
    expect(hex(encodeBatchFrame(300))).toBe('06' + '2c01');
  });
});

describe('blobs batch wire round trips', () => {
  it('reads a batch back root for root, with its accept field', async () => {
    const req = await readAnyBlobRequest(readerOf(encodeBlobBatchRequest({ roots: [A, B], accept: [CODEC.BROTLI] })));
    expect({ kind: req.kind, roots: 'roots' in req ? req.roots.map(hex) : [], accept: req.accept }).toEqual({ kind: 'batch', roots: [hex(A), hex(B)], accept: [CODEC.BROTLI] });
  });

  it('reads a version-1 request as a single-blob request', async () => {
    const req = await readAnyBlobRequest(readerOf(encodeBlobRequest({ root: A, ranges: [[2, 5]] })));
    expect({ kind: req.kind, root: 'root' in req ? hex(req.root) : '', ranges: 'ranges' in req ? req.ranges : [] }).toEqual({ kind: 'single', root: hex(A), ranges: [[2, 5]] });
  });

  it('reads a BATCH frame', async () => {
    expect(await readBlobFrame(readerOf(encodeBatchFrame(1024)), 1 << 20)).toEqual({ type: 'batch', count: 1024 });
  });

  it('takes the largest batch', async () => {
    const roots = Array.from({ length: BLOBS_BATCH_MAX_ROOTS }, (_, i) => Uint8Array.from({ length: 32 }, () => i & 0xff));
    const req = await readAnyBlobRequest(new ByteReader(new Blob([encodeBlobBatchRequest({ roots })]).stream().getReader()));
    expect('roots' in req ? req.roots.length : 0).toBe(BLOBS_BATCH_MAX_ROOTS);
  });
});

describe('blobs batch wire refuses malformed batches with PROTOCOL_ERROR', () => {
  it('encoding more than 1,024 roots', () => {
    expect(() => encodeBlobBatchRequest({ roots: Array.from({ length: BLOBS_BATCH_MAX_ROOTS + 1 }, () => A) })).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
  });

  it('encoding no root', () => {
    expect(() => encodeBlobBatchRequest({ roots: [] })).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
  });

  it('encoding a root of 31 bytes', () => {
    expect(() => encodeBlobBatchRequest({ roots: [A, B.subarray(1)] })).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
  });

  it('a request that claims 1,025 roots', async () => {
    await expect(readAnyBlobRequest(readerOf(Uint8Array.of(2, 0x01, 0x04)))).rejects.toMatchObject({ code: 'PROTOCOL_ERROR', message: expect.stringContaining('1025 roots') });
  });

  it('a request that claims no root', async () => {
    await expect(readAnyBlobRequest(readerOf(Uint8Array.of(2, 0, 0)))).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
  });

  it('a request whose second root is 20 bytes (it ends inside it)', async () => {
    const bytes = encodeBlobBatchRequest({ roots: [A, B] }).subarray(0, 3 + 32 + 20);
    await expect(readAnyBlobRequest(readerOf(bytes))).rejects.toMatchObject({ code: 'PROTOCOL_ERROR', message: expect.stringContaining('inside root 1 (20 of 32 bytes)') });
  });

  it('a batch with an unknown extension', async () => {
    const bytes = new Uint8Array([...encodeBlobBatchRequest({ roots: [A] }), 0x7e, 0]);
    await expect(readAnyBlobRequest(readerOf(bytes))).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
  });

  it('a request of version 3', async () => {
    await expect(readAnyBlobRequest(readerOf(Uint8Array.of(3, 1, 0, ...A)))).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
  });

  it('a version-1 reader (a provider that predates batches) refuses a batch of one root', async () => {
    await expect(readBlobRequest(readerOf(encodeBlobBatchRequest({ roots: [A] })))).rejects.toMatchObject({ code: 'PROTOCOL_ERROR', message: expect.stringContaining('version 2') });
  });
});
