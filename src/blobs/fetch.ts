/**
 * The fetcher side of the `blobs` stream kind: `fetchBlob(node, peer, root, store)` runs one
 * blobFetch machine (machines/blobFetch.ts) under the node's supervisor as
 * `peer:<nodeId>/fetch#n` and resolves with its output. The provided actors below do the I/O:
 * `loadMissing` asks the store's verified-block map what is missing (nothing is re-read or
 * re-hashed), `session` streams the missing ranges, verifying every block against the root
 * before the store writes it (src/blobs/store.ts `putBlock`), up to `window` block writes in
 * flight (default {@link FETCH_BLOCKS_IN_FLIGHT}) before it reports HIGH_WATER. The blob's block
 * size comes in the provider's header (bound into the root, so a lie fails every proof). With
 * download limits (src/blobs/downloadLimits.ts) each block read reserves its wire bytes, and a
 * wait the limits name is timed by the machine (`streaming.throttled`) before the next read.
 * Blocks are written deferred (src/blobs/landing.ts) and committed — made durable with their map
 * bits, three fdatasyncs — every {@link FETCH_COMMIT_BYTES} and when the session ends, fails or
 * is stopped; a block is reported (BLOCK, the fetch's progress) once committed. A crash
 * re-fetches at most the blocks written since the last commit.
 *
 *   const result = await fetchBlob(node, { address, nodeId }, root, store);
 *   if (result.status === 'complete') await store.read(root, { offset: 0, length: result.size! });
 */
import { createActor, fromCallback, fromPromise, type AnyActorRef, type EventObject } from 'xstate';
import { blobFetchMachine, type BlobFetchInput, type BlobFetchOutput, type BlockRanges, type SessionInput } from '../../machines/blobFetch.js';
import { OctopiiError, toOctopiiError } from '../errors.js';
import { ByteReader } from '../lane/bytes.js';
import type { OctopiiNode, PeerRef } from '../node/node.js';
import { isLoopbackHost, parseAddress } from '../transport/address.js';
import type { DuplexStream } from '../transport/types.js';
import { BLOBS_TO_END, CODEC, encodeBlobRequest, readBlobFrame, type Codec } from '../wire/blobs.js';
import { actorOutput } from './actorOutput.js';
import { decompressBlock, SUPPORTED_CODECS } from './codec.js';
import type { DownloadLimits } from './downloadLimits.js';
import { leafBuffers } from './leafBuffers.js';
import { ReadGate } from './readGate.js';
import type { BlobStore } from './store.js';
import { BLOCK_BYTES, blockCount, isBlockBytes, LEAF_PREFIX_BYTES, MAX_BLOCK_BYTES, parseRoot, rootHex } from './tree.js';

/** Default window: block writes in flight before the session pauses reading (HIGH_WATER); LOW_WATER at half. */
export const FETCH_BLOCKS_IN_FLIGHT = 4;
/** Largest window a fetch accepts, blocks. */
export const FETCH_MAX_WINDOW = 1024;

/** `w` when it is a window (a whole number of blocks, 1 to {@link FETCH_MAX_WINDOW}); throws INVALID_ARGUMENT otherwise. */
export function checkWindow(w: number): number {
  if (!Number.isInteger(w) || w < 1 || w > FETCH_MAX_WINDOW) throw new OctopiiError('INVALID_ARGUMENT', `fetch window ${w} is not a whole number of blocks from 1 to ${FETCH_MAX_WINDOW}`);
  return w;
}

/**
 * Most bytes of blocks a fetch session writes between two commits of the verified-block map
 * (16 MiB: 64 commits per GiB, where landing each group of ≤ 4 blocks durably took 256–1,024);
 * a smaller blob commits every eighth of it (at least every block). So a crash makes a resume
 * fetch again at most min(16 MiB, size/8) — and progress (reported per commit) moves in steps no
 * coarser. Measured: `npm run bench:blobs-cli`.
 */
export const FETCH_COMMIT_BYTES = 16 << 20;

