/**
 * rpcCall — one outgoing call (DESIGN.md §1: "rpc call actors" under their peer), spawned under
 * the node supervisor as `peer:<id>/call#n`. The chart holds the phase, the attempt count and
 * the deadline; the bytes move outside it (src/rpc/client.ts): the provided action `startAttempt`
 * sends the request on the peer's rpc stream and the I/O reports back with events.
 *
 * State chart:
 *
 *   active ─────────── after deadlineMs ─────────────────────────────▶ deadlineExceeded
 *   │ sending ──SENT──▶ awaiting ──FIRST──▶ streaming ──DONE──▶ done
 *   │    │ FAILED (idempotent, retryable, budget left, no reply yet)   │ FAILED ──▶ failed
 *   │    ▼                                                            │
 *   │ retrying ──after backoff──▶ sending (attempt + 1)               │
 *   └── CANCEL ───────────────────────────────────────────────────────▶ cancelled
 *
 * Provided actions get the call's `io` handle from the context. Final states run `settle`
 * (params: the outcome) on entry; leaving `active` for cancelled or
 * deadlineExceeded also runs `abortAttempt` (the I/O sends `cancel` to the callee). Retries
 * back off exponentially (machines/backoff.ts) and never start after the deadline.
 *
 * Output: `{ outcome: 'done' | 'failed' | 'cancelled' | 'deadlineExceeded', attempts, error? }`
 * (never `status: 'failed'`: a failed call is no crash for the supervisor).
 */
import { assign, setup } from 'xstate';
import { isErrorCode, isRetryable, type ErrorInfo } from '../src/errors.js';
import { backoffDelay, type BackoffConfig } from './backoff.js';

export type CallOutcome = 'done' | 'failed' | 'cancelled' | 'deadlineExceeded';

export interface RpcCallInput {
  /** `service.method`. */
  method: string;
  idempotent: boolean;
  /** Deadline from the call's start, ms. */
  deadlineMs: number;
  /** Attempts in all for an idempotent method (default 3). */
  maxAttempts?: number;
  backoff?: BackoffConfig;
  /**
   * Opaque handle of the call's I/O, passed to the provided actions (so one provided machine
   * serves every call: `provide()` per call costs more than the call itself).
   */
  io?: unknown;
}
export interface RpcCallContext {
  method: string;
  idempotent: boolean;
  deadlineMs: number;
  maxAttempts: number;
  backoff: BackoffConfig;
  attempt: number;
  error: ErrorInfo | null;
  io: unknown;
}
export type RpcCallEvent =
  | { type: 'SENT' }
  | { type: 'FIRST' }
  | { type: 'DONE' }
  | { type: 'FAILED'; error: ErrorInfo }
  | { type: 'CANCEL'; error?: ErrorInfo };
export interface RpcCallOutput {
  outcome: CallOutcome;
  attempts: number;
  error?: ErrorInfo;
}

const DONE_PREFIX = 'xstate.done.state.rpcCall.';
const deadlineError = (c: RpcCallContext): ErrorInfo => ({ code: 'DEADLINE_EXCEEDED', message: `${c.method}: deadline of ${Math.round(c.deadlineMs)} ms exceeded` });

export const rpcCallMachine = setup({
  types: {
    input: {} as RpcCallInput,
    context: {} as RpcCallContext,
    events: {} as RpcCallEvent,
    output: {} as RpcCallOutput,
  },
  actions: {
    /** Provided: send attempt `attempt` of the call. */
    startAttempt: (_, _params: { attempt: number }) => undefined,
    /** Provided: send `cancel` to the callee and stop reading. */
    abortAttempt: () => undefined,
    /** Provided: hand the outcome to the caller. */
    settle: (_, _params: RpcCallOutput) => undefined,
  },
  guards: {
    canRetry: ({ context, event }) =>
      event.type === 'FAILED' &&
      context.idempotent &&
      context.attempt < context.maxAttempts &&
      isErrorCode(event.error.code) &&
      isRetryable(event.error.code) &&
      event.error.code !== 'DEADLINE_EXCEEDED',
  },
  delays: {
    deadline: ({ context }) => context.deadlineMs,
    retryDelay: ({ context }) => backoffDelay(context.attempt, context.backoff),
  },
}).createMachine({
  id: 'rpcCall',
  context: ({ input }) => ({
    method: input.method,
    idempotent: input.idempotent,
    deadlineMs: input.deadlineMs,
    maxAttempts: input.maxAttempts ?? 3,
    backoff: input.backoff ?? { initialMs: 50, maxMs: 1_000 },
    attempt: 1,
    error: null,
    io: input.io ?? null,
  }),
  initial: 'active',
  states: {
    active: {
      after: { deadline: { target: 'deadlineExceeded', actions: 'abortAttempt' } },
      on: {
        CANCEL: { target: 'cancelled', actions: ['abortAttempt', assign({ error: ({ event }) => event.error ?? { code: 'CANCELLED', message: 'call cancelled' } })] },
      },
      initial: 'sending',
      states: {
        sending: {
          entry: { type: 'startAttempt', params: ({ context }) => ({ attempt: context.attempt }) },
          on: {
            SENT: 'awaiting',
            FIRST: 'streaming',
            DONE: '#rpcCall.done',
            FAILED: [
              { guard: 'canRetry', target: 'retrying', actions: assign({ error: ({ event }) => event.error }) },
              { target: '#rpcCall.failed', actions: assign({ error: ({ event }) => event.error }) },
            ],
          },
        },
        awaiting: {
          on: {
            FIRST: 'streaming',
            DONE: '#rpcCall.done',
            FAILED: [
              { guard: 'canRetry', target: 'retrying', actions: assign({ error: ({ event }) => event.error }) },
              { target: '#rpcCall.failed', actions: assign({ error: ({ event }) => event.error }) },
            ],
          },
        },
        streaming: {
          on: {
            DONE: '#rpcCall.done',
            FAILED: { target: '#rpcCall.failed', actions: assign({ error: ({ event }) => event.error }) },
          },
        },
        retrying: {
          after: { retryDelay: { target: 'sending', actions: assign({ attempt: ({ context }) => context.attempt + 1 }) } },
        },
      },
    },
    // Finals only hand the outcome over (no assign: a context copy per call is measurable);
    // the output's event (`xstate.done.state.rpcCall.<final>`) names the final state reached.
    done: { type: 'final', entry: { type: 'settle', params: ({ context }) => ({ outcome: 'done' as const, attempts: context.attempt }) } },
    failed: { type: 'final', entry: { type: 'settle', params: ({ context }) => ({ outcome: 'failed' as const, attempts: context.attempt, error: context.error! }) } },
    cancelled: { type: 'final', entry: { type: 'settle', params: ({ context }) => ({ outcome: 'cancelled' as const, attempts: context.attempt, error: context.error! }) } },
    deadlineExceeded: {
      type: 'final',
      entry: { type: 'settle', params: ({ context }) => ({ outcome: 'deadlineExceeded' as const, attempts: context.attempt, error: deadlineError(context) }) },
    },
  },
  output: ({ context, event }) => {
    const outcome = event.type.slice(DONE_PREFIX.length) as CallOutcome;
    if (outcome === 'done') return { outcome, attempts: context.attempt };
    return { outcome, attempts: context.attempt, error: outcome === 'deadlineExceeded' ? deadlineError(context) : context.error! };
  },
});
