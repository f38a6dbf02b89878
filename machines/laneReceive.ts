/**
 * laneReceive — the receiving side of one Shipping Lane v1 transfer (seed 001, "Send Path";
 * issue 2 item 4; DESIGN.md "Control vs data").
 *
 * Phases only; bytes never pass through events. Provided actors (src/lane/receive.ts):
 *  - `readHeader` (callback): reads the 8-byte size → HEADER { size } | HEADER_FAILED
 *  - `pump`       (callback): opens the sink, moves data to sink + hasher, reads the trailer;
 *                 HIGH_WATER / LOW_WATER (hysteresis on sink/hash work in flight),
 *                 DATA_RECEIVED | PUMP_FAILED
 *  - `verify`     (callback): compares the digest with the trailer and commits the sink
 *                 (fsync + rename) → VERIFIED { sha256 } | MISMATCH { sha256 } | VERIFY_FAILED
 *  - `reply`      (callback, input { status }): writes the status byte and closes → REPLIED | REPLY_FAILED
 *  - `abandon`    (callback, input { status }): discards the sink (temp file removed, committed
 *                 file removed), writes the status where still possible → REPLIED | REPLY_FAILED
 * The size cap check (`maxBytes`, from input) is a guard: over the cap nothing is allocated or
 * created, the machine goes to `rejecting` (status 2) and ends `rejected`.
 *
 * State chart:
 *
 *   idle ─START─▶ header ─HEADER─▶ streaming ─DATA_RECEIVED─▶ verifying ─VERIFIED─▶ acknowledging ─REPLIED─▶ acknowledged
 *                   │ │ over cap     flowing ⇄ paused            │ MISMATCH (status 1)   │ REPLY_FAILED
 *                   │ └──▶ rejecting ─REPLIED/REPLY_FAILED─▶ rejected                     │
 *                   └ HEADER_FAILED, PUMP_FAILED, VERIFY_FAILED, ABORT ──▶ failing ─REPLIED/REPLY_FAILED─▶ failed
 *
 * Output: `{ status: 'acknowledged' | 'rejected' | 'failed', size, sha256, laneStatus (status
 * byte sent, null if none could be), error }`.
 */
import { assign, fromCallback, setup, type EventObject } from 'xstate';
import type { ErrorInfo } from '../src/errors.js';

export type LaneReceiveEvent =
  | { type: 'START' }
  | { type: 'HEADER'; size: number }
  | { type: 'HEADER_FAILED'; error: ErrorInfo }
  | { type: 'HIGH_WATER' }
  | { type: 'LOW_WATER' }
  | { type: 'DATA_RECEIVED' }
  | { type: 'PUMP_FAILED'; error: ErrorInfo }
  | { type: 'VERIFIED'; sha256: string }
  | { type: 'MISMATCH'; sha256: string }
  | { type: 'VERIFY_FAILED'; error: ErrorInfo }
  | { type: 'REPLIED'; status: number }
  | { type: 'REPLY_FAILED'; error: ErrorInfo }
  | { type: 'ABORT'; error: ErrorInfo };

export interface LaneReceiveInput {
  /** Largest size header accepted, in bytes. */
  maxBytes: number;
}

export interface LaneReceiveContext {
  maxBytes: number;
  size: number | null;
  /** Hex SHA-256 of the received data (once computed). */
  sha256: string | null;
  /** Status byte sent to the sender (null if none could be sent). */
  laneStatus: number | null;
  error: ErrorInfo | null;
}

export interface LaneReceiveOutput extends LaneReceiveContext {
  status: 'acknowledged' | 'rejected' | 'failed';
}

/** Status byte for a failure: 1 for a checksum mismatch, 2 for anything else (seed 001). */
export function statusForError(error: ErrorInfo | null): number {
  return error?.code === 'CHECKSUM_MISMATCH' ? 1 : 2;
}

const placeholder = fromCallback<EventObject, { status: number } | undefined>(() => undefined);

