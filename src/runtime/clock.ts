/**
 * The clock a node runs on (DESIGN.md §1 "Runtime"): every deadline in octopii — delayed
 * transitions of the machines, keep-alives, dial timeouts of the in-memory network — is set on
 * one {@link Clock}, so a test can run whole nodes on XState's `SimulatedClock` and advance time
 * by hand (TigerBeetle's VOPR idea: time is an input).
 *
 * The shape is XState v5's `Clock` (`createActor(logic, { clock })`) plus `now()`, which
 * XState's `SimulatedClock` also has.
 */

/** A timer source in milliseconds. */
export interface Clock {
  /** Calls `fn` once after `ms` ms; returns an id for {@link Clock.clearTimeout}. */
  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  /** Milliseconds on this clock (monotonic for the system clock). */
  now(): number;
}

/** The process's own timers and `performance.now()`. */
export const systemClock: Clock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
  now: () => performance.now(),
};

/**
 * Resolves after `ms` on `clock` (a simulated clock resolves it when advanced past it);
 * rejects with the signal's reason when `signal` fires first.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const id = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clock.clearTimeout(id);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
