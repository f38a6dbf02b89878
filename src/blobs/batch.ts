/**
 * The fetcher side of a batch (docs/PROTOCOL.md "Blobs", request version 2): `fetchBatch(node,
 * peer, roots, store)` runs one blobBatch machine (machines/blobBatch.ts) under the node's
 * supervisor as `peer:<nodeId>/batch#n` and resolves with its output — which roots landed, which
 * the provider answered with an ERROR, and whether it refused batches altogether (a provider
 * that predates them; the caller then asks it one blob per stream, src/blobs/fetch.ts).
 *
 * The `session` actor below does the I/O: one stream, one request naming every root, then per
 * root the same HEADER / BLOCK(_Z) / END-or-ERROR frames a single fetch reads, each block
 * verified against its own root before the store writes it (src/blobs/store.ts `putBlock`). A
 * one-block blob lands whole (staged, fdatasync'd, renamed in: visible only complete); a blob of
 * several blocks lands deferred and is completed by its last block. Up to `window` blobs are
 * being written at once (their fdatasyncs overlap) before the session reports HIGH_WATER. A block
 * that does not verify fails the batch (BLOCK_MISMATCH; nothing unverified is written, the stream
 * is reset): the blobs landed so far stay, the rest go back to the caller.
 *
 *   const r = await fetchBatch(node, peer, roots, store);
 *   // r.status 'refused' → the provider predates batches; r.done: indexes of roots landed
 */
import { createActor, fromCallback, type AnyActorRef, type EventObject } from 'xstate';
import { blobBatchMachine, type BatchSessionInput, type BlobBatchEvent, type BlobBatchInput, type BlobBatchOutput } from '../../machines/blobBatch.js';
import { OctopiiError, toOctopiiError } from '../errors.js';
import { ByteReader } from '../lane/bytes.js';
import type { OctopiiNode, PeerRef } from '../node/node.js';
import { CODEC, encodeBlobBatchRequest, readBlobFrame } from '../wire/blobs.js';
import { actorOutput } from './actorOutput.js';
import { decompressBlock, SUPPORTED_CODECS } from './codec.js';
import { onLoopback, type FetchHandles } from './fetch.js';
import { ReadGate } from './readGate.js';
import type { DownloadLimits } from './downloadLimits.js';
import type { BlobStore } from './store.js';
import { blockCount, isBlockBytes, MAX_BLOCK_BYTES, parseRoot } from './tree.js';

export type { BlobBatchOutput } from '../../machines/blobBatch.js';

/** Blobs being written at once by one batch before it stops reading (each one-block blob costs two fdatasyncs, which overlap). */
export const BATCH_BLOBS_IN_FLIGHT = 16;

/** What the session gets as `handles` (a single fetch's, less its scope). */
export type BatchHandles = Omit<FetchHandles, 'scope' | 'onWire'>;

const handlesOf = (h: unknown): BatchHandles => h as BatchHandles;

