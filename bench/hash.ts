/**
 * SHA-256 throughput and event-loop impact: node:crypto vs @noble/hashes, inline vs the piscina
 * pool (src/hash). Prints figures only; never fails on speed.
 *
 *   npx tsx bench/hash.ts [MiB]        (default 256 MiB per node:crypto run, 1/8 of it for noble)
 *
 * Event-loop delay p99 comes from perf_hooks.monitorEventLoopDelay (resolution 1 ms) sampled
 * while each run hashes; an inline run yields to the loop between blocks, so its p99 shows
 * how long one block keeps the loop busy. Pool runs yield too (the lane interleaves I/O), so
 * their p99 shows the main thread's share: copying input into job buffers and messaging.
 */
import { randomBytes, createHash } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as yieldLoop } from 'node:timers/promises';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { HashPool, HASH_JOB_BYTES } from '../src/hash/index.js';

const MiB = 1 << 20;
const total = Number(process.argv[2] ?? 256) * MiB;
const block = HASH_JOB_BYTES;
const template = randomBytes(block);
/** The bench owns its pool (default thread count) and destroys it at the end. */
const pool = new HashPool();
const poolOneShot = (data: Uint8Array) => pool.sha256(data);

interface Row {
  what: string;
  mbps: number;
  p99ms: number;
  maxms: number;
}
const rows: Row[] = [];

async function measure(what: string, bytes: number, run: () => Promise<void>): Promise<void> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  // a ticking timer so the loop has something to be late for
  const tick = setInterval(() => undefined, 1);
  h.enable();
  const t0 = performance.now();
  await run();
  const ms = performance.now() - t0;
  h.disable();
  clearInterval(tick);
  rows.push({ what, mbps: bytes / MiB / (ms / 1000), p99ms: h.percentile(99) / 1e6, maxms: h.max / 1e6 });
}

async function inline(impl: 'node' | 'noble', bytes: number): Promise<void> {
  if (impl === 'node') {
    const h = createHash('sha256');
    for (let n = 0; n < bytes; n += block) {
      h.update(template);
      await yieldLoop();
    }
    h.digest();
  } else {
    const h = nobleSha256.create();
    for (let n = 0; n < bytes; n += block) {
      h.update(template);
      await yieldLoop();
    }
    h.digest();
  }
}

async function pooled(impl: 'node' | 'noble', bytes: number, streams: number, shared: boolean): Promise<void> {
  const src = shared ? new Uint8Array(new SharedArrayBuffer(block)) : template;
  if (shared) src.set(template);
  await Promise.all(
    Array.from({ length: streams }, async () => {
      const h = pool.createSha256({ impl });
      for (let n = 0; n < bytes / streams; n += block) {
        await h.update(src);
        await yieldLoop(); // as the lane does between network reads
      }
      await h.digest();
    }),
  );
}

async function main(): Promise<void> {
  console.log(`SHA-256 bench: ${total / MiB} MiB per node:crypto run, ${total / 8 / MiB} MiB per noble run, ${block / 1024} KiB blocks`);
  // warm the pool (thread start-up is not hashing speed)
  await poolOneShot(new Uint8Array(1));

  const jobs = 2000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: jobs }, () => poolOneShot(new Uint8Array(1))));
  const perJobUs = ((performance.now() - t0) * 1000) / jobs;

  await measure('node:crypto inline', total, () => inline('node', total));
  await measure('@noble/hashes inline', total / 8, () => inline('noble', total / 8));
  await measure('node:crypto pool, 1 stream (copied input)', total, () => pooled('node', total, 1, false));
  await measure('node:crypto pool, 1 stream (SharedArrayBuffer)', total, () => pooled('node', total, 1, true));
  await measure('node:crypto pool, 4 streams (copied input)', total, () => pooled('node', total, 4, false));
  await measure('@noble/hashes pool, 1 stream', total / 8, () => pooled('noble', total / 8, 1, false));

  console.log('');
  console.log('implementation'.padEnd(50), 'MB/s'.padStart(9), 'loop p99 ms'.padStart(12), 'loop max ms'.padStart(12));
  for (const r of rows) {
    console.log(r.what.padEnd(50), r.mbps.toFixed(0).padStart(9), r.p99ms.toFixed(2).padStart(12), r.maxms.toFixed(2).padStart(12));
  }
  console.log('');
  console.log(`pool round trip per tiny job: ${perJobUs.toFixed(1)} µs (${jobs} jobs, all in flight)`);
  await pool.destroy();
}

void main();
