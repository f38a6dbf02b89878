/**
 * Receiving side of Shipping Lane v1 (seed 001 `recv_chunk_verified`): the I/O actors and
 * actions of the pure `laneReceiveMachine` (machines/laneReceive.ts), which decides every phase,
 * pause and deadline. Each actor takes its `input` and shares nothing with the others.
 *
 * Data path: the network's chunks, as the stream hands them out, are hashed and gathered into
 * batches of 1 MiB that go to the sink in one writev each (writes pipelined, in order): nothing
 * is copied into blocks first (measured with `npm run bench:cli-vs-quinn`; bench/README.md).
 * The pump reports HIGH_WATER when
 * `maxBlocksInFlight` sink writes are pending and LOW_WATER once at most one is, and stops
 * reading from the network only while the machine holds it in `paused`.
 */
import { laneReceiveMachine, type LaneReceiveEvent, type LaneReceiveInput, type LaneReceiveOutput, type LaneReplyInput } from '../../machines/laneReceive.js';
import { LaneStatus, OctopiiError, toErrorInfo, type ErrorInfo } from '../errors.js';
import { INLINE_HASH_MAX_BYTES, sharedHashPool, toHex } from '../hash/index.js';
import type { Hasher } from '../runtime/types.js';
import type { DuplexStream } from '../transport/types.js';
import { decodeLaneHeader, LANE_V1_HEADER_BYTES, LANE_V1_TRAILER_BYTES } from '../wire/laneV1.js';
import { ByteReader } from './bytes.js';
import { DEFAULT_LANE_TIMEOUT_MS, LANE_PROGRESS_BYTES } from './constants.js';
import { hostLaneActor, startLaneActor } from './host.js';
import { encodeLaneReason } from './reason.js';
import { effect as baseEffect, finishStream, watchSignal, type EffectArgs } from './actors.js';
import { openSink, sinkCap, type OpenedSink } from './sink.js';
import { LANE_BLOCK_BYTES, LANE_MAX_BLOCKS_IN_FLIGHT } from './source.js';
import type { LaneSink, ReceiveLaneOptions, ReceiveResult } from './types.js';
import { Waker } from './util.js';

const effect = <I>(body: (args: EffectArgs<I, LaneReceiveEvent>) => (() => void) | void) => baseEffect<I, LaneReceiveEvent>(body);

/** The 8-byte size → HEADER | HEADER_FAILED. */
const readHeader = effect<{ reader: unknown }>(({ input, send }) => {
  (input.reader as ByteReader).readExact(LANE_V1_HEADER_BYTES, 'size header').then(
    (header) => {
      try {
        send({ type: 'HEADER', size: decodeLaneHeader(header) });
      } catch (e) {
        send({ type: 'HEADER_FAILED', error: toErrorInfo(e, 'PROTOCOL_ERROR') });
      }
    },
    (e) => send({ type: 'HEADER_FAILED', error: toErrorInfo(e, 'PROTOCOL_ERROR') }),
  );
});

interface PumpInput {
  reader: unknown;
  sink: unknown;
  hasher: unknown;
  size: number;
  blockBytes: number;
  maxBlocksInFlight: number;
}

/**
 * Opens the sink at the first data byte, then data → sink + hasher, then the trailer. Obeys
 * PAUSE / RESUME; as a defence against a chart that never pauses, it never has more than
 * 2 × maxBlocksInFlight sink writes pending.
 */
/**
 * Sinks a pump is opening, by their LaneSink (one object per transfer): a discard that comes
 * while the open is under way (the transfer was aborted at that moment) waits for it and removes
 * the file, so a failed receive has left nothing behind by the time it reports.
 */
const opening = new WeakMap<object, Promise<OpenedSink | undefined>>();

