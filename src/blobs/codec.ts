/**
 * Per-block compression for the `blobs` stream kind (BLOCK_Z frames, src/wire/blobs.ts):
 * brotli at quality 1 from node:zlib, run on libuv's thread pool (the async form), so neither
 * side's event loop stalls on a block. Chosen by measurement on 1 MiB blocks (this machine,
 * Node 20, one thread): brotli q1 compresses JavaScript source to 0.11 of its size at 349 MB/s
 * and gives up on random bytes at 1,280 MB/s, decompressing at 438 MB/s; deflateRaw level 1
 * reached 0.22 at 95 MB/s and spent 31 MB/s on random bytes (`node` one-off, see the blobs
 * section of docs/PROTOCOL.md).
 *
 *   const z = await compressBlock(block);              // null: it does not pay, send it as is
 *   const raw = await decompressBlock(CODEC.BROTLI, z!, block.byteLength);
 */
import { promisify } from 'node:util';
import { brotliCompress, brotliDecompress, constants } from 'node:zlib';
import { OctopiiError } from '../errors.js';
import { CODEC, type Codec } from '../wire/blobs.js';

const compress = promisify(brotliCompress);
const decompress = promisify(brotliDecompress);

/** Codecs this version decodes, in the order it prefers them (a fetch request's accept list). */
export const SUPPORTED_CODECS: readonly Codec[] = [CODEC.BROTLI];

/**
 * `block` compressed (brotli quality 1), or null when that saves less than 1/32 of its length
 * (not worth the fetcher's decompression) — incompressible blocks go as they are.
 */
export async function compressBlock(block: Uint8Array): Promise<Uint8Array | null> {
  if (block.byteLength < 64) return null;
  const out = await compress(block, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 1, [constants.BROTLI_PARAM_SIZE_HINT]: block.byteLength, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_GENERIC },
  });
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