/** Bytes between two commits of a fetch of a `size`-byte blob in `blockBytes` blocks (see {@link FETCH_COMMIT_BYTES}). */
export const commitEvery = (size: number, blockBytes = BLOCK_BYTES): number => Math.min(FETCH_COMMIT_BYTES, Math.max(blockBytes, Math.floor(size / 8)));

/** What the actors get as `handles`. */
export interface FetchHandles {
  store: BlobStore;
  open: (signal: AbortSignal) => Promise<DuplexStream>;
  /** Only these block ranges (multi-source fetch gives each provider its share); default all. */
  scope?: BlockRanges;
  /** Codecs to accept in the request (default: all this version decodes, src/blobs/codec.ts). */
  accept?: Codec[];
  /** Called per block received: its index, its bytes, and the bytes it took on the wire (less when compressed). */
  onWire?: (index: number, bytes: number, wireBytes: number) => void;
  /** Block writes in flight before reading pauses (default {@link FETCH_BLOCKS_IN_FLIGHT}). */
  window?: number;
  /** Download caps shared with other fetches, the provider's key in them, and the clock they run on (ms). */
  limits?: DownloadLimits;
  peer?: string;
  now?: () => number;
}

/** `missing` cut down to `scope` (null missing = nothing held: the scope itself). */
export function intersectRanges(missing: BlockRanges | null, scope: BlockRanges | undefined): BlockRanges | null {
  if (!scope) return missing;
  if (missing === null) return scope.map(([s, e]) => [s, e]);
  const out: BlockRanges = [];
  for (const [a, b] of missing) for (const [c, d] of scope) if (Math.max(a, c) < Math.min(b, d)) out.push([Math.max(a, c), Math.min(b, d)]);
  return out.sort((x, y) => x[0] - y[0]);
}

const handlesOf = (h: unknown): FetchHandles => h as FetchHandles;

/** Block `index` lies in `ranges` (null: everything). */
const inRanges = (ranges: BlockRanges | null, index: number): boolean => ranges === null || ranges.some(([s, e]) => index >= s && index < e);

