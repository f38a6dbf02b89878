/**
 * Per-block compression for the `blobs` stream kind (BLOCK_Z frames, src/wire/blobs.ts):
 * brotli at quality 1 from node:zlib, run on libuv's thread pool (the async form), so neither
 * side's event loop stalls on a block. Chosen by measurement on 1 MiB blocks (`codec` rows of
 * `npm run bench:blobs`; this shared 2-core machine, Node 20, one thread): on node_modules
 * JavaScript brotli q1 reached 0.196 of the block at 180–349 MB/s (decompress 239–438 MB/s),
 * deflateRaw level 1 0.214 at 95–105 MB/s; on random bytes brotli gives up at 500–1,280 MB/s,
 * deflateRaw at 30 MB/s. A 32 KiB probe keeps the cost on incompressible blocks at 1/32 of that.
 *
 *   const z = await compressBlock(block);              // null: it does not pay, send it as is
 *   const raw = await decompressBlock(CODEC.BROTLI, z!, block.byteLength);
 */
import { promisify } from 'node:util';
import { brotliCompress, brotliDecompress, constants, type BrotliOptions as ZlibOptions } from 'node:zlib';
import { OctopiiError } from '../errors.js';
import { CODEC, type Codec } from '../wire/blobs.js';

const compressAsync = promisify(brotliCompress);
const decompressAsync = promisify(brotliDecompress);

/** Codec jobs on libuv's thread pool now (see {@link codecJobsInFlight}). */
let inFlight = 0;

/** Runs one thread-pool job, counted while it runs. */
async function counted<T>(job: Promise<T>): Promise<T> {
  inFlight++;
  try {
    return await job;
  } finally {
    inFlight--;
  }
}

/**
 * Compress and decompress jobs of this process on libuv's thread pool right now. A deterministic
 * simulation waits for it to reach 0 before it lets simulated time pass (test/helpers/simWorld.ts
 * `flush`), as it waits for file I/O: zlib's thread-pool work is not among
 * `process.getActiveResourcesInfo()`.
 */
export const codecJobsInFlight = (): number => inFlight;

const compress = (data: Uint8Array, options: ZlibOptions): Promise<Buffer> => counted(compressAsync(data, options));
const decompress = (data: Uint8Array, options: ZlibOptions): Promise<Buffer> => counted(decompressAsync(data, options));

/** Codecs this version decodes, in the order it prefers them (a fetch request's accept list). */
export const SUPPORTED_CODECS: readonly Codec[] = [CODEC.BROTLI];

/** Bytes of a block compressed first as a probe; a probe that saves less than 1/8 sends the block as is. */
export const PROBE_BYTES = 32 * 1024;

const brotliQ1 = (data: Uint8Array) =>
  compress(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 1, [constants.BROTLI_PARAM_SIZE_HINT]: data.byteLength, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_GENERIC } });

/**
 * `block` compressed (brotli quality 1), or null when that does not pay: when its first
 * {@link PROBE_BYTES} compressed save less than 1/8 (random or already-compressed data costs
 * 1/32 of a block's compression, not all of it), or when the whole block saves less than 1/32
 * (not worth the fetcher's decompression).
 */
export async function compressBlock(block: Uint8Array): Promise<Uint8Array | null> {
  if (block.byteLength < 64) return null;
  if (block.byteLength > 2 * PROBE_BYTES) {
    const probe = await brotliQ1(block.subarray(0, PROBE_BYTES));
    if (probe.byteLength > PROBE_BYTES - PROBE_BYTES / 8) return null;
  }
  const out = await brotliQ1(block);
  return out.byteLength <= block.byteLength - block.byteLength / 32 ? new Uint8Array(out.buffer, out.byteOffset, out.byteLength) : null;
}

/**
 * The `rawLength` bytes `data` decompresses to with `codec`. Never produces more than
 * `rawLength` bytes (a decompression bomb stops there). Throws BLOCK_MISMATCH when `data` does
 * not decompress, or not to exactly `rawLength` bytes — a corrupt block, dropped and refetched
 * like one that does not verify; INVALID_ARGUMENT for an unknown codec.
 */
export async function decompressBlock(codec: Codec, data: Uint8Array, rawLength: number): Promise<Uint8Array> {
  if (codec !== CODEC.BROTLI) throw new OctopiiError('INVALID_ARGUMENT', `unknown block codec ${codec}`);
  let out: Buffer;
  try {
    out = await decompress(data, { maxOutputLength: Math.max(1, rawLength) });
  } catch (e) {
    throw new OctopiiError('BLOCK_MISMATCH', `a compressed block does not decompress: ${(e as Error).message}`);
  }
  if (out.byteLength !== rawLength) throw new OctopiiError('BLOCK_MISMATCH', `a compressed block decompresses to ${out.byteLength} bytes, not ${rawLength}`);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
