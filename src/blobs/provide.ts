/**
 * The provider side of the `blobs` stream kind (src/wire/blobs.ts): `serveBlobs(node, store)`
 * registers the kind on the node's router; each stream carries one request, answered with the
 * header, then every requested block with its proof — each block read from the store verified
 * against the outboard before it leaves — then END. Writes await the stream (QUIC flow control
 * is the backpressure); a missing blob or a bad range is answered with an ERROR frame.
 *
 *   const stop = serveBlobs(node, store);   // before peers connect: the hello lists `blobs`
 */
import { OctopiiError, toOctopiiError } from '../errors.js';
import { ByteReader } from '../lane/bytes.js';
import type { OctopiiNode } from '../node/node.js';
import type { DuplexStream } from '../transport/types.js';
import { encodeBlockFrameHead, encodeEndFrame, encodeErrorFrame, encodeHeaderFrame, readBlobRequest } from '../wire/blobs.js';
import type { BlobStore } from './store.js';
import { BLOCK_BYTES, blockCount } from './tree.js';

export interface ServeBlobsOptions {
  /** Test seam: a provider that lies. Returns the bytes to send for block `index` instead of `data`. */
  tamper?: (index: number, data: Uint8Array) => Uint8Array;
  /** Called once per block sent (index, payload bytes). */
  onBlock?: (index: number, bytes: number) => void;
}

/** Registers the `blobs` stream kind on `node`'s router, served from `store`. Returns an unregister. Throws INVALID_ARGUMENT if already registered. */
export function serveBlobs(node: OctopiiNode, store: BlobStore, options: ServeBlobsOptions = {}): () => void {
  return node.router.register('blobs', (stream) => void provide(stream, store, options));
}

/** Answers one `blobs` stream. Never throws. */
export async function provide(stream: DuplexStream, store: BlobStore, options: ServeBlobsOptions = {}): Promise<void> {
  const reader = new ByteReader(stream.readable.getReader());
  const w = stream.writable.getWriter();
  try {
    const req = await readBlobRequest(reader);
    let size: number;
    try {
      size = await store.size(req.root);
    } catch (e) {
      await w.write(encodeErrorFrame(toOctopiiError(e)));
      await w.close();
      return;
    }
    const n = blockCount(size);
    if (req.ranges[0]![0] >= n) {
      await w.write(encodeErrorFrame(new OctopiiError('RANGE_NOT_SATISFIABLE', `blocks from ${req.ranges[0]![0]} of a ${n}-block blob`)));
      await w.close();
      return;
    }
    await w.write(encodeHeaderFrame(size, BLOCK_BYTES));
    for (const [start, end] of req.ranges) {
      for (let i = start; i < Math.min(end, n); i++) {
        const { data, proof } = await store.blockWithProof(req.root, i);
        const out = options.tamper ? options.tamper(i, data) : data;
        await w.write(encodeBlockFrameHead(i, proof.siblings, out.byteLength));
        await w.write(out);
        options.onBlock?.(i, out.byteLength);
      }
    }
    await w.write(encodeEndFrame());
    await w.close();
  } catch (e) {
    const error = toOctopiiError(e, 'PROTOCOL_ERROR');
    try {
      await w.write(encodeErrorFrame(error));
    } catch {
      // the stream is gone
    }
    stream.abort(error);
  }
}
