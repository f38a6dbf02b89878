/**
 * Per-process measurement for the benches (bench/peer.ts, bench/tls-baseline.ts): CPU time,
 * resident memory above idle, and event-loop delay over one transfer window.
 *
 *   const m = startMeter();   // call right before the transfer: the current RSS is "idle"
 *   …transfer…
 *   const figures = m.stop(); // MeterFigures, plain JSON
 *
 * - CPU: `process.cpuUsage()` delta, user + system, in seconds. It is getrusage(RUSAGE_SELF),
 *   so it counts every thread of the process (piscina hash workers, libuv pool, the quinn
 *   binding's Rust threads).
 * - Memory: idle RSS at start; peak = the larger of RSS sampled every 50 ms and the kernel's
 *   high-water mark (`process.resourceUsage().maxRSS`, KiB) when that mark rose during the
 *   window (a mark set before the window, e.g. at start-up, says nothing about the transfer).
 * - Event-loop delay: `perf_hooks.monitorEventLoopDelay({ resolution: 10 })`. Node's histogram
 *   records the interval between its 10 ms timer's runs (an idle loop reads ~10.1 ms), so the
 *   delay is the recorded value minus the resolution, clamped at 0. Both are reported.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

const MiB = 2 ** 20;
/** Event-loop delay histogram resolution, ms. */
export const ELD_RESOLUTION_MS = 10;
/** RSS sampling period, ms. */
export const RSS_SAMPLE_MS = 50;

export interface MeterFigures {
  /** Window length, ms. */
  wallMs: number;
  /** User + system CPU of the whole process in the window, seconds. */
  cpuSeconds: number;
  /** RSS right before the window, MiB. */
  idleRssMiB: number;
  /** Highest RSS seen in the window, MiB. */
  peakRssMiB: number;
  /** peakRssMiB − idleRssMiB. */
  peakAboveIdleMiB: number;
  /** Event-loop delay p99 (recorded interval − resolution), ms. */
  eldP99Ms: number;
  /** Event-loop delay max (recorded interval − resolution), ms. */
  eldMaxMs: number;
  /** Raw histogram p99 (includes the 10 ms resolution), ms. */
  eldRawP99Ms: number;
  /** Histogram samples. */
  eldSamples: number;
}

export interface Meter {
  stop(): MeterFigures;
}

const rssMiB = (): number => process.memoryUsage.rss() / MiB;
const maxRssMiB = (): number => process.resourceUsage().maxRSS / 1024;

/** Starts measuring this process; the RSS now is the idle RSS. */
export function startMeter(): Meter {
  const idle = rssMiB();
  const maxAtStart = maxRssMiB();
  let peak = idle;
  const sampler = setInterval(() => {
    const r = rssMiB();
    if (r > peak) peak = r;
  }, RSS_SAMPLE_MS);
  const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  eld.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let done: MeterFigures | undefined;
  return {
    stop(): MeterFigures {
      if (done) return done;
      const wallMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      eld.disable();
      clearInterval(sampler);
      peak = Math.max(peak, rssMiB());
      const maxNow = maxRssMiB();
      if (maxNow > maxAtStart) peak = Math.max(peak, maxNow);
      const delay = (ns: number) => Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS);
      const samples = eld.count;
      done = {
        wallMs,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        idleRssMiB: idle,
        peakRssMiB: peak,
        peakAboveIdleMiB: peak - idle,
        eldP99Ms: samples ? delay(eld.percentile(99)) : 0,
        eldMaxMs: samples ? delay(eld.max) : 0,
        eldRawP99Ms: samples ? eld.percentile(99) / 1e6 : 0,
        eldSamples: samples,
      };
      return done;
    },
  };
}
