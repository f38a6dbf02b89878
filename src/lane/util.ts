/** Small helpers shared by the lane's send and receive sides. */
import type { StateValue } from 'xstate';
import { OctopiiError, type ErrorInfo } from '../errors.js';

/** `{ sending: { streaming: 'paused' } }` → `sending.streaming.paused`. */
export function stateString(value: StateValue): string {
  if (typeof value === 'string') return value;
  const [k, v] = Object.entries(value)[0] ?? ['', ''];
  return v === undefined ? k : `${k}.${stateString(v as StateValue)}`;
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
 * The error an aborted `signal` ends a transfer with: its reason when that is an OctopiiError
 * (e.g. UNAVAILABLE from the node's dead-peer detection), else ABORTED.
 */
export function abortError(signal: AbortSignal): ErrorInfo {
  const reason: unknown = signal.reason;
  if (reason instanceof OctopiiError) return reason.toJSON();
  const why = reason instanceof Error ? reason.message : String(reason ?? 'signal');
  return { code: 'ABORTED', message: `transfer aborted: ${why}` };
}