/** The machine with its I/O provided. */
export const blobBatchLogic = blobBatchMachine.provide({
  actors: {
    session: fromCallback<EventObject, BatchSessionInput>(({ input, sendBack, receive }) => {
      const { store, open, accept = [...SUPPORTED_CODECS], window = BATCH_BLOBS_IN_FLIGHT, limits, peer = '', now = Date.now } = handlesOf(input.handles);
      const roots = input.roots.map(parseRoot);
      const ac = new AbortController();
      let stream: Awaited<ReturnType<typeof open>> | undefined;
      let finished = false;
      const pending = new Set<Promise<void>>();
      let high = false;
      /** Block writes of the blob being read (tracked as one once its END frame is in). */
      let current: Array<Promise<unknown>> = [];
      const send = (e: BlobBatchEvent) => {
        if (!ac.signal.aborted) sendBack(e);
      };
      const gate = new ReadGate({ limits, peer, now, signal: ac.signal, throttle: (waitMs) => send({ type: 'THROTTLE', waitMs }) });
      receive((e) => gate.receive(e));
      /** Tracks a blob's landing in the window (HIGH_WATER at `window`, LOW_WATER at half). */
      const track = (p: Promise<void>): void => {
        const q = p.then(
          () => undefined,
          (e: unknown) => gate.fail(e),
        ).finally(() => {
          pending.delete(q);
          if (high && pending.size <= Math.floor(window / 2)) {
            high = false;
            send({ type: 'LOW_WATER' });
          }
        });
        pending.add(q);
        if (!high && pending.size >= window) {
          high = true;
          send({ type: 'HIGH_WATER' });
        }
      };
      const run = async () => {
        // The session starts inside the supervisor's SPAWN of this machine; opening the stream may
        // spawn the peer actor (first contact), which the supervisor takes only after that SPAWN.
        await Promise.resolve();
        if (ac.signal.aborted) return;
        stream = await open(ac.signal);
        const w = stream.writable.getWriter();
        await w.write(encodeBlobBatchRequest({ roots, accept }));
        await w.close();
        const r = new ByteReader(stream.readable.getReader());
        const first = await readBlobFrame(r, MAX_BLOCK_BYTES);
        if (first.type === 'error') {
          // A provider that predates batches (or will not take this one) answers an ERROR at once.
          finished = true;
          send({ type: 'REFUSED', error: first.error.toJSON() });
          return;
        }
        if (first.type !== 'batch' || first.count !== roots.length) throw new OctopiiError('PROTOCOL_ERROR', `expected a batch frame for ${roots.length} roots, got ${first.type}`);
        send({ type: 'ACCEPTED' });
        for (let i = 0; i < roots.length; i++) {
          const root = roots[i]!;
          await gate.pass();
          if (ac.signal.aborted) return;
          const head = await readBlobFrame(r, MAX_BLOCK_BYTES);
          if (head.type === 'error') {
            send({ type: 'BLOB_FAILED', index: i, error: head.error.toJSON() });
            continue;
          }
          if (head.type !== 'header') throw new OctopiiError('PROTOCOL_ERROR', `expected a header frame for root ${i} of the batch, got ${head.type}`);
          if (!isBlockBytes(head.blockBytes)) throw new OctopiiError('PROTOCOL_ERROR', `provider names block size ${head.blockBytes} (a power of two from 16 KiB to 16 MiB)`);
          const { size, blockBytes } = head;
          const n = blockCount(size, blockBytes);
          const puts: Array<Promise<unknown>> = (current = []);
          for (let b = 0; b < n; b++) {
            if (b > 0) await gate.pass();
            if (ac.signal.aborted) return;
            const f = await readBlobFrame(r, blockBytes);
            if (f.type === 'error') throw f.error; // mid-blob: the provider could not read its own blob
            if (f.type !== 'block') throw new OctopiiError('PROTOCOL_ERROR', `expected block ${b} of root ${i} of the batch, got ${f.type}`);
            if (f.index !== b) throw new OctopiiError('PROTOCOL_ERROR', `block ${f.index} of root ${i} where block ${b} was due`);
            if (f.codec !== CODEC.NONE && !accept.includes(f.codec)) throw new OctopiiError('PROTOCOL_ERROR', `block ${f.index} in codec ${f.codec}, which the request did not accept`);
            gate.owe(f.data.byteLength);
            // Verified before written (putBlock); a many-block blob's blocks land deferred and its last block completes it.
            const put = (f.codec === CODEC.NONE ? Promise.resolve(f.data) : decompressBlock(f.codec, f.data, f.rawLength)).then((data) =>
              store.putBlock(root, f.index, data, { size, blockBytes, siblings: f.proof }, { defer: n > 1 }),
            );
            put.then(
              () => n > 1 && send({ type: 'WRITTEN' }),
              (e: unknown) => gate.fail(e),
            );
            puts.push(put);
          }
          const end = await readBlobFrame(r, blockBytes);
          if (end.type !== 'end') throw new OctopiiError('PROTOCOL_ERROR', `expected the end of root ${i} of the batch, got ${end.type}`);
          const index = i;
          current = [];
          track(
            Promise.all(puts).then(async () => {
              await store.flush(root);
              if (!(await store.has(root))) throw new OctopiiError('INTERNAL', `root ${index} of the batch landed every block and is not complete`);
              send({ type: 'BLOB_DONE', index, bytes: size, blocks: n });
            }),
          );
        }
        await Promise.all(pending);
        if (gate.failure !== undefined) throw gate.failure;
        finished = true;
        send({ type: 'END' });
      };
      run().catch(async (e: unknown) => {
        const error = toOctopiiError(e, 'STREAM_ABORTED');
        stream?.abort(error);
        // Blobs already verified and being written still land (and are reported): only the rest go back.
        await Promise.allSettled([...pending, ...current]);
        send({ type: 'FAILED', error: (gate.failure !== undefined ? toOctopiiError(gate.failure, 'STREAM_ABORTED') : error).toJSON() });
      });
      return () => {
        ac.abort();
        gate.wake();
        if (!finished) stream?.abort(new OctopiiError('CANCELLED', 'batch session stopped'));
      };
    }),
  },
});

