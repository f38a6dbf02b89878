/**
 * Sending side of Shipping Lane v1 (seed 001 `send_chunk_verified`): the I/O actors and actions
 * of the pure `laneSendMachine` (machines/laneSend.ts), which decides every phase, pause and
 * deadline. Each actor takes its `input` and shares nothing with the others.
 *
 * Data path: source blocks of 1 MiB (file: positional reads into a ring of reused
 * SharedArrayBuffers, read-ahead overlapped with the network) → hasher (pool jobs pipelined,
 * bounded) and the stream writer (pipelined writes). The pump reports HIGH_WATER when
 * `maxBlocksInFlight` writes are unacknowledged and LOW_WATER once at most one is — hysteresis,
 * so pause/resume events come per several blocks — and stops submitting blocks only while the
 * machine holds it in `paused`.
 */
import { laneSendMachine, type LanePumpControl, type LaneSendEvent, type LaneSendInput, type LaneSendOutput } from '../../machines/laneSend.js';
import { decodeLaneStatus, encodeLaneHeader } from '../wire/laneV1.js';
import { OctopiiError, toErrorInfo, type ErrorInfo } from '../errors.js';
import { HASH_MAX_IN_FLIGHT, INLINE_HASH_MAX_BYTES, sharedHashPool, toHex } from '../hash/index.js';
import type { Hasher } from '../runtime/types.js';
import type { DuplexStream } from '../transport/types.js';
import { ByteReader } from './bytes.js';
import { DEFAULT_LANE_TIMEOUT_MS, LANE_PROGRESS_BYTES } from './constants.js';
import { hostLaneActor, startLaneActor } from './host.js';
import { decodeLaneReasonBody, decodeLaneReasonLength, LANE_REASON_LENGTH_BYTES } from './reason.js';
import { LANE_BLOCK_BYTES, LANE_MAX_BLOCKS_IN_FLIGHT, openSource, type OpenedSource } from './source.js';
import type { LaneSource, SendLaneOptions, TransferResult } from './types.js';
import { Waker } from './util.js';
import { effect as baseEffect, finishStream, watchSignal, type EffectArgs } from './actors.js';

/** A callback actor body: `send` is muted once the actor is stopped; returns its stop function. */
const effect = <I>(body: (args: EffectArgs<I, LaneSendEvent>) => (() => void) | void) => baseEffect<I, LaneSendEvent>(body);

/** Reads the receiver's reason frame after a non-zero status; undefined if there is none or it is malformed. */
async function readReason(reader: ByteReader): Promise<ErrorInfo | undefined> {
  try {
    const len = decodeLaneReasonLength(await reader.readExact(LANE_REASON_LENGTH_BYTES, 'lane reason length'));
    return decodeLaneReasonBody(await reader.readExact(len, 'lane reason'));
  } catch {
    return undefined;
  }
}

/** The receiver's status byte (and, with `reasons`, its reason frame) → STATUS | STATUS_FAILED. */
const readStatus = effect<{ reader: unknown; reasons: boolean }>(({ input, send }) => {
  const reader = input.reader as ByteReader;
  void (async () => {
    try {
      const b = await reader.readByte();
      if (b === undefined) throw new OctopiiError('CONNECTION_CLOSED', 'stream closed before the receiver sent its status byte');
      const status = decodeLaneStatus(b);
      const reason = input.reasons && status !== 0 ? await readReason(reader) : undefined;
      send(reason ? { type: 'STATUS', status, reason } : { type: 'STATUS', status });
    } catch (e) {
      send({ type: 'STATUS_FAILED', error: toErrorInfo(e, 'STREAM_ABORTED') });
    }
  })();
});

/** Opens the source → SOURCE_OPENED { source: OpenedSource } | SOURCE_FAILED. */
const openSourceActor = effect<{ source: unknown }>(({ input, send, stopped }) => {
  openSource(input.source as LaneSource).then(
    (opened) => {
      if (stopped()) void opened.close(); // nobody will own it
      else send({ type: 'SOURCE_OPENED', source: opened, size: opened.size });
    },
    (e) => send({ type: 'SOURCE_FAILED', error: toErrorInfo(e, 'IO_ERROR') }),
  );
});

interface PumpInput {
  stream: unknown;
  source: unknown;
  hasher: unknown;
  blockBytes: number;
  maxBlocksInFlight: number;
}

/** Marks errors of stream writes (the receiver may have answered and stopped reading). */
class WriteRefused {
  constructor(readonly cause: unknown) {}
}

/**
 * Header, data, trailer. Obeys PAUSE / RESUME; as a defence against a chart that never pauses
 * it never has more than 2 × maxBlocksInFlight writes pending.
 */
