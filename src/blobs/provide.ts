/**
 * The provider side of the `blobs` stream kind (src/wire/blobs.ts): `serveBlobs(node, store)`
 * registers the kind on the node's router; each stream is one blobProvide machine
 * (machines/blobProvide.ts) under the node's supervisor, `peer:<nodeId>/provide#n`. The actors
 * below do its I/O: read the request, stream the header (the blob's size and its own block
 * size, which the root binds), every requested block with its proof
 * — each block read from the store verified against the outboard before it leaves — and END;
 * or an ERROR frame (BLOB_NOT_FOUND, RANGE_NOT_SATISFIABLE, PROTOCOL_ERROR, TIMEOUT …). A batch
 * request (many whole blobs, docs/PROTOCOL.md "Batches") is one machine too: BATCH, then each
 * root in order as above, a root the store lacks answered by its own ERROR frame. Writes
 * await the stream (QUIC flow control is the backpressure). When the request accepts a codec,
 * each block goes compressed (BLOCK_Z) if that shrinks it (src/blobs/codec.ts), else as is; the
 * proof is always over the uncompressed block. With upload limits (node-wide and
 * per peer, bytes/s: src/blobs/uploadLimits.ts) each block reserves its bytes first and, when
 * it must wait, the machine shows `streaming.throttled` for the wait (on the node's clock).
 *
 *   const stop = serveBlobs(node, store);   // before peers connect: the hello lists `blobs`
 */
import { fromCallback, fromPromise, type EventObject } from 'xstate';
import { blobProvideMachine, type BlobProvideInput, type ProvideRequest } from '../../machines/blobProvide.js';
import { OctopiiError, toOctopiiError, type ErrorInfo } from '../errors.js';
import { ByteReader } from '../lane/bytes.js';
import type { OctopiiNode } from '../node/node.js';
import type { DuplexStream } from '../transport/types.js';
import { BLOBS_BATCH_VERSION, BLOBS_WIRE_VERSION, CODEC, encodeBatchFrame, encodeBlockFrameHead, encodeCompressedBlockFrameHead, encodeEndFrame, encodeErrorFrame, encodeHeaderFrame, readAnyBlobRequest } from '../wire/blobs.js';
import { compressBlock } from './codec.js';
import type { BlobStore, BlockReader } from './store.js';
import { UploadLimits, type UploadLimitOptions } from './uploadLimits.js';
import { BLOCK_BYTES, blockCount, parseRoot, rootHex } from './tree.js';

export interface ServeBlobsOptions {
  /** Test seam: a provider that lies. Returns the bytes to send for block `index` of `root` instead of `data`. */
  tamper?: (index: number, data: Uint8Array, root: Uint8Array) => Uint8Array;
  /** Test seam: a provider that lies after compressing. Returns the payload to send instead of `payload` (`compressed`: a BLOCK_Z). */
  tamperWire?: (index: number, payload: Uint8Array, compressed: boolean) => Uint8Array;
  /** Test seam: a provider that stalls. Awaited before block `index` goes out (a promise that never settles stalls the stream there). */
  beforeSend?: (index: number) => Promise<void> | void;
  /**
   * Called once per block sent: index, block bytes (uncompressed), the fetcher
   * (`peer:<nodeId>` or `addr:<host:port>`), payload bytes on the wire (compressed or not).
   */
  onBlock?: (index: number, bytes: number, peer: string, wireBytes: number) => void;
  /**
   * Answer batch requests (default true). false: refuse them as a provider that predates
   * batches does — an ERROR frame (PROTOCOL_ERROR, "blob request version 2 (expected 1)") in
   * place of BATCH — so fetchers fall back to one blob per stream.
   */
  batches?: boolean;
  /** Compress blocks for fetchers that accept it (default true). */
  compress?: boolean;
  /** Request and per-block write deadline, ms (default 30,000). */
  idleMs?: number;
  /** Upload caps, bytes per second: the whole node's and each peer's (default none). */
  limits?: UploadLimitOptions;
}