export interface FetchBatchOptions {
  signal?: AbortSignal;
  /** Called as blobs land: blobs and bytes this batch landed so far. */
  onProgress?: (blobs: number, bytes: number) => void;
  /** Accept compressed blocks (default as for a single fetch: true unless the provider is on a loopback address). */
  compression?: boolean;
  /** Blobs being written at once before reading pauses (default {@link BATCH_BLOBS_IN_FLIGHT}). */
  window?: number;
  /** Download caps shared with other fetches (src/blobs/downloadLimits.ts). */
  limits?: DownloadLimits;
  /** No answer for this long fails the batch (TIMEOUT), ms (default 30,000). */
  idleMs?: number;
}

const batchSeq = new WeakMap<OctopiiNode, number>();

/**
 * Fetches the whole blobs `roots` (1 to 1,024, each one the store lacks entirely) from `peer` on
 * one stream. Never rejects for a network or provider failure: resolves with the machine's
 * output (`complete`, `failed` with the error, or `refused`); rejects CLOSED when the node is
 * stopped. Throws PROTOCOL_ERROR for 0 or more than 1,024 roots (the wire bound).
 */
export async function fetchBatch(node: OctopiiNode, peer: PeerRef, roots: readonly Uint8Array[], store: BlobStore, options: FetchBatchOptions = {}): Promise<BlobBatchOutput> {
  const { signal, onProgress, compression, window, limits, idleMs } = options;
  encodeBlobBatchRequest({ roots: [...roots] }); // the bounds, before anything starts
  const peerId = peer.nodeId ? `peer:${peer.nodeId}` : `addr:${peer.address}`;
  const handles: BatchHandles = {
    store,
    open: (s) => node.openStream(peer, 'blobs', { signal: s }),
    ...(compression === false || (compression === undefined && onLoopback(peer)) ? { accept: [] } : {}),
    ...(window !== undefined ? { window } : {}),
    ...(limits?.active ? { limits, peer: peerId, now: () => node.clock.now() } : {}),
  };
  const n = (batchSeq.get(node) ?? 0) + 1;
  batchSeq.set(node, n);
  const releases = roots.map((r) => store.pin(r));
  try {
    const input: BlobBatchInput = { handles, roots: roots.map((r) => Buffer.from(r).toString('hex')), ...(idleMs !== undefined ? { idleMs } : {}) };
    const ref = node.spawn(`${peerId}/batch#${n}`, blobBatchLogic, { input, restart: 'temporary' });
    return await outputOf(ref, signal, onProgress);
  } finally {
    for (const release of releases) release();
  }
}

/** Runs the machine without a node (tests): same logic, its own actor. */
export function runBlobBatch(input: BlobBatchInput, clock?: import('../runtime/clock.js').Clock): Promise<BlobBatchOutput> {
  const ref = createActor(blobBatchLogic, { input, ...(clock ? { clock } : {}) });
  const p = outputOf(ref);
  ref.start();
  return p;
}

function outputOf(ref: AnyActorRef, signal?: AbortSignal, onProgress?: (count: number, bytes: number) => void): Promise<BlobBatchOutput> {
  return actorOutput<BlobBatchOutput>(ref, { what: 'batch', count: (c) => c.done?.length ?? 0, signal, onProgress });
}
