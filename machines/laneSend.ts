/**
 * laneSend — the sending side of one Shipping Lane v1 transfer (seed 001, "Send Path" and
 * "Wire Format"; DESIGN.md §1 "Machines govern").
 *
 * The chart holds the phase, the progress and every deadline; bytes never pass through events.
 * Side effects are provided actors and actions (src/lane/send.ts), each taking `input` from
 * context — the stream, its reader, the opened source and the hasher travel as opaque handles
 * in context, delivered by events — and sharing no state with each other:
 *  - `watchSignal`  (input { signal }): the caller's AbortSignal → ABORT { error }
 *  - `readStatus`   (input { reader, reasons }): the receiver's status byte (and reason frame,
 *                   docs/PROTOCOL.md "Lane reasons"), read from the start because a receiver may
 *                   refuse early → STATUS { status, reason? } | STATUS_FAILED
 *  - `openSource`   (input { source }) → SOURCE_OPENED { source, size } | SOURCE_FAILED
 *  - `pump`         (input { stream, source, hasher, blockBytes, maxBlocksInFlight }): header,
 *                   data, trailer. Reports HEADER_SENT, HIGH_WATER when `maxBlocksInFlight`
 *                   writes are unacknowledged and LOW_WATER once at most one is, PROGRESS every
 *                   4 MiB acknowledged, DATA_SENT, PUMP_FAILED. It stops submitting blocks when
 *                   told PAUSE (entry of `paused`) until told RESUME (entry of `flowing`).
 *  - `finishStream` (input { reader }): waits for the receiver to end its side → FINISHED
 * Actions: `closeSource` (exit of `working`), `abortStream` (entry of `failed`), `releaseReader`
 * (exit of `closing`). The pump owns its hasher (it digests it for the trailer); stopping the
 * pump — the exit of `sending` — aborts it.
 *
 * Deadlines, on the actor system's clock: every working phase fails with TIMEOUT after
 * `timeoutMs` without a phase change (PROGRESS re-enters the streaming phase, so progress
 * counts); `settling` waits LANE_STATUS_GRACE_MS for a refusing receiver's status and
 * `answered` as long for the pump to end after an answer that came before DATA_SENT; `closing`
 * waits LANE_CLOSE_GRACE_MS for the receiver's FIN.
 *
 *   idle ─START─▶ working ─────────────────────────────────────────────────────────────────────┐
 *                  opening ─SOURCE_OPENED─▶ sending ─DATA_SENT─▶ verifying ─STATUS 0─▶ closing ─FINISHED/grace─▶ acknowledged
 *                                           header ─HEADER_SENT─▶ streaming                      │
 *                                                          flowing ⇄ paused (HIGH/LOW_WATER)     │
 *                                           STATUS ─▶ answered ─DATA_SENT (status 0)───────────▶ closing
 *                                                        └ DATA_SENT ≠ 0, PUMP_FAILED, grace ──▶ failed
 *                                           PUMP_FAILED (write refused) ─▶ settling ─grace─┐     │
 *                  SOURCE_FAILED, PUMP_FAILED (local), STATUS ≠ 0 / early, STATUS_FAILED,   ▼     │
 *                  ABORT, timeout ──────────────────────────────────────────────────────▶ failed ◀┘
 *
 * Output: `{ status: 'acknowledged' | 'failed', size, bytes, sha256, laneStatus, error }` —
 * the only source of a transfer's result (`status: 'failed'` is the supervisor's abnormal-exit
 * convention, machines/node.ts).
 */
import { assign, fromCallback, sendTo, setup, type EventObject } from 'xstate';
import { errorForLaneStatus, type ErrorInfo } from '../src/errors.js';
import { LANE_CLOSE_GRACE_MS, LANE_STATUS_GRACE_MS, timerDelay } from '../src/lane/constants.js';

export type { ErrorInfo };

