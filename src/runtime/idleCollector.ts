/**
 * Collects the JavaScript heap's garbage when a long-running process (`octopii serve`) has gone
 * idle, so memory used by a burst (a transfer, 1,000 refused streams) comes back afterwards.
 *
 * Why it is needed: octopii's node flags (src/nodeFlags.ts) start the old generation at 64 MiB
 * (`--initial-old-space-size=64`), so V8 runs its first mark-compact only once ~64 MiB have been
 * promoted — and an idle process allocates nothing, so garbage promoted during a burst stays
 * resident for good. Measured with `npm run bench:memory` (the flood rows of
 * bench/memoryFlood.ts, `octopii serve` alone in its process): after 1,000 stalled streams on
 * @matrixai/quic the V8 heap held ~21 MiB of garbage (heapUsed 28.5 of heapTotal 41.9 MiB, 13 MiB
 * of dead ArrayBuffers) and RSS stayed +31.7 MiB over its level before the flood. V8's own idle
 * GC needs an embedder that reports idle time, which Node does not.
 *
 * What it does: every `everyMs` it reads the event loop's busy fraction since the last check
 * (`performance.eventLoopUtilization`) and the heap (`heapUsed + external`, bytes). A check on
 * a loop busier than `busyBelow` does nothing (never a pause during a transfer). On an idle loop,
 * when the heap has grown `growthBytes` past what the last collection left, it arms `rounds`
 * collections, one per idle check: more than one, because V8 ages a function's bytecode over
 * several mark-compacts before it flushes it (start-up code: idle `octopii serve` RSS 67.9 →
 * 65.6 MiB after five of them). It starts armed (start-up leaves garbage too).
 *
 * `gc` is V8's `globalThis.gc`, present under `--expose-gc` (one of octopii's node flags):
 * {@link exposedGc} returns it, or undefined when node runs without the flag (then there is
 * nothing to start). One full collection of a node's ~15 MiB heap took 12–34 ms on the shared
 * 2-core machine (`--trace-gc`, reason `testing`): six after start-up, none during a 512 MiB
 * receive through the CLI, six in the 3.5 s after it. A transfer
 * slow enough to leave the loop under `busyBelow` (a few MB/s) while the heap grows keeps a
 * series armed: then one collection per check (every 500 ms), a few ms each.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export interface IdleCollectorOptions {
  /** Runs a full collection (V8's `gc` under `--expose-gc`). */
  gc: () => void;
  /** Live heap bytes now (default: `process.memoryUsage()` heapUsed + external). */
  heapBytes?: () => number;
  /** Fraction of the time the event loop was busy since the previous call, 0–1 (default: `performance.eventLoopUtilization`). */
  busy?: () => number;
  /** Busy fraction under which a check counts as idle (default 0.05). */
  busyBelow?: number;
  /** Heap growth (bytes) since the last collection that arms a new series (default 1 MiB). */
  growthBytes?: number;
  /** Collections in one series, one per idle check (default 6). */
  rounds?: number;
}

/** The collector's decisions; {@link IdleCollector.check} is one check (the timer calls it every `everyMs`). */
export class IdleCollector {
  readonly #gc: () => void;
  readonly #heapBytes: () => number;
  readonly #busy: () => number;
  readonly #busyBelow: number;
  readonly #growth: number;
  readonly #rounds: number;
  /** Collections left in the current series. */
  #left: number;
  /** Heap bytes the last collection left (0 before the first). */
  #floor = 0;
  /** Collections run so far. */
  collections = 0;

  constructor(o: IdleCollectorOptions) {
    this.#gc = o.gc;
    this.#heapBytes = o.heapBytes ?? (() => {
      const m = process.memoryUsage();
      return m.heapUsed + m.external;
    });
    this.#busy = o.busy ?? eventLoopBusy();
    this.#busyBelow = o.busyBelow ?? 0.05;
    this.#growth = o.growthBytes ?? 2 ** 20;
    this.#rounds = o.rounds ?? 6;
    this.#left = this.#rounds;
  }

  /** One check: collects (returns true) when the loop was idle and a series is armed or the heap grew. */
  check(): boolean {
    if (this.#busy() >= this.#busyBelow) return false;
    if (this.#heapBytes() > this.#floor + this.#growth) this.#left = this.#rounds;
    if (this.#left === 0) return false;
    this.#left--;
    this.#gc();
    this.collections++;
    this.#floor = this.#heapBytes();
    return true;
  }
}

/** Busy fraction of the event loop between successive calls. */
function eventLoopBusy(): () => number {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const delta = performance.eventLoopUtilization(now, last);
    last = now;
    return delta.utilization;
  };
}

/** V8's `gc` when node runs with `--expose-gc`, else undefined. */
export function exposedGc(): (() => void) | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? (gc as () => void) : undefined;
}

/**
 * Checks every `everyMs` (default 500 ms; an unref'd timer: it never keeps the process
 * alive) until `stop()`. Without `gc` (node started without `--expose-gc`) it does nothing.
 */
export function startIdleCollector(options: Partial<IdleCollectorOptions> & { everyMs?: number } = {}): { collector: IdleCollector | undefined; stop(): void } {
  const gc = options.gc ?? exposedGc();
  if (!gc) return { collector: undefined, stop: () => undefined };
  const collector = new IdleCollector({ ...options, gc });
  const timer = setInterval(() => collector.check(), options.everyMs ?? 500);
  timer.unref();
  return { collector, stop: () => clearInterval(timer) };
}