/** The machine with its I/O provided. */
export const blobFetchLogic = blobFetchMachine.provide({
  actors: {
    loadMissing: fromPromise<BlockRanges | null, { handles: unknown; root: string }>(async ({ input }) => {
      const h = handlesOf(input.handles);
      return intersectRanges(await h.store.missing(parseRoot(input.root)), h.scope);
    }),
    session: fromCallback<EventObject, SessionInput>(({ input, sendBack, receive }) => {
      const { store, open, accept = [...SUPPORTED_CODECS], onWire, window = FETCH_BLOCKS_IN_FLIGHT, limits, peer = '', now = Date.now } = handlesOf(input.handles);
      const root = parseRoot(input.root);
      const ac = new AbortController();
      let stream: DuplexStream | undefined;
      let finished = false;
      const gate = new ReadGate({ limits, peer, now, signal: ac.signal, throttle: (waitMs) => sendBack({ type: 'THROTTLE', waitMs }) });
      const pending = new Set<Promise<void>>();
      // Blocks written and not yet committed; commits run one after another.
      let written: Array<{ index: number; bytes: number }> = [];
      let writtenBytes = 0;
      let commits: Promise<void> = Promise.resolve();
      /** Commits the blocks written so far, then reports them (BLOCK): progress is durable progress. A failed commit clears their bits (fetched again). */
      const commit = (): Promise<void> => {
        const batch = written;
        written = [];
        writtenBytes = 0;
        const c = commits.then(async () => {
          if (batch.length === 0) return;
          await store.flush(root);
          if (!ac.signal.aborted) for (const b of batch) sendBack({ type: 'BLOCK', index: b.index, bytes: b.bytes });
        });
        commits = c.catch((e: unknown) => gate.fail(e));
        return c;
      };
      receive((e) => gate.receive(e));
      const run = async () => {
        stream = await open(ac.signal);
        const w = stream.writable.getWriter();
        await w.write(encodeBlobRequest({ root, ranges: input.missing ?? [[0, BLOBS_TO_END]], accept }));
        await w.close();
        const r = new ByteReader(stream.readable.getReader());
        const head = await readBlobFrame(r, MAX_BLOCK_BYTES);
        if (head.type === 'error') throw head.error;
        if (head.type !== 'header') throw new OctopiiError('PROTOCOL_ERROR', `expected a header frame, got ${head.type}`);
        if (!isBlockBytes(head.blockBytes)) throw new OctopiiError('PROTOCOL_ERROR', `provider names block size ${head.blockBytes} (a power of two from 16 KiB to 16 MiB)`);
        const { size, blockBytes } = head;
        sendBack({ type: 'HEADER', size, blocks: blockCount(size, blockBytes) });
        const every = commitEvery(size, blockBytes);
        let high = false;
        for (;;) {
          // Not paused, and the last block's bytes reserved: a wait goes to the chart (THROTTLE → UNTHROTTLE).
          await gate.pass();
          if (ac.signal.aborted) return;
          // An uncompressed block is read into a reused leaf buffer and hashed where it lies (no copy, no 1 MiB allocation per block).
          let buf: Uint8Array | undefined;
          const f = await readBlobFrame(r, blockBytes, (len) => (buf = leafBuffers.take(len)).subarray(LEAF_PREFIX_BYTES, LEAF_PREFIX_BYTES + len));
          if (f.type === 'error') throw f.error;
          if (f.type === 'header') throw new OctopiiError('PROTOCOL_ERROR', 'a second header frame');
          if (f.type === 'batch') throw new OctopiiError('PROTOCOL_ERROR', 'a batch frame on a single-blob stream');
          if (f.type === 'end') {
            await Promise.all(pending);
            if (gate.failure !== undefined) throw gate.failure;
            await commit();
            finished = true;
            sendBack({ type: 'END' });
            return;
          }
          if (!inRanges(input.missing, f.index)) throw new OctopiiError('PROTOCOL_ERROR', `block ${f.index} was not asked for`);
          if (f.codec !== CODEC.NONE && !accept.includes(f.codec)) throw new OctopiiError('PROTOCOL_ERROR', `block ${f.index} in codec ${f.codec}, which the request did not accept`);
          onWire?.(f.index, f.rawLength, f.data.byteLength);
          gate.owe(f.data.byteLength);
          // a compressed block is decompressed (bounded by its rawLength) and then verified like any other
          const p: Promise<void> = (f.codec === CODEC.NONE ? Promise.resolve(f.data) : decompressBlock(f.codec, f.data, f.rawLength))
            .then((data) => store.putBlock(root, f.index, data, { size, blockBytes, siblings: f.proof }, { defer: true, headroom: data === f.data && buf !== undefined }))
            .then(
              (landed) => {
                // A block the store already held (another fetch landed it) is not this fetch's progress.
                if (landed === 'duplicate') return;
                if (!ac.signal.aborted) sendBack({ type: 'WRITTEN' });
                written.push({ index: f.index, bytes: f.rawLength });
                writtenBytes += f.rawLength;
                // 'complete': the store made every block durable to complete the blob.
                if (landed === 'complete' || writtenBytes >= every) void commit().catch(() => undefined);
              },
              (e: unknown) => gate.fail(e),
            )
            .finally(() => {
              if (buf) leafBuffers.give(buf);
              pending.delete(p);
              if (high && pending.size <= Math.floor(window / 2) && !ac.signal.aborted) {
                high = false;
                sendBack({ type: 'LOW_WATER' });
              }
            });
          pending.add(p);
          if (!high && pending.size >= window) {
            high = true;
            sendBack({ type: 'HIGH_WATER' });
          }
        }
      };
      run().catch(async (e: unknown) => {
        const error = toOctopiiError(e, 'STREAM_ABORTED');
        stream?.abort(error);
        // Verified blocks already read still land: the resume then asks for exactly what is missing.
        await Promise.allSettled([...pending]);
        await commit().catch(() => undefined);
        if (!ac.signal.aborted) sendBack({ type: 'FAILED', error: error.toJSON() });
      });
      return () => {
        ac.abort();
        gate.wake();
        void Promise.allSettled([...pending]).then(() => commit().catch(() => undefined));
        if (!finished) stream?.abort(new OctopiiError('CANCELLED', 'fetch session stopped'));
      };
    }),
  },
});

