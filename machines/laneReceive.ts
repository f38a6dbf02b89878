/**
 * laneReceive — the receiving side of one Shipping Lane v1 transfer (seed 001, "Send Path" and
 * "Wire Format"; DESIGN.md §1 "Machines govern"; verified storage as in iroh-blobs).
 *
 * The chart holds the phase, the size, the digests and every deadline; bytes never pass through
 * events. Provided actors (src/lane/receive.ts) take `input` from context — the stream, its
 * reader, the sink and the hasher travel as opaque handles — and share nothing:
 *  - `watchSignal`  (input { signal }) → ABORT { error }
 *  - `readHeader`   (input { reader }): the 8-byte size → HEADER { size } | HEADER_FAILED
 *  - `pump`         (input { reader, sink, hasher, size, … }): opens the sink when the first
 *                   data byte arrives (SINK_OPENED { sink }: a stalled stream holds no file), moves
 *                   data to sink + hasher, reads the trailer → DATA_RECEIVED { digest, trailer };
 *                   HIGH_WATER / LOW_WATER on sink writes in flight, PROGRESS every 4 MiB written,
 *                   PUMP_FAILED. It stops reading when told PAUSE (entry of `paused`) until RESUME.
 *  - `drain`        (input { reader }): the sender's side must end right after the trailer →
 *                   DRAINED | EXCESS (a byte more than size + 32) | DRAIN_FAILED
 *  - `commit`       (input { sink, sha256 }): fsync + rename → COMMITTED { stored } | COMMIT_FAILED
 *  - `discardSink`  (input { sink, config }): removes what was written (temp file; a sink still
 *                   being opened by the pump is awaited and removed too), never a committed
 *                   file → DISCARDED. Invoked by `failing` and `aborting` only — never after
 *                   COMMITTED: a verified blob is never removed.
 *  - `reply`        (input { status, reason, reasons }): status byte (+ reason frame) → REPLIED | REPLY_FAILED
 *  - `finishStream` (input { reader }): waits for the sender to end its side → FINISHED
 * Actions: `abortStream` (no status can be sent), `stopReading` (status sent: stop reading
 * without a reset), `releaseReader` (exit of `closing`). The pump owns its hasher (the digest
 * travels in DATA_RECEIVED); stopping the pump — the exit of `streaming` — aborts it.
 *
 * The cap (`maxBytes`) and the checksum comparison are guards: over the cap nothing is opened
 * (`rejecting`, status 2); a digest that differs from the trailer goes to `failing` (status 1).
 *
 *   idle ─START─▶ receiving
 *                   header ─HEADER─▶ streaming ─DATA_RECEIVED (digest = trailer)─▶ draining ─DRAINED/grace─▶ committing ─COMMITTED─▶ acknowledging ─REPLIED─▶ closing ─FINISHED/grace─▶ acknowledged
 *                     │ over cap     flowing ⇄ paused                                 │ EXCESS                               │ REPLY_FAILED, ABORT: blob kept
 *                     ▼                                                              ▼                                      ▼
 *                   rejecting ─REPLIED/REPLY_FAILED─▶ rejected      failing: discarding ─DISCARDED─▶ replying ─REPLIED/REPLY_FAILED─▶ failed ◀──┘
 *   HEADER_FAILED, PUMP_FAILED, mismatch, EXCESS, DRAIN_FAILED, COMMIT_FAILED, timeout ─▶ failing
 *   ABORT (before COMMITTED) ─▶ aborting (reset, discard) ─DISCARDED─▶ failed
 *
 * Output: `{ status: 'acknowledged' | 'rejected' | 'failed', size, bytes, sha256, stored,
 * laneStatus (status byte sent, null if none could be), error }`.
 */
import { assign, fromCallback, sendTo, setup, type EventObject } from 'xstate';
import { laneStatusFor, type ErrorInfo } from '../src/errors.js';
import { LANE_CLOSE_GRACE_MS, timerDelay } from '../src/lane/constants.js';

/** What a committed sink hands back (file/blob sink: its final path; memory sink: the data). */
export interface LaneStored {
  path?: string;
  data?: Uint8Array;
}