export type LaneSendEvent =
  | { type: 'START' }
  | { type: 'SOURCE_OPENED'; source: unknown; size: number }
  | { type: 'SOURCE_FAILED'; error: ErrorInfo }
  | { type: 'HEADER_SENT' }
  | { type: 'HIGH_WATER' }
  | { type: 'LOW_WATER' }
  /** `bytes`: data bytes the stream accepted so far. */
  | { type: 'PROGRESS'; bytes: number }
  | { type: 'DATA_SENT'; bytes: number; sha256: string }
  /** `refused`: a stream write failed (the receiver may have answered first); else a local failure. */
  | { type: 'PUMP_FAILED'; error: ErrorInfo; bytes: number; refused: boolean }
  /** `reason`: the receiver's error (reason frame), when it sent one. */
  | { type: 'STATUS'; status: number; reason?: ErrorInfo }
  | { type: 'STATUS_FAILED'; error: ErrorInfo }
  | { type: 'FINISHED' }
  | { type: 'ABORT'; error: ErrorInfo };

/** Messages the machine sends to its `pump`. */
export type LanePumpControl = { type: 'PAUSE' } | { type: 'RESUME' };

/** Opaque I/O handles (src/lane/send.ts gives them their types). */
export interface LaneSendHandles {
  stream: unknown;
  reader: unknown;
  source: unknown;
  hasher: unknown;
  signal: unknown;
}

export interface LaneSendInput {
  handles: LaneSendHandles;
  /** Inactivity timeout, ms. */
  timeoutMs: number;
  /** Block size of reads, writes and hash jobs, bytes. */
  blockBytes: number;
  /** Unacknowledged writes before HIGH_WATER. */
  maxBlocksInFlight: number;
  /** Read a reason frame after a non-zero status (docs/PROTOCOL.md "Lane reasons"). */
  reasons: boolean;
}

export interface LaneSendContext extends LaneSendInput {
  /** The opened source (handle), once SOURCE_OPENED. */
  opened: unknown;
  /** Data bytes announced in the header (null before the source is open). */
  size: number | null;
  /** Data bytes the stream accepted. */
  bytes: number;
  /** Hex SHA-256 sent in the trailer. */
  sha256: string | null;
  /** Status byte the receiver answered, if any. */
  laneStatus: number | null;
  /** An answer that arrived while the data was still being sent (decided at DATA_SENT). */
  answer: { status: number; reason?: ErrorInfo } | null;
  error: ErrorInfo | null;
}

export interface LaneSendOutput {
  status: 'acknowledged' | 'failed';
  size: number | null;
  bytes: number;
  sha256: string | null;
  laneStatus: number | null;
  error: ErrorInfo | null;
}

type Input<T> = { [K in keyof T]: T[K] };
const placeholder = <I>() => fromCallback<EventObject, Input<I>>(() => undefined);
const noop = () => undefined;

