/**
 * Exponential backoff, pure (no timers, no randomness): the delay before retry/restart number
 * `attempt` (1-based) is `initialMs · factor^(attempt − 1)`, capped at `maxMs`.
 *
 * Idea from OTP supervisors' restart delays and the classic "exponential backoff" of TCP/AWS
 * (https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/). No jitter
 * here: machines stay deterministic under a simulated clock; add jitter in the caller if needed.
 */
export interface BackoffConfig {
  /** Delay before the first retry, in ms. */
  initialMs: number;
  /** Upper bound of any delay, in ms. */
  maxMs: number;
  /** Growth per attempt (default 2). */
  factor?: number;
}

export const DEFAULT_BACKOFF: Readonly<Required<BackoffConfig>> = { initialMs: 100, maxMs: 5_000, factor: 2 };

/**
 * Delay in ms before attempt number `attempt` (1 = first retry). `attempt` < 1 gives
 * `initialMs`. Always within `[0, maxMs]`.
 */
export function backoffDelay(attempt: number, config: BackoffConfig = DEFAULT_BACKOFF): number {
  const factor = config.factor ?? 2;
  const n = Math.max(1, Math.floor(attempt));
  const raw = config.initialMs * factor ** (n - 1);
  return Math.max(0, Math.min(config.maxMs, Number.isFinite(raw) ? raw : config.maxMs));
}
