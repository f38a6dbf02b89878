/**
 * The `blobs` wire format (src/wire/blobs.ts): golden request and frame bytes, round trips
 * through a stream cut into 1-byte chunks, and malformed input refused with PROTOCOL_ERROR.
 */
import { describe, expect, it } from 'vitest';
import { ByteReader } from '../../src/lane/bytes.js';
import { CODEC, encodeBlobRequest, encodeBlockFrameHead, encodeCompressedBlockFrameHead, encodeEndFrame, encodeErrorFrame, encodeHeaderFrame, readBlobFrame, readBlobRequest } from '../../src/wire/blobs.js';
import { OctopiiError } from '../../src/errors.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ROOT = Uint8Array.from({ length: 32 }, (_, i) => i);

/** A reader over `bytes` delivered one byte per chunk. */
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

describe('blobs wire golden vectors', () => {
  it('encodes a request for blocks [0, 2) and [5, 9)', () => {
    expect(hex(encodeBlobRequest({ root: ROOT, ranges: [[0, 2], [5, 9]] }))).toBe(
      '01' + hex(ROOT) + '0200' + '00000000' + '02000000' + '05000000' + '09000000',
    );
  });

  it('encodes a header for a 3 MiB + 1 blob of 1 MiB blocks', () => {
    expect(hex(encodeHeaderFrame(3 * 1048576 + 1, 1048576))).toBe('01' + '0100300000000000' + '00001000');
  });

  it('encodes the head of block 7 with a one-hash proof and 5 bytes', () => {
    expect(hex(encodeBlockFrameHead(7, new Uint8Array(32).fill(0xaa), 5))).toBe('02' + '07000000' + '01' + 'aa'.repeat(32) + '05000000');
  });

  it('encodes a request that accepts brotli: the accept field after the ranges', () => {
    expect(hex(encodeBlobRequest({ root: ROOT, ranges: [[0, 2]], accept: [CODEC.BROTLI] }))).toBe('01' + hex(ROOT) + '0100' + '00000000' + '02000000' + '01' + '01');
  });

  it('encodes the head of block 7 compressed with brotli from 1 MiB to 5 bytes', () => {
    expect(hex(encodeCompressedBlockFrameHead(7, new Uint8Array(32).fill(0xaa), CODEC.BROTLI, 1048576, 5))).toBe(
      '05' + '07000000' + '01' + 'aa'.repeat(32) + '01' + '00001000' + '05000000',
    );
  });

  it('encodes an error frame with the wire code of BLOB_NOT_FOUND (208)', () => {
    expect(hex(encodeErrorFrame(new OctopiiError('BLOB_NOT_FOUND', 'no')))).toBe('04' + 'd000' + '0200' + '6e6f');
  });
});

describe('blobs wire round trips', () => {
  it('reads back a request delivered one byte at a time', async () => {
    const req = { root: ROOT, ranges: [[3, 4], [10, 0xffffffff]] as Array<[number, number]> };
    expect(await readBlobRequest(readerOf(encodeBlobRequest(req)))).toEqual(req);
  });

  it('reads back a request with its accept field', async () => {
    const req = { root: ROOT, ranges: [[0, 4]] as Array<[number, number]>, accept: [CODEC.BROTLI] };
    expect(await readBlobRequest(readerOf(encodeBlobRequest(req)))).toEqual(req);
  });

  it('reads a request without the accept field as accepting nothing (a fetcher before codecs)', async () => {
    expect((await readBlobRequest(readerOf(encodeBlobRequest({ root: ROOT, ranges: [[0, 4]] })))).accept).toBeUndefined();
  });

  it('leaves codecs it does not know out of accept', async () => {
    const bytes = Buffer.concat([encodeBlobRequest({ root: ROOT, ranges: [[0, 4]] }), Uint8Array.of(0x01, 0b1000_0001)]);
    expect((await readBlobRequest(readerOf(new Uint8Array(bytes)))).accept).toEqual([CODEC.BROTLI]);
  });

  it('reads back a compressed block frame', async () => {
    const bytes = Buffer.concat([encodeCompressedBlockFrameHead(2, new Uint8Array(0), CODEC.BROTLI, 1000, 3), Uint8Array.of(1, 2, 3)]);
    expect(await readBlobFrame(readerOf(new Uint8Array(bytes)), 1048576)).toEqual({ type: 'block', index: 2, proof: new Uint8Array(0), data: Uint8Array.of(1, 2, 3), codec: CODEC.BROTLI, rawLength: 1000 });
  });

  it('reads back header, block, end and error frames in order', async () => {
    const proof = new Uint8Array(64).fill(1);
    const bytes = Buffer.concat([encodeHeaderFrame(10, 1048576), encodeBlockFrameHead(0, proof, 3), Uint8Array.of(9, 8, 7), encodeEndFrame(), encodeErrorFrame({ code: 'DISK_FULL', message: 'full' })]);
    const r = readerOf(new Uint8Array(bytes));
    const frames = [await readBlobFrame(r, 1048576), await readBlobFrame(r, 1048576), await readBlobFrame(r, 1048576), await readBlobFrame(r, 1048576)];
    expect(frames.map((f) => (f.type === 'error' ? { type: 'error', code: f.error.code, origin: f.error.origin } : f))).toEqual([
      { type: 'header', size: 10, blockBytes: 1048576 },
      { type: 'block', index: 0, proof, data: Uint8Array.of(9, 8, 7), codec: CODEC.NONE, rawLength: 3 },
      { type: 'end' },
      { type: 'error', code: 'DISK_FULL', origin: 'remote' },
    ]);
  });
});

describe('blobs wire refuses malformed input with PROTOCOL_ERROR', () => {
  it('a request of another version', async () => {
    const bytes = encodeBlobRequest({ root: ROOT, ranges: [[0, 1]] });
    bytes[0] = 2;
    await expect(readBlobRequest(readerOf(bytes))).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
  });

  it('a request with overlapping ranges', () => {
    expect(() => encodeBlobRequest({ root: ROOT, ranges: [[0, 5], [3, 9]] })).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
  });

  it('a block longer than the bound', async () => {
    const bytes = encodeBlockFrameHead(0, new Uint8Array(0), 2_000_000);
    await expect(readBlobFrame(readerOf(bytes), 1048576)).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
  });

  it('a request with an unknown extension', async () => {
    const bytes = Buffer.concat([encodeBlobRequest({ root: ROOT, ranges: [[0, 4]] }), Uint8Array.of(0x7e, 0)]);
    await expect(readBlobRequest(readerOf(new Uint8Array(bytes)))).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
  });

  it('a compressed block in an unknown codec', async () => {
    await expect(readBlobFrame(readerOf(encodeCompressedBlockFrameHead(0, new Uint8Array(0), 9 as never, 10, 3)), 1048576)).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
  });

  it('a compressed block that claims to grow past the block bound', async () => {
    await expect(readBlobFrame(readerOf(encodeCompressedBlockFrameHead(0, new Uint8Array(0), CODEC.BROTLI, 2_000_000, 3)), 1048576)).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
  });

  it('a compressed block longer than its uncompressed length', async () => {
    await expect(readBlobFrame(readerOf(encodeCompressedBlockFrameHead(0, new Uint8Array(0), CODEC.BROTLI, 10, 11)), 1048576)).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
  });

  it('a stream that ends before END', async () => {
    await expect(readBlobFrame(readerOf(new Uint8Array(0)), 1048576)).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
  });

  it('an unknown frame type', async () => {
    await expect(readBlobFrame(readerOf(Uint8Array.of(0x7f)), 1048576)).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
  });
});
