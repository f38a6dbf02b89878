/**
 * breaker — a circuit breaker per peer (Nygard, "Release It!"; resilience4j's state machine):
 * after `failureThreshold` consecutive failures (retryable errors that say the peer is unwell:
 * UNAVAILABLE, CONNECTION_CLOSED, DEADLINE_EXCEEDED …, as the caller judges) calls fail fast
 * with UNAVAILABLE for `openMs`; then one trial call is let through: success closes the breaker,
 * failure opens it again.
 *
 * State chart:
 *
 *   closed ──FAILURE (count reaches threshold)──▶ open ──after openMs──▶ halfOpen
 *     ▲  SUCCESS resets the count                                       │ TRIAL taken: trialOut
 *     └──────────────────────── SUCCESS ◀───────────────────────────────┤
 *                               FAILURE ──────────────────────────────▶ open
 *
 * Ask before each call: the breaker lets a call pass when `closed`, or `halfOpen` with no trial
 * out (`canPass(snapshot)`); send `TRIAL` when a half-open call goes, then `SUCCESS`/`FAILURE`.
 * Time is a delayed transition on the actor's clock (pure; runs on SimulatedClock).
 */
import { assign, setup, type SnapshotFrom } from 'xstate';

export interface BreakerInput {
  /** Consecutive failures that open the breaker (default 5). */
  failureThreshold?: number;
  /** How long it stays open, ms (default 1,000). */
  openMs?: number;
}
export interface BreakerContext {
  failureThreshold: number;
  openMs: number;
  failures: number;
  trialOut: boolean;
  opened: number;
}
export type BreakerEvent = { type: 'SUCCESS' } | { type: 'FAILURE' } | { type: 'TRIAL' };

export const breakerMachine = setup({
  types: { input: {} as BreakerInput, context: {} as BreakerContext, events: {} as BreakerEvent },
  guards: {
    thresholdReached: ({ context }) => context.failures + 1 >= context.failureThreshold,
  },
  delays: { openMs: ({ context }) => context.openMs },
}).createMachine({
  id: 'breaker',
  context: ({ input }) => ({ failureThreshold: input.failureThreshold ?? 5, openMs: input.openMs ?? 1_000, failures: 0, trialOut: false, opened: 0 }),
  initial: 'closed',
  states: {
    closed: {
      entry: assign({ failures: 0 }),
      on: {
        SUCCESS: { actions: assign({ failures: 0 }) },
        FAILURE: [
          { guard: 'thresholdReached', target: 'open' },
          { actions: assign({ failures: ({ context }) => context.failures + 1 }) },
        ],
      },
    },
    open: {
      entry: assign({ opened: ({ context }) => context.opened + 1, trialOut: false }),
      after: { openMs: 'halfOpen' },
    },
    halfOpen: {
      entry: assign({ trialOut: false }),
      on: {
        TRIAL: { actions: assign({ trialOut: true }) },
        SUCCESS: 'closed',
        FAILURE: 'open',
      },
    },
  },
});

/** True when a call may go now. */
export function canPass(s: SnapshotFrom<typeof breakerMachine>): boolean {
  return s.value === 'closed' || (s.value === 'halfOpen' && !s.context.trialOut);
}
