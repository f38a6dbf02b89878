/**
 * Receiving side of Shipping Lane v1 (seed 001 `recv_chunk_verified`), driven by the pure
 * `laneReceiveMachine` (machines/laneReceive.ts) whose actors are implemented here.
 *
 * Data path (issue 3 item 4): small network chunks are coalesced into 1 MiB blocks from a small
 * ring of reusable SharedArrayBuffers; the hash worker reads a block in place (no copy) while
 * the same block is written to the sink; at most `maxBlocksInFlight` blocks wait for the sink
 * (HIGH_WATER pauses reading, LOW_WATER resumes), so memory stays flat whatever the size.
 */
import { fromCallback, type EventObject } from 'xstate';
import { hostLaneActor, startLaneActor } from './host.js';
import { laneReceiveMachine, type LaneReceiveEvent } from '../../machines/laneReceive.js';
import { LaneStatus, OctopiiError, toOctopiiError } from '../errors.js';
import { createSha256, INLINE_HASH_MAX_BYTES, toHex, type Sha256Hasher } from '../hash/index.js';
import type { DuplexStream } from '../transport/types.js';
import { decodeLaneHeader, LANE_V1_HEADER_BYTES, LANE_V1_TRAILER_BYTES } from '../wire/laneV1.js';
import { ByteReader } from './bytes.js';
import { openSink, sinkCap, type OpenedSink } from './sink.js';
import { BlockPool, LANE_BLOCK_BYTES, LANE_MAX_BLOCKS_IN_FLIGHT } from './source.js';
import type { LaneSink, ReceiveLaneOptions, ReceiveResult } from './types.js';
import { DEFAULT_LANE_TIMEOUT_MS, errorInfo, Waker, Watchdog } from './util.js';

const CLOSE_GRACE_MS = 2_000;

