/**
 * laneSend — the sending side of one Shipping Lane v1 transfer (seed 001, "Send Path";
 * issue 2 item 4; DESIGN.md "Control vs data").
 *
 * The machine governs phases only; bytes never pass through its events. Side effects are
 * provided actors (implemented in src/lane/send.ts, provided with `machine.provide`):
 *  - `openSource`  (callback): opens the memory/file source → SOURCE_OPENED { size } | SOURCE_FAILED
 *  - `pump`        (callback): writes header, data, trailer; reports HEADER_SENT, HIGH_WATER /
 *                  LOW_WATER (hysteresis on bytes in flight, never one event per buffer),
 *                  DATA_SENT, PUMP_FAILED, or STATUS when the receiver answers early (rejection)
 *  - `awaitStatus` (callback): reads the receiver's status byte → STATUS { status } | STATUS_FAILED
 * `ABORT { error }` (signal, timeout) ends any phase in `failed`.
 *
 * State chart:
 *
 *   idle ─START─▶ opening ─SOURCE_OPENED─▶ sending ─────────────────DATA_SENT─▶ verifying
 *                   │                      ├ header ─HEADER_SENT─▶ streaming      │ STATUS 0 ─▶ acknowledged
 *                   │                      │            flowing ⇄ paused          │ STATUS 1/2, STATUS_FAILED
 *                   │ SOURCE_FAILED        │ PUMP_FAILED, early STATUS            ▼
 *                   └──────────────────────┴─────────────────────────────────▶ failed
 *
 * Output (final states): `{ status: 'acknowledged' | 'failed', size, bytes, laneStatus, sha256,
 * error }` — `status: 'failed'` is the supervisor's abnormal-exit convention (machines/node.ts).
 */
import { assign, fromCallback, setup, type EventObject } from 'xstate';
import type { ErrorInfo } from '../src/errors.js';

export type { ErrorInfo };

export type LaneSendEvent =
  | { type: 'START' }
  | { type: 'SOURCE_OPENED'; size: number }
  | { type: 'SOURCE_FAILED'; error: ErrorInfo }
  | { type: 'HEADER_SENT' }
  | { type: 'HIGH_WATER' }
  | { type: 'LOW_WATER' }
  | { type: 'DATA_SENT'; bytes: number; sha256: string }
  | { type: 'PUMP_FAILED'; error: ErrorInfo; bytes: number }
  | { type: 'STATUS'; status: number }
  | { type: 'STATUS_FAILED'; error: ErrorInfo }
  | { type: 'ABORT'; error: ErrorInfo };

export interface LaneSendContext {
  /** Data bytes announced in the header (null before the source is open). */
  size: number | null;
  /** Data bytes written to the stream. */
  bytes: number;
  /** Hex SHA-256 sent in the trailer. */
  sha256: string | null;
  /** Status byte the receiver answered, if any. */
  laneStatus: number | null;
  error: ErrorInfo | null;
}

export interface LaneSendOutput extends LaneSendContext {
  status: 'acknowledged' | 'failed';
}

/** Maps a non-zero (or early) status byte to the sender's error. */
export function senderErrorForStatus(status: number, early: boolean): ErrorInfo {
  const when = early ? ' before the end of the data' : '';
  if (status === 1) return { code: 'CHECKSUM_MISMATCH', message: `receiver reported a checksum mismatch${when} (status 1)` };
  if (status === 2) return { code: 'REMOTE_ERROR', message: `receiver reported an error${when} (status 2)` };
  return { code: 'PROTOCOL_ERROR', message: `receiver answered status ${status}${when}` };
}

const placeholder = fromCallback<EventObject>(() => undefined);

export const laneSendMachine = setup({
  types: {
    context: {} as LaneSendContext,
    events: {} as LaneSendEvent,
    output: {} as LaneSendOutput,
  },
  actors: {
    openSource: placeholder,
    pump: placeholder,
    awaitStatus: placeholder,
  },
  actions: {
    recordError: assign({
      error: ({ event }) => ('error' in event ? event.error : { code: 'PROTOCOL_ERROR', message: `unexpected ${event.type}` }),
    }),
    recordSize: assign({ size: ({ event }) => (event.type === 'SOURCE_OPENED' ? event.size : null) }),
    recordSent: assign(({ event }) =>
      event.type === 'DATA_SENT' ? { bytes: event.bytes, sha256: event.sha256 } : {},
    ),
    recordPumpFailure: assign(({ event }) =>
      event.type === 'PUMP_FAILED' ? { bytes: event.bytes, error: event.error } : {},
    ),
    recordStatus: assign(({ event }) =>
      event.type === 'STATUS' ? { laneStatus: event.status, error: event.status === 0 ? null : senderErrorForStatus(event.status, false) } : {},
    ),
    recordEarlyStatus: assign(({ event }) =>
      event.type === 'STATUS' ? { laneStatus: event.status, error: senderErrorForStatus(event.status, true) } : {},
    ),
  },
  guards: {
    statusOk: ({ event }) => event.type === 'STATUS' && event.status === 0,
  },
}).createMachine({
  id: 'laneSend',
  initial: 'idle',
  context: { size: null, bytes: 0, sha256: null, laneStatus: null, error: null },
  // The root output receives the final state's own output as `event.output`.
  output: ({ context, event }) => ({
    ...context,
    status: (event as { output?: { status?: LaneSendOutput['status'] } }).output?.status ?? 'failed',
  }),
  on: {
    ABORT: { target: '.failed', actions: 'recordError' },
  },
  states: {
    idle: {
      on: { START: 'opening' },
    },
    opening: {
      invoke: { id: 'openSource', src: 'openSource' },
      on: {
        SOURCE_OPENED: { target: 'sending', actions: 'recordSize' },
        SOURCE_FAILED: { target: 'failed', actions: 'recordError' },
      },
    },
    sending: {
      invoke: { id: 'pump', src: 'pump' },
      initial: 'header',
      on: {
        PUMP_FAILED: { target: 'failed', actions: 'recordPumpFailure' },
        // The receiver answered before the data was complete (e.g. size over its cap).
        STATUS: { target: 'failed', actions: 'recordEarlyStatus' },
      },
      states: {
        header: {
          on: { HEADER_SENT: 'streaming' },
        },
        streaming: {
          initial: 'flowing',
          on: { DATA_SENT: { target: '#laneSend.verifying', actions: 'recordSent' } },
          states: {
            flowing: { on: { HIGH_WATER: 'paused' } },
            paused: { on: { LOW_WATER: 'flowing' } },
          },
        },
      },
    },
    verifying: {
      invoke: { id: 'awaitStatus', src: 'awaitStatus' },
      on: {
        STATUS: [
          { guard: 'statusOk', target: 'acknowledged', actions: 'recordStatus' },
          { target: 'failed', actions: 'recordStatus' },
        ],
        STATUS_FAILED: { target: 'failed', actions: 'recordError' },
      },
    },
    acknowledged: { type: 'final', output: { status: 'acknowledged' } },
    failed: { type: 'final', output: { status: 'failed' } },
  },
});

export type LaneSendMachine = typeof laneSendMachine;
