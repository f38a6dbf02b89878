/**
 * Sending side of Shipping Lane v1 (seed 001 `send_chunk_verified`), driven by the pure
 * `laneSendMachine` (machines/laneSend.ts) whose actors are implemented here.
 *
 * Data path (issue 3 item 4): source blocks of 1 MiB (file: positional reads with a bounded
 * read-ahead, overlapped with the network) → hasher (piscina pool, jobs pipelined, bounded) and
 * the stream writer (at most `maxBlocksInFlight` unacknowledged writes). The pump reports
 * HIGH_WATER when that bound is reached and LOW_WATER once at most one write is pending —
 * hysteresis, so pause/resume events come per several blocks, never per buffer.
 *
 * The status byte is read from the start: a receiver that refuses early (size over its cap)
 * answers status 2 before the data ends, and the sender stops with REMOTE_ERROR instead of
 * pushing the rest.
 */
import { fromCallback, type EventObject } from 'xstate';
import { hostLaneActor, startLaneActor } from './host.js';
import { laneSendMachine, type LaneSendEvent } from '../../machines/laneSend.js';
import { OctopiiError, toOctopiiError } from '../errors.js';
import { createSha256, HASH_MAX_IN_FLIGHT, INLINE_HASH_MAX_BYTES, toHex, type Sha256Hasher } from '../hash/index.js';
import type { DuplexStream } from '../transport/types.js';
import { decodeLaneStatus, encodeLaneHeader } from '../wire/laneV1.js';
import { ByteReader } from './bytes.js';
import { LANE_BLOCK_BYTES, LANE_MAX_BLOCKS_IN_FLIGHT, openSource, type OpenedSource } from './source.js';
import type { LaneSource, SendLaneOptions, TransferResult } from './types.js';
import { DEFAULT_LANE_TIMEOUT_MS, errorInfo, settleWithin, Waker, Watchdog } from './util.js';

/** How long a finished sender waits for the receiver to close its side before releasing the stream (ms). */
const CLOSE_GRACE_MS = 2_000;

/**
 * Sends `source` over `stream` (one Shipping Lane v1 transfer: u64 LE size, data, SHA-256,
 * then the receiver's status byte) and resolves with a {@link TransferResult}; never rejects.
 *
 * - status 0 → `success: true, checksumVerified: true`;
 * - status 1 → CHECKSUM_MISMATCH; status 2 → REMOTE_ERROR;
 * - the stream closes or is reset before the status → CONNECTION_CLOSED / STREAM_ABORTED;
 * - missing file → SOURCE_NOT_FOUND (nothing is written; the stream is aborted);
 * - `signal` → ABORTED; no progress for `timeoutMs` (default 30,000 ms) → TIMEOUT.
 * The stream is closed on success and aborted on failure.
 */
