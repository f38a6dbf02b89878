/** Small helpers shared by the lane's send and receive sides. */
import type { StateValue } from 'xstate';
import { OctopiiError, toOctopiiError } from '../errors.js';
import type { LaneError } from './types.js';

/** `{ sending: { streaming: 'paused' } }` → `sending.streaming.paused`. */
export function stateString(value: StateValue): string {
  if (typeof value === 'string') return value;
  const [k, v] = Object.entries(value)[0] ?? ['', ''];
  return v === undefined ? k : `${k}.${stateString(v as StateValue)}`;
}

/** Error → plain `{ code, message }` (OctopiiError codes kept, anything else `fallback`). */
export function errorInfo(e: unknown, fallback: Parameters<typeof toOctopiiError>[1] = 'IO_ERROR'): LaneError {
  return toOctopiiError(e, fallback).toJSON();
}

/** Resolves with `p`'s value if it settles successfully within `ms`, else undefined. */
export async function settleWithin<T>(p: Promise<T> | undefined, ms: number): Promise<T | undefined> {
  if (!p) return undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p.catch(() => undefined),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** One-shot wake-up for loops that wait on several conditions. */
export class Waker {
  private resolve: (() => void) | undefined;
  wait(): Promise<void> {
    return new Promise((r) => {
      this.resolve = r;
    });
  }
  wake(): void {
    const r = this.resolve;
    this.resolve = undefined;
    r?.();
  }
}

/**
 * Inactivity watchdog: calls `onExpire` once when `touch()` was not called for `ms`.
 * Also wires an AbortSignal to `onAbort`. `stop()` disarms both.
 */
export class Watchdog {
  private last = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly abortListener: (() => void) | undefined;

  constructor(
    private readonly ms: number,
    private readonly onExpire: (e: OctopiiError) => void,
    private readonly signal: AbortSignal | undefined,
    onAbort: (e: OctopiiError) => void,
  ) {
    if (signal) {
      this.abortListener = () => {
        if (this.stopped) return;
        this.stop();
        onAbort(new OctopiiError('ABORTED', `transfer aborted: ${String(signal.reason ?? 'signal')}`));
      };
      if (signal.aborted) queueMicrotask(this.abortListener);
      else signal.addEventListener('abort', this.abortListener, { once: true });
    }
    if (Number.isFinite(ms) && ms > 0) this.arm(ms);
  }

  private arm(delay: number): void {
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      const idle = performance.now() - this.last;
      if (idle >= this.ms) {
        this.stop();
        this.onExpire(new OctopiiError('TIMEOUT', `no lane progress for ${this.ms} ms`));
      } else {
        this.arm(this.ms - idle);
      }
    }, delay);
  }

  touch(): void {
    this.last = performance.now();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.signal && this.abortListener) this.signal.removeEventListener('abort', this.abortListener);
  }
}

export const DEFAULT_LANE_TIMEOUT_MS = 30_000;
