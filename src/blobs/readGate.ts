/**
 * Flow control of a fetch session's reads (src/blobs/fetch.ts, src/blobs/batch.ts): before each
 * frame the session passes the gate, which waits while the chart has paused it (PAUSE, until
 * RESUME: writes in flight at the window), then reserves the wire bytes read since the last pass
 * in the download limits (src/blobs/downloadLimits.ts) and, when they say wait, tells the chart
 * (THROTTLE with the wait, ms) and waits for its UNTHROTTLE — the chart times the wait on its
 * clock. A write that fails in the background is recorded here and ends every wait; the next
 * pass throws it.
 *
 *   const gate = new ReadGate({ limits, peer, now, signal, throttle: (waitMs) => sendBack({ type: 'THROTTLE', waitMs }) });
 *   receive((e) => gate.receive(e));
 *   for (;;) { await gate.pass(); const f = await readFrame(); gate.owe(f.bytes); … }
 */
import type { EventObject } from 'xstate';
import type { DownloadLimits } from './downloadLimits.js';

export interface ReadGateOptions {
  /** Download caps; none: nothing is reserved. */
  limits?: DownloadLimits | undefined;
  /** The provider's key in the limits (`peer:<nodeId>`). */
  peer: string;
  /** The machine's clock, ms. */
  now: () => number;
  /** The session's stop: ends every wait. */
  signal: AbortSignal;
  /** Tells the chart to wait `waitMs` (it answers UNTHROTTLE). */
  throttle: (waitMs: number) => void;
}

export class ReadGate {
  readonly #o: ReadGateOptions;
  #paused = false;
  #throttled = false;
  /** Wire bytes read and not yet reserved in the limits. */
  #owed = 0;
  #wake: (() => void) | undefined;
  /** The first failure of a background write (undefined: none). */
  failure: unknown;

  constructor(o: ReadGateOptions) {
    this.#o = o;
  }

  /** PAUSE, RESUME and UNTHROTTLE from the chart; other events are ignored. */
  receive(e: EventObject): void {
    if (e.type === 'PAUSE') this.#paused = true;
    if (e.type === 'RESUME') this.#paused = false;
    if (e.type === 'UNTHROTTLE') this.#throttled = false;
    this.wake();
  }

  /** `bytes` more read off the wire, reserved at the next pass. */
  owe(bytes: number): void {
    this.#owed += bytes;
  }

  /** Records a background write's failure (the first one counts) and ends every wait. */
  fail(e: unknown): void {
    this.failure ??= e;
    this.wake();
  }

  /** Ends the current wait so its condition is read again (a failure, the stop). */
  wake(): void {
    this.#wake?.();
  }

  /** Resolves once `blocked()` is false, or on a failure or the stop. */
  async waitWhile(blocked: () => boolean): Promise<void> {
    while (blocked() && this.failure === undefined && !this.#o.signal.aborted) await new Promise<void>((res) => (this.#wake = res));
  }

  /** Waits while paused, then reserves what was read and waits out the limits' answer. Throws a recorded failure. */
  async pass(): Promise<void> {
    await this.waitWhile(() => this.#paused);
    const { limits, peer, now, signal } = this.#o;
    const waitMs = limits && this.#owed > 0 ? limits.reserve(peer, this.#owed, now()) : 0;
    this.#owed = 0;
    if (waitMs > 0 && this.failure === undefined && !signal.aborted) {
      this.#throttled = true;
      this.#o.throttle(waitMs);
      await this.waitWhile(() => this.#throttled);
    }
    if (this.failure !== undefined) throw this.failure;
  }
}