export type LaneReceiveEvent =
  | { type: 'START' }
  | { type: 'HEADER'; size: number }
  | { type: 'HEADER_FAILED'; error: ErrorInfo }
  | { type: 'SINK_OPENED'; sink: unknown }
  | { type: 'HIGH_WATER' }
  | { type: 'LOW_WATER' }
  /** `bytes`: data bytes written to the sink so far. */
  | { type: 'PROGRESS'; bytes: number }
  /** `digest`, `trailer`: hex SHA-256 computed over the data, and the one the sender sent. */
  | { type: 'DATA_RECEIVED'; bytes: number; digest: string; trailer: string }
  | { type: 'PUMP_FAILED'; error: ErrorInfo }
  | { type: 'DRAINED' }
  | { type: 'EXCESS' }
  | { type: 'DRAIN_FAILED'; error: ErrorInfo }
  | { type: 'COMMITTED'; stored: LaneStored }
  | { type: 'COMMIT_FAILED'; error: ErrorInfo }
  | { type: 'DISCARDED' }
  | { type: 'REPLIED'; status: number }
  | { type: 'REPLY_FAILED'; error: ErrorInfo }
  | { type: 'FINISHED' }
  | { type: 'ABORT'; error: ErrorInfo };

/** Opaque I/O handles (src/lane/receive.ts gives them their types). */
export interface LaneReceiveHandles {
  stream: unknown;
  reader: unknown;
  sink: unknown;
  hasher: unknown;
  signal: unknown;
}

export interface LaneReceiveInput {
  handles: LaneReceiveHandles;
  /** Largest size header accepted, in bytes. */
  maxBytes: number;
  /** Inactivity timeout, ms. */
  timeoutMs: number;
  /** Coalescing block size of sink writes and hash jobs, bytes. */
  blockBytes: number;
  /** Sink writes in flight before HIGH_WATER. */
  maxBlocksInFlight: number;
  /** Send a reason frame after a non-zero status (docs/PROTOCOL.md "Lane reasons"). */
  reasons: boolean;
}

export interface LaneReceiveContext extends LaneReceiveInput {
  /** The opened sink (handle), once SINK_OPENED. */
  opened: unknown;
  size: number | null;
  /** Data bytes received and written. */
  bytes: number;
  /** Hex SHA-256 of the received data (once computed). */
  sha256: string | null;
  /** Hex SHA-256 the sender sent in its trailer. */
  trailer: string | null;
  stored: LaneStored | null;
  /** Status byte sent to the sender (null if none could be sent). */
  laneStatus: number | null;
  error: ErrorInfo | null;
}

export interface LaneReceiveOutput {
  status: 'acknowledged' | 'rejected' | 'failed';
  size: number | null;
  bytes: number;
  sha256: string | null;
  /** Set once the data was committed — kept even if the status could not be delivered after. */
  stored: LaneStored | null;
  laneStatus: number | null;
  error: ErrorInfo | null;
}

export interface LaneReplyInput {
  status: number;
  reason: ErrorInfo | null;
  reasons: boolean;
  stream: unknown;
}

const placeholder = <I>() => fromCallback<EventObject, I>(() => undefined);
const noop = () => undefined;