/** Input of the reply/abandon actors (the status byte); the other actors take none. */
type StatusInput = { status: number } | undefined;

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let d = 0;
  for (let i = 0; i < a.byteLength; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/**
 * Receives one Shipping Lane v1 transfer from `stream` into `sink` and answers the status
 * byte; resolves with a {@link ReceiveResult}, never rejects.
 *
 * - checksum matches → sink committed (file: fsync + rename), status 0, `success: true`;
 * - checksum differs → nothing kept, status 1, CHECKSUM_MISMATCH;
 * - size header over `min(options.maxBytes, sink cap)` → status 2, SIZE_LIMIT, nothing
 *   allocated or created (`outcome: 'rejected'`);
 * - truncated / malformed input → PROTOCOL_ERROR, status 2 where still possible, nothing kept;
 * - stream reset → STREAM_ABORTED; `signal` → ABORTED; no progress for `timeoutMs`
 *   (default 30,000 ms) → TIMEOUT; sink I/O errors → IO_ERROR.
 */
export async function receiveLane(
  stream: DuplexStream,
  sink: LaneSink,
  options: ReceiveLaneOptions = {},
): Promise<ReceiveResult> {
  const started = performance.now();
  const blockBytes = Math.max(1, Math.floor(options.blockBytes ?? LANE_BLOCK_BYTES));
  const maxInFlight = Math.max(1, Math.floor(options.maxBlocksInFlight ?? LANE_MAX_BLOCKS_IN_FLIGHT));
  const lowWater = Math.min(1, maxInFlight - 1);
  const maxBytes = Math.min(options.maxBytes ?? Number.MAX_SAFE_INTEGER, sinkCap(sink));

  const reader = new ByteReader(stream.readable.getReader());
  let writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  let size = 0;
  let opened: OpenedSink | undefined;
  let opening: Promise<OpenedSink> | undefined;
  let hasher: Sha256Hasher | undefined;
  let trailer: Uint8Array | undefined;
  let failure: OctopiiError | undefined;

  const fail = (e: OctopiiError) => {
    failure ??= e;
    actor.send({ type: 'ABORT', error: { code: e.code, message: e.message } });
    stream.abort(e);
  };
  const watchdog = new Watchdog(options.timeoutMs ?? DEFAULT_LANE_TIMEOUT_MS, fail, options.signal, fail);

  /** Callback actor running `body`; `body` gets a `send` that is muted once the actor stops. */
  const effect = (body: (send: (e: LaneReceiveEvent) => void, input: StatusInput, isStopped: () => boolean) => Promise<void>) =>
    fromCallback<EventObject, StatusInput>(({ sendBack, input }) => {
      let stopped = false;
      const send = (e: LaneReceiveEvent) => {
        if (!stopped) sendBack(e);
      };
      void body(send, input, () => stopped);
      return () => {
        stopped = true;
      };
    });

  const readHeader = effect(async (send) => {
    try {
      const header = await reader.readExact(LANE_V1_HEADER_BYTES, 'size header');
      watchdog.touch();
      size = decodeLaneHeader(header);
      send({ type: 'HEADER', size });
    } catch (e) {
      send({ type: 'HEADER_FAILED', error: errorInfo(e, 'PROTOCOL_ERROR') });
    }
  });

  const pump = effect(async (send, _input, isStopped) => {
    const waker = new Waker();
    let inFlight = 0;
    let writeError: unknown;
    let chain: Promise<void> = Promise.resolve();
    try {
      opening = openSink(sink, size);
      opened = await opening;
      const out = opened;
      // Stopped while the sink was opening (its supervisor stopped the lane actor): the failure
      // path below discards it too, after waiting for `opening`.
      if (isStopped()) return void (await out.discard().catch(() => undefined));
      hasher = createSha256({ inline: size <= INLINE_HASH_MAX_BYTES, jobBytes: blockBytes });
      const h = hasher;
      // Blocks are reused: a block returns to the ring once its sink write and its hash job
      // are both done, so memory is bounded by the ring whatever the size.
      const ring = new BlockPool(Math.min(blockBytes, Math.max(1, size)), maxInFlight + 2);
      let remaining = size;
      let received = 0;
      while (remaining > 0) {
        if (isStopped()) return;
        const len = Math.min(blockBytes, remaining);
        const full = await ring.acquire();
        const block = full.subarray(0, len);
        const got = await reader.fill(block);
        watchdog.touch();
        if (got < len) {
          throw new OctopiiError('PROTOCOL_ERROR', `truncated data: got ${received + got} of ${size} bytes`);
        }
        remaining -= len;
        received += len;
        options.onProgress?.(received);
        let refs = 2;
        const done = () => {
          if (--refs === 0) ring.release(full);
        };
        await h.update(block, { onHashed: done });
        inFlight++;
        chain = chain.then(() => out.write(block));
        chain.then(
          () => {
            inFlight--;
            done();
            waker.wake();
          },
          (e) => {
            writeError ??= e;
            waker.wake();
          },
        );
        if (writeError !== undefined) throw writeError;
        if (inFlight >= maxInFlight) {
          send({ type: 'HIGH_WATER' });
          while (inFlight > lowWater && writeError === undefined && !isStopped()) await waker.wait();
          if (isStopped()) return;
          if (writeError !== undefined) throw writeError;
          send({ type: 'LOW_WATER' });
        }
      }
      trailer = await reader.readExact(LANE_V1_TRAILER_BYTES, 'checksum trailer');
      watchdog.touch();
      await chain;
      send({ type: 'DATA_RECEIVED' });
    } catch (e) {
      chain.catch(() => undefined);
      send({ type: 'PUMP_FAILED', error: errorInfo(e, 'STREAM_ABORTED') });
    }
  });

  const verify = effect(async (send) => {
    try {
      const digest = await hasher!.digest();
      const sha256 = toHex(digest);
      if (!equalBytes(digest, trailer!)) {
        send({ type: 'MISMATCH', sha256 });
        return;
      }
      await opened!.commit(sha256);
      send({ type: 'VERIFIED', sha256 });
    } catch (e) {
      send({ type: 'VERIFY_FAILED', error: errorInfo(e, 'IO_ERROR') });
    }
  });

  const writeStatus = async (status: number) => {
    writer ??= stream.writable.getWriter();
    await writer.write(Uint8Array.of(status));
    watchdog.touch();
    // The status is out once written; closing (FIN) may be refused by a peer that already left.
    void writer.close().catch(() => undefined);
  };

  const reply = effect(async (send, input) => {
    const status = input?.status ?? LaneStatus.ERROR;
    try {
      await writeStatus(status);
      send({ type: 'REPLIED', status });
    } catch (e) {
      send({ type: 'REPLY_FAILED', error: errorInfo(e, 'STREAM_ABORTED') });
    }
  });

  const abandon = effect(async (send, input) => {
    const status = input?.status ?? LaneStatus.ERROR;
    hasher?.abort();
    await opened?.discard().catch(() => undefined);
    try {
      await writeStatus(status);
      send({ type: 'REPLIED', status });
    } catch (e) {
      send({ type: 'REPLY_FAILED', error: errorInfo(e, 'STREAM_ABORTED') });
    }
  });

  const actor = hostLaneActor(
    laneReceiveMachine.provide({ actors: { readHeader, pump, verify, reply, abandon } }),
    { maxBytes },
    options.spawn,
  );
  const done = startLaneActor(actor, options);

  let result: ReceiveResult;
  try {
    const out = await done;
    // A lane actor stopped from outside (its supervisor stopping) ends without output.
    if (!out) throw new OctopiiError('ABORTED', 'lane receive stopped before it finished');
    const success = out.status === 'acknowledged';
    // The machine's record of the cause wins; the watchdog's failure only fills a gap.
    const err = success ? undefined : (out.error ?? failure?.toJSON());
    result = {
      success,
      outcome: out.status,
      bytes: out.size ?? 0,
      sha256: out.sha256 ?? '',
      ...(success ? opened?.result() : {}),
      ...(options.peer !== undefined ? { peer: options.peer } : {}),
      status: (out.laneStatus ?? null) as LaneStatus | null,
      durationMs: 0,
      ...(err ? { error: { code: err.code, message: err.message } } : {}),
    };
  } catch (e) {
    const err = toOctopiiError(e, 'IO_ERROR');
    const sinkNow = opened ?? (await opening?.catch(() => undefined));
    await sinkNow?.discard().catch(() => undefined);
    result = { success: false, outcome: 'failed', bytes: size, sha256: '', status: null, durationMs: 0, error: err.toJSON() };
  } finally {
    watchdog.stop();
  }

  hasher?.abort();
  if (result.success) {
    await reader.finish(CLOSE_GRACE_MS);
  } else if (result.status !== null) {
    // Our status is on its way: stop reading (the sender may still be pushing data) but do not
    // reset the stream, which could discard the status byte in flight.
    await reader.cancel(new OctopiiError('STREAM_ABORTED', 'receiver finished'));
  } else {
    stream.abort(new OctopiiError((result.error?.code as OctopiiError['code']) ?? 'ABORTED', result.error?.message ?? 'lane receive failed'));
  }
  result.durationMs = performance.now() - started;
  return result;
}