const pump = effect<PumpInput>(({ input, send, stopped, receive }) => {
  const reader = input.reader as ByteReader;
  const size = input.size;
  const maxInFlight = input.maxBlocksInFlight;
  const lowWater = Math.min(1, maxInFlight - 1);
  const waker = new Waker();
  let paused = false;
  receive((e) => {
    paused = e.type === 'PAUSE';
    waker.wake();
  });
  let hash: ReturnType<Hasher['createSha256']> | undefined;
  let chain: Promise<void> = Promise.resolve();
  (async () => {
    const truncated = (got: number) => new OctopiiError('PROTOCOL_ERROR', `truncated data: got ${got} of ${size} bytes`);
    // No file before the first data byte: a stream that announces a size and stalls holds nothing.
    let trailer: Uint8Array | undefined;
    if (size === 0) trailer = await reader.readExact(LANE_V1_TRAILER_BYTES, 'checksum trailer');
    else if (!(await reader.waitForData())) throw truncated(0);
    if (stopped()) return;
    const pending = openSink(input.sink as LaneSink, size);
    opening.set(input.sink as object, pending.catch(() => undefined));
    const out = await pending;
    if (stopped()) return void (await out.discard().catch(() => undefined)); // nobody will own it
    send({ type: 'SINK_OPENED', sink: out });
    const h = (input.hasher as Hasher).createSha256({ inline: size <= INLINE_HASH_MAX_BYTES, jobBytes: input.blockBytes });
    hash = h;
    // The network's chunks are hashed and written as they are: a batch of them (blockBytes in
    // all, the last one shorter) goes to the sink in one writev, so no byte is copied on the
    // way (an inline hasher reads them in place; a pool hasher copies them into its jobs).
    let received = 0;
    let written = 0;
    let reported = 0;
    let inFlight = 0;
    let high = false;
    let writeError: unknown;
    let batch: Uint8Array[] = [];
    let batchBytes = 0;
    while (received < size) {
      while ((paused || inFlight >= 2 * maxInFlight) && writeError === undefined && !stopped()) await waker.wait();
      if (stopped()) return;
      if (writeError !== undefined) throw writeError;
      const want = Math.min(input.blockBytes - batchBytes, size - received);
      const part = await reader.read(want);
      if (!part) throw truncated(received);
      received += part.byteLength;
      await h.update(part);
      batch.push(part);
      batchBytes += part.byteLength;
      if (batchBytes < input.blockBytes && received < size) continue;
      const blocks = batch;
      const len = batchBytes;
      batch = [];
      batchBytes = 0;
      inFlight++;
      chain = chain.then(() => out.writev(blocks));
      chain.then(
        () => {
          inFlight--;
          written += len;
          if (written - reported >= LANE_PROGRESS_BYTES) {
            reported = written;
            send({ type: 'PROGRESS', bytes: written });
          }
          if (high && inFlight <= lowWater) {
            high = false;
            send({ type: 'LOW_WATER' });
          }
          waker.wake();
        },
        (e: unknown) => {
          writeError ??= e;
          waker.wake();
        },
      );
      if (!high && inFlight >= maxInFlight) {
        high = true;
        send({ type: 'HIGH_WATER' });
      }
    }
    trailer ??= await reader.readExact(LANE_V1_TRAILER_BYTES, 'checksum trailer');
    await chain;
    const digest = await h.digest();
    send({ type: 'DATA_RECEIVED', bytes: size, digest: toHex(digest), trailer: toHex(trailer) });
  })().catch((e: unknown) => {
    chain.catch(() => undefined);
    send({ type: 'PUMP_FAILED', error: toErrorInfo(e, 'STREAM_ABORTED') });
  });
  return () => {
    hash?.abort(); // no-op once digested
    waker.wake();
  };
});

/** After the trailer the sender's side must end: EOF → DRAINED, one more byte → EXCESS. */
const drain = effect<{ reader: unknown }>(({ input, send }) => {
  (input.reader as ByteReader).readByte().then(
    (b) => send(b === undefined ? { type: 'DRAINED' } : { type: 'EXCESS' }),
    (e) => send({ type: 'DRAIN_FAILED', error: toErrorInfo(e, 'STREAM_ABORTED') }),
  );
});

/** fsync + rename (file/blob) → COMMITTED { stored } | COMMIT_FAILED. */
const commit = effect<{ sink: unknown; sha256: string }>(({ input, send }) => {
  const sink = input.sink as OpenedSink;
  sink.commit(input.sha256).then(
    () => send({ type: 'COMMITTED', stored: sink.result() }),
    (e) => send({ type: 'COMMIT_FAILED', error: toErrorInfo(e, 'IO_ERROR') }),
  );
});

/** The status byte (with `reasons` and a non-zero status: + reason frame), then FIN → REPLIED | REPLY_FAILED. */
const reply = effect<LaneReplyInput>(({ input, send }) => {
  const stream = input.stream as DuplexStream;
  void (async () => {
    try {
      const w = stream.writable.getWriter();
      const frame = input.reasons && input.status !== LaneStatus.OK && input.reason ? encodeLaneReason(input.reason) : undefined;
      const bytes = new Uint8Array(1 + (frame?.byteLength ?? 0));
      bytes[0] = input.status;
      if (frame) bytes.set(frame, 1);
      await w.write(bytes);
      // The status is out once written; closing (FIN) may be refused by a peer that already left.
      void w.close().catch(() => undefined);
      send({ type: 'REPLIED', status: input.status });
    } catch (e) {
      send({ type: 'REPLY_FAILED', error: toErrorInfo(e, 'STREAM_ABORTED') });
    }
  })();
});

/** Removes what the sink wrote and did not commit (no sink yet: nothing) → DISCARDED. */
const discardSink = effect<{ sink: unknown; config: unknown }>(({ input, send }) => {
  const sink = input.sink as OpenedSink | null;
  const pending = !sink && input.config && typeof input.config === 'object' ? opening.get(input.config) : undefined;
  void (async () => {
    const target = sink ?? (await pending);
    await target?.discard().catch(() => undefined);
  })().then(() => send({ type: 'DISCARDED' }));
});