export const laneReceiveMachine = setup({
  types: {
    context: {} as LaneReceiveContext,
    events: {} as LaneReceiveEvent,
    input: {} as LaneReceiveInput,
    output: {} as LaneReceiveOutput,
  },
  actors: {
    watchSignal: placeholder<{ signal: unknown }>(),
    readHeader: placeholder<{ reader: unknown }>(),
    pump: placeholder<{ reader: unknown; sink: unknown; hasher: unknown; size: number; blockBytes: number; maxBlocksInFlight: number }>(),
    drain: placeholder<{ reader: unknown }>(),
    commit: placeholder<{ sink: unknown; sha256: string }>(),
    discardSink: placeholder<{ sink: unknown; config: unknown }>(),
    reply: placeholder<LaneReplyInput>(),
    finishStream: placeholder<{ reader: unknown }>(),
  },
  actions: {
    abortStream: noop,
    stopReading: noop,
    releaseReader: noop,
    pausePump: sendTo('pump', { type: 'PAUSE' }),
    resumePump: sendTo('pump', { type: 'RESUME' }),
    recordError: assign({ error: ({ event, context }) => ('error' in event ? event.error : context.error) }),
    recordTimeout: assign({
      error: ({ context }) => ({ code: 'TIMEOUT', message: `no lane progress for ${context.timeoutMs} ms` }) satisfies ErrorInfo,
    }),
    recordSize: assign({ size: ({ event, context }) => (event.type === 'HEADER' ? event.size : context.size) }),
    recordOverCap: assign(({ event, context }) =>
      event.type === 'HEADER'
        ? {
            size: event.size,
            error: { code: 'SIZE_LIMIT', message: `announced size ${event.size} bytes exceeds the cap of ${context.maxBytes} bytes` } satisfies ErrorInfo,
          }
        : {},
    ),
    recordSink: assign({ opened: ({ event, context }) => (event.type === 'SINK_OPENED' ? event.sink : context.opened) }),
    recordProgress: assign({ bytes: ({ event, context }) => (event.type === 'PROGRESS' ? event.bytes : context.bytes) }),
    recordData: assign(({ event }) =>
      event.type === 'DATA_RECEIVED' ? { bytes: event.bytes, sha256: event.digest, trailer: event.trailer } : {},
    ),
    recordMismatch: assign({
      error: ({ context }) =>
        ({ code: 'CHECKSUM_MISMATCH', message: `SHA-256 of the data (${context.sha256}) does not match the trailer (${context.trailer})` }) satisfies ErrorInfo,
    }),
    recordExcess: assign({
      error: ({ context }) =>
        ({ code: 'PROTOCOL_ERROR', message: `the sender sent more than size + 32 bytes (size ${context.size})` }) satisfies ErrorInfo,
    }),
    recordStored: assign({ stored: ({ event, context }) => (event.type === 'COMMITTED' ? event.stored : context.stored) }),
    recordReplied: assign({ laneStatus: ({ event, context }) => (event.type === 'REPLIED' ? event.status : context.laneStatus) }),
    // Keep the first error: a failed reply after a failure is a consequence, not the cause.
    recordReplyFailure: assign({ error: ({ event, context }) => context.error ?? (event.type === 'REPLY_FAILED' ? event.error : null) }),
  },
  guards: {
    overCap: ({ event, context }) => event.type === 'HEADER' && event.size > context.maxBytes,
    digestMatches: ({ event }) => event.type === 'DATA_RECEIVED' && event.digest === event.trailer,
  },
  delays: {
    inactivity: ({ context }) => timerDelay(context.timeoutMs),
    closeGrace: LANE_CLOSE_GRACE_MS,
  },
}).createMachine({
  id: 'laneReceive',
  initial: 'idle',
  context: ({ input }) => ({
    ...input,
    opened: null,
    size: null,
    bytes: 0,
    sha256: null,
    trailer: null,
    stored: null,
    laneStatus: null,
    error: null,
  }),
  output: ({ context, event }) => ({
    status: (event as { output?: { status?: LaneReceiveOutput['status'] } }).output?.status ?? 'failed',
    size: context.size,
    bytes: context.bytes,
    sha256: context.sha256,
    stored: context.stored,
    laneStatus: context.laneStatus,
    error: context.error,
  }),
  // The caller's signal is watched for the whole transfer: ABORT means something in every phase
  // that handles it (before the commit: discard; after: keep, just end).
  invoke: { id: 'signal', src: 'watchSignal', input: ({ context }) => ({ signal: context.handles.signal }) },
  states: {
    idle: {
      on: { START: 'receiving' },
    },
    receiving: {
      initial: 'header',
      on: {
        ABORT: { target: 'aborting', actions: 'recordError' },
      },
      states: {
        header: {
          invoke: { id: 'readHeader', src: 'readHeader', input: ({ context }) => ({ reader: context.handles.reader }) },
          after: { inactivity: { target: '#laneReceive.failing', actions: 'recordTimeout' } },
          on: {
            HEADER: [
              { guard: 'overCap', target: '#laneReceive.rejecting', actions: 'recordOverCap' },
              { target: 'streaming', actions: 'recordSize' },
            ],
            HEADER_FAILED: { target: '#laneReceive.failing', actions: 'recordError' },
          },
        },
        streaming: {
          invoke: {
            id: 'pump',
            src: 'pump',
            input: ({ context }) => ({
              reader: context.handles.reader,
              sink: context.handles.sink,
              hasher: context.handles.hasher,
              size: context.size ?? 0,
              blockBytes: context.blockBytes,
              maxBlocksInFlight: context.maxBlocksInFlight,
            }),
          },
          initial: 'flowing',
          on: {
            SINK_OPENED: { actions: 'recordSink' },
            DATA_RECEIVED: [
              { guard: 'digestMatches', target: 'draining', actions: 'recordData' },
              { target: '#laneReceive.failing', actions: ['recordData', 'recordMismatch'] },
            ],
            PUMP_FAILED: { target: '#laneReceive.failing', actions: 'recordError' },
          },
          states: {
            flowing: {
              entry: 'resumePump',
              after: { inactivity: { target: '#laneReceive.failing', actions: 'recordTimeout' } },
              on: {
                HIGH_WATER: 'paused',
                PROGRESS: { target: 'flowing', reenter: true, actions: 'recordProgress' },
              },
            },
            paused: {
              entry: 'pausePump',
              after: { inactivity: { target: '#laneReceive.failing', actions: 'recordTimeout' } },
              on: {
                LOW_WATER: 'flowing',
                PROGRESS: { target: 'paused', reenter: true, actions: 'recordProgress' },
              },
            },
          },
        },
        // The trailer is in: the sender's side must end now. A sender that keeps its side open
        // (a seed sender may wait for the status first) gets the benefit of the doubt after the grace.
        draining: {
          invoke: { id: 'drain', src: 'drain', input: ({ context }) => ({ reader: context.handles.reader }) },
          after: { closeGrace: 'committing' },
          on: {
            DRAINED: 'committing',
            EXCESS: { target: '#laneReceive.failing', actions: 'recordExcess' },
            DRAIN_FAILED: { target: '#laneReceive.failing', actions: 'recordError' },
          },
        },
        committing: {
          invoke: { id: 'commit', src: 'commit', input: ({ context }) => ({ sink: context.opened, sha256: context.sha256 ?? '' }) },
          on: {
            COMMITTED: { target: '#laneReceive.acknowledging', actions: 'recordStored' },
            COMMIT_FAILED: { target: '#laneReceive.failing', actions: 'recordError' },
          },
        },
      },
    },
    // Committed: from here on the stored data is never discarded, whatever happens to the reply.
    acknowledging: {
      invoke: {
        id: 'reply',
        src: 'reply',
        input: ({ context }) => ({ status: 0, reason: null, reasons: context.reasons, stream: context.handles.stream }),
      },
      on: {
        REPLIED: { target: 'closing', actions: 'recordReplied' },
        REPLY_FAILED: { target: 'failed', actions: ['recordReplyFailure', 'abortStream'] },
        ABORT: { target: 'failed', actions: ['recordError', 'abortStream'] },
      },
    },
    closing: {
      invoke: { id: 'finishStream', src: 'finishStream', input: ({ context }) => ({ reader: context.handles.reader }) },
      exit: 'releaseReader',
      after: { closeGrace: 'acknowledged' },
      on: { FINISHED: 'acknowledged' },
    },
    rejecting: {
      invoke: {
        id: 'reply',
        src: 'reply',
        input: ({ context }) => ({ status: 2, reason: context.error, reasons: context.reasons, stream: context.handles.stream }),
      },
      on: {
        REPLIED: { target: 'rejected', actions: ['recordReplied', 'stopReading'] },
        REPLY_FAILED: { target: 'rejected', actions: 'abortStream' },
        ABORT: { target: 'rejected', actions: 'abortStream' },
      },
    },
    // Nothing is kept: the sink (temp file) is discarded first, then the status is sent.
    failing: {
      initial: 'discarding',
      states: {
        discarding: {
          invoke: { id: 'discard', src: 'discardSink', input: ({ context }) => ({ sink: context.opened, config: context.handles.sink }) },
          on: { DISCARDED: 'replying' },
        },
        replying: {
          invoke: {
            id: 'reply',
            src: 'reply',
            input: ({ context }) => ({
              status: laneStatusFor(context.error),
              reason: context.error,
              reasons: context.reasons,
              stream: context.handles.stream,
            }),
          },
          on: {
            REPLIED: { target: '#laneReceive.failed', actions: ['recordReplied', 'stopReading'] },
            REPLY_FAILED: { target: '#laneReceive.failed', actions: 'abortStream' },
          },
        },
      },
    },
    // ABORT before the commit: reset the stream at once, discard the sink, no status.
    aborting: {
      entry: 'abortStream',
      invoke: { id: 'discard', src: 'discardSink', input: ({ context }) => ({ sink: context.opened, config: context.handles.sink }) },
      on: { DISCARDED: 'failed' },
    },
    acknowledged: { type: 'final', output: { status: 'acknowledged' } },
    rejected: { type: 'final', output: { status: 'rejected' } },
    failed: { type: 'final', output: { status: 'failed' } },
  },
});

export type LaneReceiveMachine = typeof laneReceiveMachine;