interface ProvideHandles {
  stream: DuplexStream;
  reader: ByteReader;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  store: BlobStore;
  options: ServeBlobsOptions;
  /** The serving node's upload limits (shared by its streams), the key of this stream's peer, the node's clock (ms). */
  limits: UploadLimits | null;
  peer: string;
  now: () => number;
}

const handlesOf = (h: unknown): ProvideHandles => h as ProvideHandles;

/** The machine with its I/O provided. */
export const blobProvideLogic = blobProvideMachine.provide({
  actors: {
    readRequest: fromPromise<ProvideRequest, { handles: unknown }>(async ({ input }) => {
      const { reader, store, options } = handlesOf(input.handles);
      const req = await readAnyBlobRequest(reader);
      if (req.kind === 'batch' && options.batches === false) throw new OctopiiError('PROTOCOL_ERROR', `blob request version ${BLOBS_BATCH_VERSION} (expected ${BLOBS_WIRE_VERSION})`);
      const codecs = options.compress === false ? [] : (req.accept ?? []);
      // A batch: each root is looked up as its turn comes (a missing one gets its own ERROR frame).
      if (req.kind === 'batch') return { root: rootHex(req.roots[0]!), ranges: [], size: 0, roots: req.roots.map(rootHex), codecs };
      const { size, blockBytes } = await store.shape(req.root);
      const n = blockCount(size, blockBytes);
      if (req.ranges[0]![0] >= n) throw new OctopiiError('RANGE_NOT_SATISFIABLE', `blocks from ${req.ranges[0]![0]} of a ${n}-block blob`);
      return {
        root: rootHex(req.root),
        ranges: req.ranges.map(([s, e]): [number, number] => [s, Math.min(e, n)]).filter(([s, e]) => s < e),
        size,
        blockBytes,
        codecs,
      };
    }),
    pump: fromCallback<EventObject, { handles: unknown; request: ProvideRequest }>(({ input, sendBack, receive }) => {
      const { writer: w, store, options, limits, peer, now } = handlesOf(input.handles);
      const root = parseRoot(input.request.root);
      const brotli = input.request.codecs?.includes(CODEC.BROTLI) ?? false;
      let stopped = false;
      let resume: (() => void) | null = null;
      receive((e) => {
        if (e.type === 'RESUME') resume?.();
      });
      /** Reserves `bytes` in the upload limits; when they say wait, the chart waits (THROTTLE → RESUME). */
      const tokens = async (bytes: number): Promise<void> => {
        const waitMs = limits ? limits.reserve(peer, bytes, now()) : 0;
        if (waitMs <= 0 || stopped) return;
        await new Promise<void>((r) => {
          resume = r;
          sendBack({ type: 'THROTTLE', waitMs });
        });
        resume = null;
      };
      /** Blocks `ranges` of `root`: HEADER, each block with its proof, END. */
      const sendBlob = async (root: Uint8Array, ranges: Array<[number, number]>, size: number, blockBytes: number): Promise<void> => {
        await w.write(encodeHeaderFrame(size, blockBytes));
        const reader = await store.blockReader(root);
        try {
          await sendBlocks(root, reader, ranges);
        } finally {
          await reader.close();
        }
        if (stopped) return;
        await w.write(encodeEndFrame());
      };
      /** Blocks `ranges` of `root` through `reader`, one read ahead. */
      const sendBlocks = async (root: Uint8Array, reader: BlockReader, ranges: Array<[number, number]>): Promise<void> => {
        /** Block `i` read (verified against the outboard), tampered in tests, compressed when that pays: its frame head and payload. */
        const prepare = async (i: number) => {
          const { data, proof, release } = await reader.block(i);
          const out = options.tamper ? options.tamper(i, data, root) : data;
          const z = brotli ? await compressBlock(out) : null;
          const payload = options.tamperWire ? options.tamperWire(i, z ?? out, z !== null) : (z ?? out);
          const head = z ? encodeCompressedBlockFrameHead(i, proof.siblings, CODEC.BROTLI, out.byteLength, payload.byteLength) : encodeBlockFrameHead(i, proof.siblings, payload.byteLength);
          return { i, raw: out.byteLength, head, payload, release };
        };
        const order = ranges.flatMap(([start, end]) => Array.from({ length: end - start }, (_, k) => start + k));
        // The next block is read, verified (and compressed) while this one is written: one ahead.
        let next = order.length > 0 ? prepare(order[0]!) : null;
        for (let k = 0; k < order.length && next && !stopped; k++) {
          const block = await next;
          next = k + 1 < order.length ? prepare(order[k + 1]!) : null;
          next?.catch(() => undefined); // awaited on the next turn; a failure there fails the stream
          await options.beforeSend?.(block.i);
          if (stopped) return block.release();
          await tokens(block.payload.byteLength);
          if (stopped) return block.release();
          await w.write(block.head);
          await w.write(block.payload);
          // The write resolved: the transport holds its own copy (as the lane's ring of blocks relies on), so the buffer goes back.
          block.release();
          options.onBlock?.(block.i, block.raw, peer, block.payload.byteLength);
          if (!stopped) sendBack({ type: 'SENT', index: block.i, bytes: block.raw });
        }
      };
      void (async () => {
        const { roots } = input.request;
        if (roots) {
          // A batch: BATCH, then each root whole, in order; a root this store cannot serve gets an ERROR frame and the next one follows.
          await w.write(encodeBatchFrame(roots.length));
          for (const hex of roots) {
            if (stopped) return;
            const root = parseRoot(hex);
            let shape: { size: number; blockBytes: number };
            try {
              shape = await store.shape(root);
            } catch (e) {
              await w.write(encodeErrorFrame(toOctopiiError(e, 'IO_ERROR')));
              continue;
            }
            await sendBlob(root, [[0, blockCount(shape.size, shape.blockBytes)]], shape.size, shape.blockBytes);
          }
        } else await sendBlob(root, input.request.ranges, input.request.size, input.request.blockBytes ?? BLOCK_BYTES);
        if (stopped) return;
        await w.close();
        if (!stopped) sendBack({ type: 'DONE' });
      })().catch((e: unknown) => {
        if (!stopped) sendBack({ type: 'FAILED', error: toOctopiiError(e, 'STREAM_ABORTED').toJSON() });
      });
      return () => {
        stopped = true;
      };
    }),
    refuse: fromPromise<void, { handles: unknown; error: ErrorInfo }>(async ({ input }) => {
      const { writer } = handlesOf(input.handles);
      await writer.write(encodeErrorFrame(input.error));
      await writer.close();
    }),
  },
  actions: {
    abortStream: ({ context }) => {
      const { stream } = handlesOf(context.handles);
      stream.abort(context.error ? OctopiiError.from(context.error) : new OctopiiError('CANCELLED', 'blob stream reset'));
    },
  },
});

