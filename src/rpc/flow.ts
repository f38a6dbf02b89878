/**
 * Per-call, per-message flow control (docs/PROTOCOL.md "RPC", "Flow control"): each side of a
 * call may send {@link INITIAL_CREDIT} `data` messages before it hears a `credit`; the receiver
 * grants more as its consumer takes messages (half a window at a time). So a consumer that stops
 * reading stops its producer within INITIAL_CREDIT messages, and at most that many messages per
 * call wait in memory. Reactive Streams' `request(n)` and HTTP/2 WINDOW_UPDATE, counted in
 * messages rather than bytes.
 */
import { OctopiiError } from '../errors.js';

/** Messages a sender may have unacknowledged per call and direction. */
export const INITIAL_CREDIT = 16;

/** The sender's side: how many `data` messages it may still send. */
export class CreditGate {
  #credit: number;
  #waiter: { resolve: () => void; reject: (e: unknown) => void } | null = null;
  #failed: unknown = null;
  constructor(initial = INITIAL_CREDIT) {
    this.#credit = initial;
  }
  get available(): number {
    return this.#credit;
  }
  grant(n: number): void {
    this.#credit += n;
    const w = this.#waiter;
    this.#waiter = null;
    w?.resolve();
  }
  /** Takes one credit, waiting for a grant if there is none. Rejects once {@link fail}ed. */
  async take(): Promise<void> {
    while (this.#credit <= 0) {
      if (this.#failed) throw this.#failed;
      await new Promise<void>((resolve, reject) => (this.#waiter = { resolve, reject }));
    }
    if (this.#failed) throw this.#failed;
    this.#credit--;
  }
  fail(e: unknown): void {
    this.#failed ??= e;
    const w = this.#waiter;
    this.#waiter = null;
    w?.reject(e);
  }
}

/**
 * The receiver's side: an async iterable of the messages of one call. `push` never blocks (the
 * peer is bounded by credit; a push past the window is a protocol error reported by `push`
 * returning false); taking a message calls `grant(n)` every half window.
 */
export class InboundQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #ended = false;
  #error: unknown = null;
  #waiter: (() => void) | null = null;
  #consumed = 0;
  #outstanding = INITIAL_CREDIT;
  constructor(
    private readonly grant: (n: number) => void,
    private readonly onReturn: () => void = () => undefined,
  ) {}

  /** Messages waiting. */
  get size(): number {
    return this.#items.length;
  }
  /** Adds a message; false when the sender exceeded its credit (the caller fails the call). */
  push(item: T): boolean {
    if (this.#ended) return true;
    if (this.#outstanding <= 0) return false;
    this.#outstanding--;
    this.#items.push(item);
    this.#wake();
    return true;
  }
  end(): void {
    this.#ended = true;
    this.#wake();
  }
  fail(error: unknown): void {
    if (this.#ended) return;
    this.#error = error;
    this.#ended = true;
    this.#wake();
  }
  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }

  async next(): Promise<IteratorResult<T>> {
    for (;;) {
      if (this.#items.length > 0) {
        const value = this.#items.shift()!;
        if (!this.#ended && ++this.#consumed >= INITIAL_CREDIT / 2) {
          this.#outstanding += this.#consumed;
          this.grant(this.#consumed);
          this.#consumed = 0;
        }
        return { value, done: false };
      }
      if (this.#error) throw this.#error;
      if (this.#ended) return { value: undefined, done: true };
      await new Promise<void>((r) => (this.#waiter = r));
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.next(),
      return: async () => {
        if (!this.#ended) {
          this.#ended = true;
          this.#items.length = 0;
          this.onReturn();
        }
        return { value: undefined, done: true };
      },
    };
  }
}

/** An error thrown when a peer sends past its credit. */
export const overrunError = (): OctopiiError => new OctopiiError('PROTOCOL_ERROR', `peer sent more than its credit of ${INITIAL_CREDIT} messages`);