export async function sendLane(
  stream: DuplexStream,
  source: LaneSource,
  options: SendLaneOptions = {},
): Promise<TransferResult> {
  const started = performance.now();
  const peer = options.peer ?? '';
  const blockBytes = Math.max(1, Math.floor(options.blockBytes ?? LANE_BLOCK_BYTES));
  const maxInFlight = Math.max(1, Math.floor(options.maxBlocksInFlight ?? LANE_MAX_BLOCKS_IN_FLIGHT));
  const lowWater = Math.min(1, maxInFlight - 1);

  let opened: OpenedSource | undefined;
  let hasher: Sha256Hasher | undefined;
  let writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  let reader: ByteReader | undefined;
  let statusPromise: Promise<number> | undefined;
  let failure: OctopiiError | undefined;

  const readStatus = (): Promise<number> => {
    if (!statusPromise) {
      reader ??= new ByteReader(stream.readable.getReader());
      const r = reader;
      statusPromise = (async () => {
        const b = await r.readByte();
        watchdog.touch();
        if (b === undefined) throw new OctopiiError('CONNECTION_CLOSED', 'stream closed before the receiver sent its status byte');
        return decodeLaneStatus(b);
      })();
      statusPromise.catch(() => undefined);
    }
    return statusPromise;
  };

  const fail = (e: OctopiiError) => {
    failure ??= e;
    actor.send({ type: 'ABORT', error: { code: e.code, message: e.message } });
    stream.abort(e);
  };
  const watchdog = new Watchdog(options.timeoutMs ?? DEFAULT_LANE_TIMEOUT_MS, fail, options.signal, fail);

  const openSourceActor = fromCallback<EventObject>(({ sendBack }) => {
    let stopped = false;
    openSource(source).then(
      (o) => {
        if (stopped) {
          void o.close();
          return;
        }
        opened = o;
        sendBack({ type: 'SOURCE_OPENED', size: o.size } satisfies LaneSendEvent);
      },
      (e) => {
        if (!stopped) sendBack({ type: 'SOURCE_FAILED', error: errorInfo(e) } satisfies LaneSendEvent);
      },
    );
    return () => {
      stopped = true;
    };
  });

  const pumpActor = fromCallback<EventObject>(({ sendBack }) => {
    let stopped = false;
    const waker = new Waker();
    let bytes = 0;
    const send = (e: LaneSendEvent) => {
      if (!stopped) sendBack(e);
    };
    (async () => {
      const src = opened!;
      hasher = createSha256({ inline: src.size <= INLINE_HASH_MAX_BYTES, jobBytes: blockBytes });
      writer = stream.writable.getWriter();
      const w = writer;
      let earlyStatus: number | undefined;
      readStatus().then(
        (s) => {
          earlyStatus = s;
          waker.wake();
        },
        () => undefined,
      );
      await w.write(encodeLaneHeader(src.size));
      watchdog.touch();
      send({ type: 'HEADER_SENT' });

      let inFlight = 0;
      let writeError: unknown;
      // Blocks come from a ring of reused buffers (no allocation per block); one goes back once
      // both its hash job and its stream write are done. Held at once: the writes in flight,
      // the hash jobs in flight and the one in hand.
      for await (const lease of src.leasedBlocks(blockBytes, maxInFlight, maxInFlight + HASH_MAX_IN_FLIGHT + 1)) {
        if (stopped || earlyStatus !== undefined) {
          lease.release();
          if (stopped) return;
          break;
        }
        const block = lease.data;
        let refs = 2;
        const done = () => {
          if (--refs === 0) lease.release();
        };
        await hasher.update(block, { onHashed: done });
        inFlight++;
        w.write(block).then(
          () => {
            inFlight--;
            done();
            watchdog.touch();
            waker.wake();
          },
          (e) => {
            // Not released: a native write may still read the block; the ring dies with the transfer.
            writeError ??= e;
            waker.wake();
          },
        );
        bytes += block.byteLength;
        options.onProgress?.(bytes);
        if (writeError !== undefined) throw writeError;
        if (inFlight >= maxInFlight) {
          send({ type: 'HIGH_WATER' });
          while (inFlight > lowWater && writeError === undefined && earlyStatus === undefined && !stopped) await waker.wait();
          if (stopped) return;
          if (writeError !== undefined) throw writeError;
          if (earlyStatus !== undefined) break; // answered while paused: STATUS from `paused`
          send({ type: 'LOW_WATER' });
        }
      }
      if (earlyStatus !== undefined) {
        send({ type: 'STATUS', status: earlyStatus });
        return;
      }
      const digest = await hasher.digest();
      await w.write(digest); // resolves after every earlier write
      watchdog.touch();
      void w.close().catch(() => undefined); // FIN: the receiver sees the end of our side
      send({ type: 'DATA_SENT', bytes, sha256: toHex(digest) });
    })().catch(async (e: unknown) => {
      if (stopped) return;
      // A receiver that refused early answers a status, then stops reading: prefer that answer.
      const status = await settleWithin(statusPromise, 1_000);
      if (status !== undefined) send({ type: 'STATUS', status });
      else send({ type: 'PUMP_FAILED', error: errorInfo(e, 'STREAM_ABORTED'), bytes });
    });
    return () => {
      stopped = true;
      waker.wake();
    };
  });

  const awaitStatusActor = fromCallback<EventObject>(({ sendBack }) => {
    let stopped = false;
    readStatus().then(
      (status) => {
        if (!stopped) sendBack({ type: 'STATUS', status } satisfies LaneSendEvent);
      },
      (e) => {
        if (!stopped) sendBack({ type: 'STATUS_FAILED', error: errorInfo(e, 'STREAM_ABORTED') } satisfies LaneSendEvent);
      },
    );
    return () => {
      stopped = true;
    };
  });

  const actor = hostLaneActor(
    laneSendMachine.provide({
      actors: { openSource: openSourceActor, pump: pumpActor, awaitStatus: awaitStatusActor },
    }),
    undefined,
    options.spawn,
  );
  const done = startLaneActor(actor, options);

  let result: TransferResult;
  try {
    const out = await done;
    const success = out.status === 'acknowledged';
    // The machine's record of the cause wins; the watchdog's failure only fills a gap.
    const error = success ? undefined : (out.error ?? failure?.toJSON());
    result = {
      peer,
      success,
      bytesTransferred: out.bytes,
      checksumVerified: success,
      durationMs: performance.now() - started,
      ...(out.sha256 ? { sha256: out.sha256 } : {}),
      ...(error ? { error: { code: error.code, message: error.message } } : {}),
    };
  } catch (e) {
    const err = toOctopiiError(e, 'IO_ERROR');
    result = { peer, success: false, bytesTransferred: 0, checksumVerified: false, durationMs: performance.now() - started, error: err.toJSON() };
  } finally {
    watchdog.stop();
  }

  // Release everything this transfer holds.
  hasher?.abort();
  await opened?.close();
  if (result.success) {
    await reader?.finish(CLOSE_GRACE_MS);
  } else {
    stream.abort(new OctopiiError((result.error?.code as OctopiiError['code']) ?? 'ABORTED', result.error?.message ?? 'lane send failed'));
  }
  result.durationMs = performance.now() - started;
  return result;
}