const pump = effect<PumpInput>(({ input, send, stopped, receive }) => {
  const stream = input.stream as DuplexStream;
  const src = input.source as OpenedSource;
  const maxInFlight = input.maxBlocksInFlight;
  const lowWater = Math.min(1, maxInFlight - 1);
  const hash = (input.hasher as Hasher).createSha256({ inline: src.size <= INLINE_HASH_MAX_BYTES, jobBytes: input.blockBytes });
  const waker = new Waker();
  let paused = false;
  receive((e) => {
    paused = (e as LanePumpControl).type === 'PAUSE';
    waker.wake();
  });
  let acked = 0;
  (async () => {
    const w = stream.writable.getWriter();
    const write = (b: Uint8Array) => w.write(b).catch((e: unknown) => Promise.reject(new WriteRefused(e)));
    await write(encodeLaneHeader(src.size));
    send({ type: 'HEADER_SENT' });
    let inFlight = 0;
    let high = false;
    let reported = 0;
    let writeError: WriteRefused | undefined;
    // Blocks come from a ring of reused buffers; one goes back once both its hash job and its
    // stream write are done. Held at once: the writes in flight, the hash jobs, the one in hand.
    for await (const lease of src.leasedBlocks(input.blockBytes, maxInFlight, 2 * maxInFlight + HASH_MAX_IN_FLIGHT + 1)) {
      while ((paused || inFlight >= 2 * maxInFlight) && writeError === undefined && !stopped()) await waker.wait();
      if (stopped()) return void lease.release();
      if (writeError !== undefined) throw writeError;
      const block = lease.data;
      let refs = 2;
      const done = () => {
        if (--refs === 0) lease.release();
      };
      await hash.update(block, { onHashed: done });
      inFlight++;
      write(block).then(
        () => {
          inFlight--;
          acked += block.byteLength;
          done();
          if (acked - reported >= LANE_PROGRESS_BYTES) {
            reported = acked;
            send({ type: 'PROGRESS', bytes: acked });
          }
          if (high && inFlight <= lowWater) {
            high = false;
            send({ type: 'LOW_WATER' });
          }
          waker.wake();
        },
        (e: WriteRefused) => {
          // Not released: a native write may still read the block; the ring dies with the transfer.
          writeError ??= e;
          waker.wake();
        },
      );
      if (!high && inFlight >= maxInFlight) {
        high = true;
        send({ type: 'HIGH_WATER' });
      }
    }
    const digest = await hash.digest();
    await write(digest); // resolves after every earlier write
    void w.close().catch(() => undefined); // FIN: the receiver sees the end of our side
    send({ type: 'DATA_SENT', bytes: src.size, sha256: toHex(digest) });
  })().catch((e: unknown) => {
    const refused = e instanceof WriteRefused;
    send({ type: 'PUMP_FAILED', error: toErrorInfo(refused ? e.cause : e, refused ? 'STREAM_ABORTED' : 'IO_ERROR'), bytes: acked, refused });
  });
  return () => {
    hash.abort(); // no-op once digested
    waker.wake();
  };
});

/** laneSendMachine with its I/O. */
export const laneSendLogic = laneSendMachine.provide({
  actors: { watchSignal, readStatus, openSource: openSourceActor, pump, finishStream },
  actions: {
    closeSource: ({ context }) => void (context.opened as OpenedSource | null)?.close(),
    abortStream: ({ context }) =>
      (context.handles.stream as DuplexStream).abort(OctopiiError.from(context.error ?? { code: 'ABORTED', message: 'lane send failed' })),
    releaseReader: ({ context }) => {
      const reader = context.handles.reader as ByteReader;
      if (!reader.atEnd) void reader.cancel();
    },
  },
});

/**
 * Sends `source` over `stream` (one Shipping Lane v1 transfer: u64 LE size, data, SHA-256,
 * then the receiver's status byte) and resolves with a {@link TransferResult} taken from the
 * machine's output alone; never rejects.
 *
 * - status 0 → `success: true, checksumVerified: true`;
 * - status 1 → CHECKSUM_MISMATCH; status 2 → REMOTE_ERROR, or with `reasons` the receiver's
 *   own error (`origin: 'remote'`, e.g. DISK_FULL, SIZE_LIMIT);
 * - the stream closes or is reset before the status → CONNECTION_CLOSED / STREAM_ABORTED;
 * - missing file → SOURCE_NOT_FOUND (nothing is written; the stream is aborted);
 * - `signal` → its reason if an OctopiiError, else ABORTED; no progress for `timeoutMs`
 *   (default 30,000 ms) → TIMEOUT.
 * The stream is closed on success and aborted on failure.
 */
export async function sendLane(stream: DuplexStream, source: LaneSource, options: SendLaneOptions = {}): Promise<TransferResult> {
  const started = performance.now();
  const peer = options.peer ?? '';
  const shared = options.hasher ? undefined : sharedHashPool();
  const hasher = options.hasher ?? shared!.retain();
  try {
    const input: LaneSendInput = {
      handles: { stream, reader: new ByteReader(stream.readable.getReader()), source, hasher, signal: options.signal },
      timeoutMs: options.timeoutMs ?? DEFAULT_LANE_TIMEOUT_MS,
      blockBytes: Math.max(1, Math.floor(options.blockBytes ?? LANE_BLOCK_BYTES)),
      maxBlocksInFlight: Math.max(1, Math.floor(options.maxBlocksInFlight ?? LANE_MAX_BLOCKS_IN_FLIGHT)),
      reasons: options.reasons ?? false,
    };
    const actor = hostLaneActor(laneSendLogic, input, options);
    let out: LaneSendOutput | undefined;
    try {
      out = await startLaneActor(actor, options);
    } catch (e) {
      out = { status: 'failed', size: null, bytes: 0, sha256: null, laneStatus: null, error: toErrorInfo(e, 'INTERNAL') };
    }
    if (!out) {
      // Stopped from outside (its supervisor stopping): no final state was reached and XState
      // runs no exit actions on stop, so release what the chart held here.
      const error: ErrorInfo = { code: 'ABORTED', message: 'lane send stopped before it finished' };
      await (actor.getSnapshot().context.opened as OpenedSource | null)?.close();
      stream.abort(OctopiiError.from(error));
      out = { status: 'failed', size: null, bytes: 0, sha256: null, laneStatus: null, error };
    }
    const success = out.status === 'acknowledged';
    return {
      peer,
      success,
      bytesTransferred: out.bytes,
      checksumVerified: success,
      durationMs: performance.now() - started,
      ...(out.sha256 ? { sha256: out.sha256 } : {}),
      ...(out.error && !success ? { error: out.error } : {}),
    };
  } finally {
    await shared?.release();
  }
}
