/**
 * The block sizes a blob may have (Shipping Lane v2; the choice of the default is measured in
 * src/blobs/tree.ts): a power of two from 16 KiB to 16 MiB, 1 MiB by default. Apart from the
 * hash tree so that option parsing (src/cli/options.ts) loads no node:crypto.
 */
import { OctopiiError } from '../errors.js';

/** Default block size of a blob, bytes (1 MiB; see the module note). */
export const DEFAULT_BLOCK_BYTES = 1 << 20;
/** The default block size under its older name: blobs made without a block size use it. */
export const BLOCK_BYTES = DEFAULT_BLOCK_BYTES;
/** Smallest block size a blob may have, bytes (16 KiB). */
export const MIN_BLOCK_BYTES = 16 * 1024;
/** Largest block size a blob may have, bytes (16 MiB). */
export const MAX_BLOCK_BYTES = 16 << 20;

/** True when `b` is a block size a blob may have: a power of two from 16 KiB to 16 MiB. */
export function isBlockBytes(b: number): boolean {
  return Number.isInteger(b) && b >= MIN_BLOCK_BYTES && b <= MAX_BLOCK_BYTES && (b & (b - 1)) === 0;
}

/** `b` when {@link isBlockBytes}; throws INVALID_ARGUMENT otherwise. */
export function checkBlockBytes(b: number): number {
  if (!isBlockBytes(b)) throw new OctopiiError('INVALID_ARGUMENT', `block size ${b} is not a power of two from ${MIN_BLOCK_BYTES} (16 KiB) to ${MAX_BLOCK_BYTES} (16 MiB) bytes`);
  return b;
}