export interface FetchBlobOptions extends Omit<BlobFetchInput, 'handles' | 'root'> {
  signal?: AbortSignal;
  /** Called as blocks land (verified and durable: reported per commit of the map, every min(16 MiB, size/8)): blocks and bytes this fetch wrote so far. */
  onProgress?: (blocks: number, bytes: number) => void;
  /**
   * Accept compressed blocks (false = ask for blocks as they are, as a peer before codecs did).
   * Default: true, except from a provider dialled on a loopback address — both ends then share
   * one machine's CPU and no link time is saved (measured 0.54–0.79× uncompressed on source
   * code, `codec` rows of `npm run bench:blobs`).
   */
  compression?: boolean;
  /** Called per block received, before it is verified: index, bytes, bytes on the wire. */
  onWire?: (index: number, bytes: number, wireBytes: number) => void;
  /**
   * Block writes in flight before reading pauses, 1 to {@link FETCH_MAX_WINDOW} (default
   * {@link FETCH_BLOCKS_IN_FLIGHT}); the session holds up to window × the blob's block size bytes.
   */
  window?: number;
  /** Download caps (node-wide and per provider) to share with other fetches (default none). */
  limits?: DownloadLimits;
}

const fetchSeq = new WeakMap<OctopiiNode, number>();

/** `peer` is dialled on a loopback address (127.0.0.0/8, ::1). */
export function onLoopback(peer: PeerRef): boolean {
  try {
    return isLoopbackHost(parseAddress(peer.address).host);
  } catch {
    return false;
  }
}

/**
 * Fetches blob `root` from `peer` into `store`: resumes from what the store holds, asks only
 * for missing blocks, verifies each before it is written, retries with backoff across
 * disconnects. Never rejects for a network or provider failure: resolves with
 * `{ status: 'failed', error }` (BLOB_NOT_FOUND, BLOCK_MISMATCH, UNAVAILABLE …); rejects CLOSED
 * when the node is stopped; throws INVALID_ARGUMENT for a window outside 1 to {@link FETCH_MAX_WINDOW}.
 */
export async function fetchBlob(node: OctopiiNode, peer: PeerRef, root: Uint8Array, store: BlobStore, options: FetchBlobOptions & { scope?: BlockRanges } = {}): Promise<BlobFetchOutput> {
  const { signal, scope, onProgress, compression, onWire, window, limits, ...rest } = options;
  const peerId = peer.nodeId ? `peer:${peer.nodeId}` : `addr:${peer.address}`;
  const handles: FetchHandles = {
    store,
    open: (s) => node.openStream(peer, 'blobs', { signal: s }),
    ...(scope ? { scope } : {}),
    ...(compression === false || (compression === undefined && onLoopback(peer)) ? { accept: [] } : {}),
    ...(onWire ? { onWire } : {}),
    ...(window !== undefined ? { window: checkWindow(window) } : {}),
    ...(limits?.active ? { limits, peer: peerId, now: () => node.clock.now() } : {}),
  };
  const n = (fetchSeq.get(node) ?? 0) + 1;
  fetchSeq.set(node, n);
  const release = store.pin(root);
  try {
    const ref = node.spawn(`${peerId}/fetch#${n}`, blobFetchLogic, { input: { ...rest, handles, root: rootHex(root) } satisfies BlobFetchInput, restart: 'temporary' });
    return await outputOf(ref, signal, onProgress);
  } finally {
    release();
  }
}

/** Runs the machine without a node (tests): same logic, its own actor. */
export function runBlobFetch(input: BlobFetchInput, clock?: import('../runtime/clock.js').Clock): Promise<BlobFetchOutput> {
  const ref = createActor(blobFetchLogic, { input, ...(clock ? { clock } : {}) });
  const p = outputOf(ref);
  ref.start();
  return p;
}

function outputOf(ref: AnyActorRef, signal?: AbortSignal, onProgress?: (count: number, bytes: number) => void): Promise<BlobFetchOutput> {
  return actorOutput<BlobFetchOutput>(ref, { what: 'fetch', count: (c) => c.blocks ?? 0, signal, onProgress });
}
