/**
 * Timing and pacing constants of the Shipping Lane, in one place (pure: the machines in
 * machines/ read them too).
 */

/** Default inactivity timeout of a transfer, ms: no progress report and no phase change for this long → TIMEOUT. */
export const DEFAULT_LANE_TIMEOUT_MS = 30_000;

/**
 * How long a finished side waits for its peer to end its half of the stream, ms: the sender
 * after status 0 (receiver's FIN), the receiver after the trailer (sender's FIN, before it
 * answers) and after status 0. Seed 001 says "Close stream" after the status without saying who
 * closes first, so a peer that does not close in time is not an error: the wait just ends.
 */
export const LANE_CLOSE_GRACE_MS = 2_000;

/**
 * How long a sender whose data write was refused still waits for the receiver's status byte,
 * ms (a receiver that refuses early answers, then stops reading: its answer is the cause).
 */
export const LANE_STATUS_GRACE_MS = 1_000;

/**
 * Progress is reported to the machine each time this many more bytes moved (4 MiB): often
 * enough to reset the inactivity timeout on slow links, never an event per buffer.
 */
export const LANE_PROGRESS_BYTES = 4 << 20;

/** Largest delay a timer can take (2^31 − 1 ms, ~24.8 days); longer or non-finite timeouts are clamped. */
export const MAX_TIMER_MS = 2_147_483_647;

/** `timeoutMs` as a timer delay: non-positive or non-finite → {@link MAX_TIMER_MS} (no timeout in practice). */
export function timerDelay(ms: number): number {
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_TIMER_MS) : MAX_TIMER_MS;
}
