/** Per-block compression (src/blobs/codec.ts): brotli where it pays, bounded and typed decompression. */
import { randomFillSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compressBlock, decompressBlock, PROBE_BYTES } from '../../src/blobs/codec.js';
import { CODEC } from '../../src/wire/blobs.js';

const MiB = 1 << 20;
const text = new Uint8Array(Buffer.from('export const answer = (x) => x * 42; // a line of source code\n'.repeat(MiB / 62 + 1)).subarray(0, MiB));
const random = randomFillSync(new Uint8Array(MiB));

describe('compressBlock', () => {
  it('compresses a compressible block and gets it back byte for byte', async () => {
    const z = await compressBlock(text);
    const back = await decompressBlock(CODEC.BROTLI, z!, MiB);
    expect({ smaller: z!.byteLength < MiB / 10, same: Buffer.from(back).equals(Buffer.from(text)) }).toEqual({ smaller: true, same: true });
  });

  it('leaves an incompressible block as it is (null)', async () => {
    expect(await compressBlock(random)).toBeNull();
  });

  it('judges a block by its first PROBE_BYTES: random there, the block goes as it is', async () => {
    const mixed = text.slice();
    mixed.set(random.subarray(0, PROBE_BYTES), 0);
    expect(await compressBlock(mixed)).toBeNull();
  });
});

describe('decompressBlock', () => {
  it('refuses corrupt bytes with BLOCK_MISMATCH', async () => {
    const z = (await compressBlock(text))!.slice();
    z[Math.floor(z.byteLength / 2)]! ^= 0xff;
    z[3]! ^= 0xff;
    await expect(decompressBlock(CODEC.BROTLI, z, MiB)).rejects.toMatchObject({ code: 'BLOCK_MISMATCH' });
  });

  it('refuses a block that decompresses to more than it claims (a bomb stops at rawLength) with BLOCK_MISMATCH', async () => {
    const z = (await compressBlock(text))!;
    await expect(decompressBlock(CODEC.BROTLI, z, 1000)).rejects.toMatchObject({ code: 'BLOCK_MISMATCH' });
  });

  it('refuses a block that decompresses to less than it claims with BLOCK_MISMATCH', async () => {
    const z = (await compressBlock(text))!;
    await expect(decompressBlock(CODEC.BROTLI, z, MiB + 1)).rejects.toMatchObject({ code: 'BLOCK_MISMATCH' });
  });
});