/** laneReceiveMachine with its I/O. */
export const laneReceiveLogic = laneReceiveMachine.provide({
  actors: { watchSignal, readHeader, pump, drain, commit, discardSink, reply, finishStream },
  actions: {
    abortStream: ({ context }) =>
      (context.handles.stream as DuplexStream).abort(OctopiiError.from(context.error ?? { code: 'ABORTED', message: 'lane receive failed' })),
    // Our status is on its way: stop reading (the sender may still be pushing data) without a
    // reset, which could discard the status in flight.
    stopReading: ({ context }) => void (context.handles.reader as ByteReader).cancel(new OctopiiError('STREAM_ABORTED', 'receiver finished')),
    releaseReader: ({ context }) => {
      const reader = context.handles.reader as ByteReader;
      if (!reader.atEnd) void reader.cancel();
    },
  },
});

/**
 * Receives one Shipping Lane v1 transfer from `stream` into `sink` and answers the status
 * byte; resolves with a {@link ReceiveResult} taken from the machine's output alone, never
 * rejects.
 *
 * - checksum matches and the sender's side ends after the trailer → sink committed (file:
 *   fsync + rename), status 0, `success: true`;
 * - checksum differs → nothing kept, status 1, CHECKSUM_MISMATCH;
 * - size header over `min(options.maxBytes, sink cap)` → status 2, SIZE_LIMIT, nothing
 *   allocated or created (`outcome: 'rejected'`);
 * - more than size + 32 bytes, truncated or malformed input → PROTOCOL_ERROR, status 2 where
 *   still possible, nothing kept;
 * - stream reset → STREAM_ABORTED; `signal` → its reason if an OctopiiError, else ABORTED; no
 *   progress for `timeoutMs` (default 30,000 ms) → TIMEOUT; sink errors by their errno
 *   (DISK_FULL, PERMISSION_DENIED, SOURCE_NOT_FOUND for a missing directory, else IO_ERROR).
 * With `reasons`, a non-zero status is followed by the error (docs/PROTOCOL.md "Lane reasons").
 * Once committed, data is kept even if the status byte cannot be delivered (`path` is set).
 */
export async function receiveLane(stream: DuplexStream, sink: LaneSink, options: ReceiveLaneOptions = {}): Promise<ReceiveResult> {
  const started = performance.now();
  const shared = options.hasher ? undefined : sharedHashPool();
  const hasher = options.hasher ?? shared!.retain();
  try {
    const input: LaneReceiveInput = {
      handles: { stream, reader: new ByteReader(stream.readable.getReader()), sink, hasher, signal: options.signal },
      maxBytes: Math.min(options.maxBytes ?? Number.MAX_SAFE_INTEGER, sinkCap(sink)),
      timeoutMs: options.timeoutMs ?? DEFAULT_LANE_TIMEOUT_MS,
      blockBytes: Math.max(1, Math.floor(options.blockBytes ?? LANE_BLOCK_BYTES)),
      maxBlocksInFlight: Math.max(1, Math.floor(options.maxBlocksInFlight ?? LANE_MAX_BLOCKS_IN_FLIGHT)),
      reasons: options.reasons ?? false,
    };
    const actor = hostLaneActor(laneReceiveLogic, input, options);
    let out: LaneReceiveOutput | undefined;
    try {
      out = await startLaneActor(actor, options);
    } catch (e) {
      out = { status: 'failed', size: null, bytes: 0, sha256: null, stored: null, laneStatus: null, error: toErrorInfo(e, 'INTERNAL') };
    }
    if (!out) {
      // Stopped from outside (its supervisor stopping): no final state was reached and XState
      // runs no exit actions on stop, so release what the chart held here (a committed sink is kept).
      const ctx = actor.getSnapshot().context;
      const error: ErrorInfo = { code: 'ABORTED', message: 'lane receive stopped before it finished' };
      if (!ctx.stored) await (ctx.opened as OpenedSink | null)?.discard().catch(() => undefined);
      stream.abort(OctopiiError.from(error));
      out = { status: 'failed', size: ctx.size, bytes: ctx.bytes, sha256: ctx.sha256, stored: ctx.stored, laneStatus: ctx.laneStatus, error };
    }
    const success = out.status === 'acknowledged';
    return {
      success,
      outcome: out.status,
      bytes: out.size ?? 0,
      sha256: out.sha256 ?? '',
      ...(out.stored?.path !== undefined ? { path: out.stored.path } : {}),
      ...(success && out.stored?.data !== undefined ? { data: out.stored.data } : {}),
      ...(options.peer !== undefined ? { peer: options.peer } : {}),
      status: out.laneStatus as LaneStatus | null,
      durationMs: performance.now() - started,
      ...(out.error && !success ? { error: out.error } : {}),
    };
  } finally {
    await shared?.release();
  }
}
