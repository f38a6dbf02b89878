/**
 * The data half of BlobStore.add: a source copied block by block into the store's staging file,
 * each block's leaf hashed on the way, four blocks in flight. Buffers are SharedArrayBuffers (the
 * hash pool reads them in place) sized to the blob: one a hash worker saw lives until that
 * worker's GC, so 1 MiB per small file added held ~1 GB of native memory for a 1,000-file tree.
 */
import type { FileHandle } from 'node:fs/promises';
import { OctopiiError } from '../errors.js';
import type { BlockHasher } from './storeTypes.js';
import { blockCount, blockLength, LEAF_PREFIX_BYTES, leafMessage } from './tree.js';

/** Blocks read, hashed and written at once. */
const IN_FLIGHT = 4;

/**
 * Copies `size` bytes of `src` (an open file and its path, or bytes in memory) into `out` in
 * `blockBytes` blocks and returns the leaf hash of each block (src/blobs/tree.ts). Throws
 * ABORTED (`signal`), IO_ERROR (the file changed size while being read), and what the file
 * system throws.
 */
export async function copyAndHash(
  src: { fh: FileHandle; path: string } | Uint8Array,
  size: number,
  blockBytes: number,
  out: FileHandle,
  o: { hasher: BlockHasher; signal?: AbortSignal; beforeWrite?: () => void; written?: (bytes: number) => void },
): Promise<Uint8Array[]> {
  const B = blockBytes;
  const n = blockCount(size, B);
  const leaves: Uint8Array[] = new Array(n);
  const bufs = Array.from({ length: Math.min(IN_FLIGHT, n) }, () => new Uint8Array(new SharedArrayBuffer(LEAF_PREFIX_BYTES + Math.min(B, size))));
  let next = 0;
  const pump = async (buf: Uint8Array) => {
    while (next < n) {
      if (o.signal?.aborted) throw new OctopiiError('ABORTED', 'add aborted');
      const i = next++;
      const len = blockLength(size, i, B);
      const body = buf.subarray(LEAF_PREFIX_BYTES, LEAF_PREFIX_BYTES + len);
      if (src instanceof Uint8Array) body.set(src.subarray(i * B, i * B + len));
      else {
        const { bytesRead } = await src.fh.read(body, 0, len, i * B);
        if (bytesRead !== len) throw new OctopiiError('IO_ERROR', `${src.path} changed while being added`);
      }
      const leaf = o.hasher.sha256(leafMessage(buf, i, len));
      o.beforeWrite?.();
      await out.write(body, 0, len, i * B);
      o.written?.(len);
      leaves[i] = await leaf;
    }
  };
  await Promise.all(bufs.map(pump));
  return leaves;
}