export const laneReceiveMachine = setup({
  types: {
    context: {} as LaneReceiveContext,
    events: {} as LaneReceiveEvent,
    input: {} as LaneReceiveInput,
    output: {} as LaneReceiveOutput,
  },
  actors: {
    readHeader: placeholder,
    pump: placeholder,
    verify: placeholder,
    reply: placeholder,
    abandon: placeholder,
  },
  actions: {
    recordError: assign({
      error: ({ event, context }) => ('error' in event ? event.error : context.error),
    }),
    recordSize: assign({ size: ({ event, context }) => (event.type === 'HEADER' ? event.size : context.size) }),
    recordOverCap: assign(({ event, context }) =>
      event.type === 'HEADER'
        ? {
            size: event.size,
            error: { code: 'SIZE_LIMIT', message: `announced size ${event.size} bytes exceeds the cap of ${context.maxBytes} bytes` },
          }
        : {},
    ),
    recordDigest: assign({
      sha256: ({ event, context }) => (event.type === 'VERIFIED' || event.type === 'MISMATCH' ? event.sha256 : context.sha256),
    }),
    recordMismatch: assign({
      error: ({ event }) => ({
        code: 'CHECKSUM_MISMATCH',
        message: `SHA-256 of the data (${event.type === 'MISMATCH' ? event.sha256 : '?'}) does not match the trailer`,
      }),
    }),
    recordReplied: assign({ laneStatus: ({ event, context }) => (event.type === 'REPLIED' ? event.status : context.laneStatus) }),
    recordReplyFailure: assign({
      // Keep the first error: a failed reply after a failure is a consequence, not the cause.
      error: ({ event, context }) => context.error ?? (event.type === 'REPLY_FAILED' ? event.error : null),
    }),
  },
  guards: {
    overCap: ({ event, context }) => event.type === 'HEADER' && event.size > context.maxBytes,
  },
}).createMachine({
  id: 'laneReceive',
  initial: 'idle',
  context: ({ input }) => ({ maxBytes: input.maxBytes, size: null, sha256: null, laneStatus: null, error: null }),
  output: ({ context, event }) => ({
    ...context,
    status: (event as { output?: { status?: LaneReceiveOutput['status'] } }).output?.status ?? 'failed',
  }),
  on: {
    ABORT: { target: '.failing', actions: 'recordError' },
  },
  states: {
    idle: {
      on: { START: 'header' },
    },
    header: {
      invoke: { id: 'readHeader', src: 'readHeader' },
      on: {
        HEADER: [
          { guard: 'overCap', target: 'rejecting', actions: 'recordOverCap' },
          { target: 'streaming', actions: 'recordSize' },
        ],
        HEADER_FAILED: { target: 'failing', actions: 'recordError' },
      },
    },
    streaming: {
      invoke: { id: 'pump', src: 'pump' },
      initial: 'flowing',
      on: {
        DATA_RECEIVED: 'verifying',
        PUMP_FAILED: { target: 'failing', actions: 'recordError' },
      },
      states: {
        flowing: { on: { HIGH_WATER: 'paused' } },
        paused: { on: { LOW_WATER: 'flowing' } },
      },
    },
    verifying: {
      invoke: { id: 'verify', src: 'verify' },
      on: {
        VERIFIED: { target: 'acknowledging', actions: 'recordDigest' },
        MISMATCH: { target: 'failing', actions: ['recordDigest', 'recordMismatch'] },
        VERIFY_FAILED: { target: 'failing', actions: 'recordError' },
      },
    },
    acknowledging: {
      invoke: { id: 'reply', src: 'reply', input: () => ({ status: 0 }) },
      on: {
        REPLIED: { target: 'acknowledged', actions: 'recordReplied' },
        REPLY_FAILED: { target: 'failing', actions: 'recordReplyFailure' },
      },
    },
    rejecting: {
      invoke: { id: 'reply', src: 'reply', input: () => ({ status: 2 }) },
      on: {
        REPLIED: { target: 'rejected', actions: 'recordReplied' },
        REPLY_FAILED: { target: 'rejected' },
        ABORT: { target: 'rejected' },
      },
    },
    failing: {
      invoke: { id: 'abandon', src: 'abandon', input: ({ context }) => ({ status: statusForError(context.error) }) },
      on: {
        REPLIED: { target: 'failed', actions: 'recordReplied' },
        REPLY_FAILED: { target: 'failed' },
        ABORT: {}, // already failing: the abandon actor finishes the cleanup
      },
    },
    acknowledged: { type: 'final', output: { status: 'acknowledged' } },
    rejected: { type: 'final', output: { status: 'rejected' } },
    failed: { type: 'final', output: { status: 'failed' } },
  },
});

export type LaneReceiveMachine = typeof laneReceiveMachine;
