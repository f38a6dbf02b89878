import { OctopiiError } from '../../errors.js';
import type { Clock } from '../../runtime/clock.js';
import { err } from './shared.js';

/** How a pipe moves chunks: the link's current delay and the network clock. */
export interface Transit {
  /** Delivery delay in ms for a chunk written now (0 = at once, in the write call). */
  delayMs(): number;
  readonly clock: Clock;
}

/**
 * One direction of a stream: the writer's WritableStream and the reader's ReadableStream.
 * With a delay, chunks (and the FIN) wait in `#transit` and reach the reader in write order,
 * each `delayMs` after its write on the clock; bytes in transit count against the reader's
 * buffer, so a writer still waits once `highWaterMark` bytes are queued or on their way.
 */
export class Pipe {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  #rc!: ReadableStreamDefaultController<Uint8Array>;
  #wc!: WritableStreamDefaultController;
  #waiter: { resolve: () => void; reject: (e: unknown) => void } | null = null;
  #failure: OctopiiError | null = null;
  /** In order: chunks (and `'fin'`) written but not yet delivered, with their due time. */
  readonly #transit: Array<{ due: number; chunk: Uint8Array | 'fin' }> = [];
  #transitBytes = 0;
  #timer: unknown;
  #timerSet = false;
  ended = false;

  constructor(
    highWaterMark: number,
    private readonly send: (chunk: Uint8Array) => void,
    private readonly onEnd: () => void,
    private readonly transit: Transit,
  ) {
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.#rc = c;
        },
        pull: () => {
          const w = this.#waiter;
          this.#waiter = null;
          w?.resolve();
        },
        // The reader gave up (QUIC STOP_SENDING): the writer's next write fails.
        cancel: () => {
          this.fail(err('STREAM_ABORTED', 'the reader cancelled the stream'));
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark }),
    );
    this.writable = new WritableStream<Uint8Array>(
      {
        start: (c) => {
          this.#wc = c;
        },
        write: (chunk) => this.#write(chunk),
        close: () => {
          if (this.#failure) throw this.#failure;
          if (this.#transit.length > 0) this.#schedule('fin');
          else this.#finish();
        },
        // The writer reset the stream (QUIC RESET_STREAM).
        abort: () => {
          this.fail(err('STREAM_ABORTED', 'the writer aborted the stream'));
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark }),
    );
  }

  async #write(chunk: Uint8Array): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (!(chunk instanceof Uint8Array)) throw err('INVALID_ARGUMENT', 'streams carry Uint8Array chunks only');
    if (chunk.byteLength === 0) return;
    const copy = chunk.slice();
    if (this.transit.delayMs() > 0 || this.#transit.length > 0) {
      this.#schedule(copy);
    } else {
      this.send(copy); // checks the link and records the delivery; throws when the link is gone
      this.#rc.enqueue(copy);
    }
    while ((this.#rc.desiredSize ?? 0) - this.#transitBytes <= 0) {
      if (this.#failure) throw this.#failure;
      await new Promise<void>((resolve, reject) => {
        this.#waiter = { resolve, reject };
      });
    }
  }

  /** Queues `chunk` for delivery `delayMs` from now, after everything queued before it. */
  #schedule(chunk: Uint8Array | 'fin'): void {
    const now = this.transit.clock.now();
    const last = this.#transit.at(-1)?.due ?? now;
    this.#transit.push({ due: Math.max(now + this.transit.delayMs(), last), chunk });
    if (chunk !== 'fin') this.#transitBytes += chunk.byteLength;
    this.#arm();
  }

  /** One timer at a time, for the head of the transit queue. */
  #arm(): void {
    const head = this.#transit[0];
    if (!head || this.#timerSet) return;
    this.#timerSet = true;
    this.#timer = this.transit.clock.setTimeout(() => {
      this.#timerSet = false;
      this.#arrive();
    }, Math.max(0, head.due - this.transit.clock.now()));
  }

  /** Delivers every chunk that is due, in order. */
  #arrive(): void {
    const now = this.transit.clock.now();
    while (this.#transit.length > 0 && this.#transit[0]!.due <= now && !this.#failure) {
      const { chunk } = this.#transit.shift()!;
      if (chunk === 'fin') {
        this.#finish();
        continue;
      }
      this.#transitBytes -= chunk.byteLength;
      this.send(chunk); // asserts the link is still up: a closed link has failed this pipe already
      this.#rc.enqueue(chunk);
    }
    this.#wakeWriter();
    this.#arm();
  }

  #wakeWriter(): void {
    if ((this.#rc.desiredSize ?? 0) - this.#transitBytes > 0) {
      const w = this.#waiter;
      this.#waiter = null;
      w?.resolve();
    }
  }

  #finish(): void {
    this.#rc.close();
    this.#end();
  }

  #end(): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd();
  }

  /** Fails both ends with `error` (idempotent; a cleanly finished direction keeps its data). */
  fail(error: OctopiiError): void {
    if (this.#failure) return;
    this.#failure = error;
    // Chunks still in transit are lost with the connection.
    if (this.#timerSet) this.transit.clock.clearTimeout(this.#timer);
    this.#timerSet = false;
    this.#transit.length = 0;
    this.#transitBytes = 0;
    try {
      this.#rc.error(error);
    } catch {
      /* already closed or errored */
    }
    try {
      this.#wc.error(error);
    } catch {
      /* already closed or errored */
    }
    const w = this.#waiter;
    this.#waiter = null;
    w?.reject(error);
    this.#end();
  }
}