const provideSeq = new WeakMap<OctopiiNode, number>();

/**
 * Registers the `blobs` stream kind on `node`'s router, served from `store`. Returns an
 * unregister. Throws INVALID_ARGUMENT if already registered, or for a limit that is not a
 * positive number of bytes per second.
 */
export function serveBlobs(node: OctopiiNode, store: BlobStore, options: ServeBlobsOptions = {}): () => void {
  const limits = options.limits ? new UploadLimits(options.limits) : null;
  const active = limits?.active ? limits : null;
  return node.router.register('blobs', (stream, { connection }) => {
    const n = (provideSeq.get(node) ?? 0) + 1;
    provideSeq.set(node, n);
    const peerId = connection.remoteNodeId ? `peer:${connection.remoteNodeId}` : `addr:${connection.remoteAddress}`;
    const handles: ProvideHandles = { stream, reader: new ByteReader(stream.readable.getReader()), writer: stream.writable.getWriter(), store, options, limits: active, peer: peerId, now: () => node.clock.now() };
    const input: BlobProvideInput = { handles, ...(options.idleMs !== undefined ? { idleMs: options.idleMs } : {}) };
    try {
      node.spawn(`${peerId}/provide#${n}`, blobProvideLogic, { input, restart: 'temporary' });
    } catch (e) {
      stream.abort(toOctopiiError(e, 'CLOSED'));
    }
  });
}