export const laneSendMachine = setup({
  types: {
    context: {} as LaneSendContext,
    events: {} as LaneSendEvent,
    input: {} as LaneSendInput,
    output: {} as LaneSendOutput,
  },
  actors: {
    watchSignal: placeholder<{ signal: unknown }>(),
    readStatus: placeholder<{ reader: unknown; reasons: boolean }>(),
    openSource: placeholder<{ source: unknown }>(),
    pump: placeholder<{ stream: unknown; source: unknown; hasher: unknown; blockBytes: number; maxBlocksInFlight: number }>(),
    finishStream: placeholder<{ reader: unknown }>(),
  },
  actions: {
    closeSource: noop,
    abortStream: noop,
    releaseReader: noop,
    pausePump: sendTo('pump', { type: 'PAUSE' } satisfies LanePumpControl),
    resumePump: sendTo('pump', { type: 'RESUME' } satisfies LanePumpControl),
    recordError: assign({ error: ({ event, context }) => ('error' in event ? event.error : context.error) }),
    recordTimeout: assign({
      error: ({ context }) => ({ code: 'TIMEOUT', message: `no lane progress for ${context.timeoutMs} ms` }) satisfies ErrorInfo,
    }),
    recordSource: assign(({ event }) => (event.type === 'SOURCE_OPENED' ? { opened: event.source, size: event.size } : {})),
    recordProgress: assign({ bytes: ({ event, context }) => (event.type === 'PROGRESS' ? event.bytes : context.bytes) }),
    recordSent: assign(({ event }) => (event.type === 'DATA_SENT' ? { bytes: event.bytes, sha256: event.sha256 } : {})),
    recordPumpFailure: assign(({ event }) => (event.type === 'PUMP_FAILED' ? { bytes: event.bytes, error: event.error } : {})),
    recordStatus: assign(({ event }) =>
      event.type === 'STATUS'
        ? { laneStatus: event.status, error: event.status === 0 ? null : (event.reason ?? errorForLaneStatus(event.status)) }
        : {},
    ),
    recordAnswer: assign(({ event }) =>
      event.type === 'STATUS' ? { laneStatus: event.status, answer: event.reason ? { status: event.status, reason: event.reason } : { status: event.status } } : {},
    ),
    applyAnswer: assign({
      error: ({ context }) => (!context.answer || context.answer.status === 0 ? null : (context.answer.reason ?? errorForLaneStatus(context.answer.status))),
    }),
    applyEarlyAnswer: assign({
      error: ({ context }) => context.answer?.reason ?? errorForLaneStatus(context.answer?.status ?? -1, true),
    }),
    recordPumpBytes: assign({ bytes: ({ event, context }) => (event.type === 'PUMP_FAILED' ? event.bytes : context.bytes) }),
    recordEarlyStatus: assign(({ event }) =>
      event.type === 'STATUS' ? { laneStatus: event.status, error: event.reason ?? errorForLaneStatus(event.status, true) } : {},
    ),
  },
  guards: {
    statusOk: ({ event }) => event.type === 'STATUS' && event.status === 0,
    writeRefused: ({ event }) => event.type === 'PUMP_FAILED' && event.refused,
    answerOk: ({ context }) => context.answer?.status === 0,
  },
  delays: {
    inactivity: ({ context }) => timerDelay(context.timeoutMs),
    statusGrace: LANE_STATUS_GRACE_MS,
    closeGrace: LANE_CLOSE_GRACE_MS,
  },
}).createMachine({
  id: 'laneSend',
  initial: 'idle',
  context: ({ input }) => ({ ...input, opened: null, size: null, bytes: 0, sha256: null, laneStatus: null, answer: null, error: null }),
  output: ({ context, event }) => ({
    status: (event as { output?: { status?: LaneSendOutput['status'] } }).output?.status ?? 'failed',
    size: context.size,
    bytes: context.bytes,
    sha256: context.sha256,
    laneStatus: context.laneStatus,
    error: context.error,
  }),
  states: {
    idle: {
      on: { START: 'working' },
    },
    working: {
      invoke: [
        { id: 'signal', src: 'watchSignal', input: ({ context }) => ({ signal: context.handles.signal }) },
        { id: 'status', src: 'readStatus', input: ({ context }) => ({ reader: context.handles.reader, reasons: context.reasons }) },
      ],
      exit: 'closeSource',
      initial: 'opening',
      on: {
        ABORT: { target: 'failed', actions: 'recordError' },
        // The receiver answered before the data was complete (e.g. size over its cap).
        STATUS: { target: 'failed', actions: 'recordEarlyStatus' },
        STATUS_FAILED: { target: 'failed', actions: 'recordError' },
      },
      states: {
        opening: {
          invoke: { id: 'openSource', src: 'openSource', input: ({ context }) => ({ source: context.handles.source }) },
          after: { inactivity: { target: '#laneSend.failed', actions: 'recordTimeout' } },
          on: {
            SOURCE_OPENED: { target: 'sending', actions: 'recordSource' },
            SOURCE_FAILED: { target: '#laneSend.failed', actions: 'recordError' },
          },
        },
        sending: {
          invoke: {
            id: 'pump',
            src: 'pump',
            input: ({ context }) => ({
              stream: context.handles.stream,
              source: context.opened,
              hasher: context.handles.hasher,
              blockBytes: context.blockBytes,
              maxBlocksInFlight: context.maxBlocksInFlight,
            }),
          },
          initial: 'header',
          on: {
            // The receiver answered while we still send: let the pump finish or fail (bounded).
            STATUS: { target: '.answered', actions: 'recordAnswer' },
            PUMP_FAILED: [
              { guard: 'writeRefused', target: 'settling', actions: 'recordPumpFailure' },
              { target: '#laneSend.failed', actions: 'recordPumpFailure' },
            ],
          },
          states: {
            header: {
              after: { inactivity: { target: '#laneSend.failed', actions: 'recordTimeout' } },
              on: { HEADER_SENT: 'streaming' },
            },
            streaming: {
              initial: 'flowing',
              on: { DATA_SENT: { target: '#laneSend.working.verifying', actions: 'recordSent' } },
              states: {
                flowing: {
                  entry: 'resumePump',
                  after: { inactivity: { target: '#laneSend.failed', actions: 'recordTimeout' } },
                  on: {
                    HIGH_WATER: 'paused',
                    PROGRESS: { target: 'flowing', reenter: true, actions: 'recordProgress' },
                  },
                },
                paused: {
                  entry: 'pausePump',
                  after: { inactivity: { target: '#laneSend.failed', actions: 'recordTimeout' } },
                  on: {
                    LOW_WATER: 'flowing',
                    PROGRESS: { target: 'paused', reenter: true, actions: 'recordProgress' },
                  },
                },
              },
            },
            // An answer arrived before DATA_SENT: status 0 can only race our last write (the
            // receiver has everything); any other status is a refusal, and a receiver that refuses
            // stops reading, so the pump ends soon either way.
            answered: {
              entry: 'resumePump',
              after: { statusGrace: { target: '#laneSend.failed', actions: 'applyEarlyAnswer' } },
              on: {
                DATA_SENT: [
                  { guard: 'answerOk', target: '#laneSend.closing', actions: ['recordSent', 'applyAnswer'] },
                  { target: '#laneSend.failed', actions: ['recordSent', 'applyAnswer'] },
                ],
                PUMP_FAILED: { target: '#laneSend.failed', actions: ['recordPumpBytes', 'applyEarlyAnswer'] },
              },
            },
          },
        },
        // A data write was refused: the receiver may have answered and stopped reading; its
        // status (still being read) is the cause if it arrives within the grace.
        settling: {
          after: { statusGrace: '#laneSend.failed' },
          on: { STATUS_FAILED: '#laneSend.failed' }, // keep the write's error
        },
        verifying: {
          after: { inactivity: { target: '#laneSend.failed', actions: 'recordTimeout' } },
          on: {
            STATUS: [
              { guard: 'statusOk', target: '#laneSend.closing', actions: 'recordStatus' },
              { target: '#laneSend.failed', actions: 'recordStatus' },
            ],
          },
        },
      },
    },
    // Status 0 is in: wait (bounded) for the receiver to end its side, then release the stream.
    closing: {
      invoke: { id: 'finishStream', src: 'finishStream', input: ({ context }) => ({ reader: context.handles.reader }) },
      exit: 'releaseReader',
      after: { closeGrace: 'acknowledged' },
      on: { FINISHED: 'acknowledged' },
    },
    acknowledged: { type: 'final', output: { status: 'acknowledged' } },
    failed: { type: 'final', entry: 'abortStream', output: { status: 'failed' } },
  },
});

export type LaneSendMachine = typeof laneSendMachine;
