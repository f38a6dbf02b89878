/**
 * WAL figures: CRC-32C libraries, the cost of one fdatasync on this disk, and group commit —
 * appends/s of 100-byte entries with 1, 64 and 256 concurrent appenders against the baseline of
 * one fdatasync per append, measured in the same run. Prints figures only; never fails on speed.
 *
 *   npm run bench:wal -- [--seconds N] [--dir PATH]     (default 2 s per row, the OS temp dir)
 *
 * - crc32c: MiB/s and ns per call of `@node-rs/crc32` (native, SIMD), `hash-wasm` (WebAssembly)
 *   and `@aws-crypto/crc32c` (plain JS) on 128 B, 4 KiB and 1 MiB buffers; all three are checked
 *   against the CRC-32C check value of "123456789" (0xe3069283).
 * - fdatasync: a 128-byte write at the end of a file, then fdatasync, one after the other (the
 *   baseline's unit of work); median and p99 in microseconds.
 * - baseline: `write` + `fdatasync` of one framed 100-byte entry per append, on a raw file handle,
 *   run in slices alternating with each group-commit row's (the shared disk's speed drifts by
 *   several times within a minute; both sides see the same drift), the ratio of the totals.
 * - group commit: `Wal.append` of one 100-byte entry from N appenders that each append again as
 *   soon as the last append resolved; appends/s, fdatasyncs/s (counted in the file layer),
 *   entries per batch, append latency p50/p99, and the ratio to the baseline.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c as nodeRsCrc32c } from '@node-rs/crc32';
import { createCRC32 } from 'hash-wasm';
import { crc32c as awsCrc32c } from '@aws-crypto/crc32c';
import { Wal, nodeWalFs, type WalFs, type WalFile } from '../src/wal/index.js';
import { encodeFrame, encodeRecords } from '../src/wal/codec.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
};
const seconds = Number(arg('--seconds') ?? 2);
const baseDir = arg('--dir') ?? tmpdir();

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

// ── CRC-32C candidates ───────────────────────────────────────────────────────────────────────
async function crcRows(): Promise<void> {
  const wasm = await createCRC32(0x82f63b78);
  const hashWasm = (b: Uint8Array): number => {
    wasm.init();
    wasm.update(b);
    const d = wasm.digest('binary');
    return ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0;
  };
  const candidates: [string, (b: Uint8Array) => number][] = [
    ['@node-rs/crc32', (b) => nodeRsCrc32c(b)],
    ['hash-wasm', hashWasm],
    ['@aws-crypto/crc32c', (b) => awsCrc32c(b)],
  ];
  console.log('crc32c            size     MiB/s   ns/call');
  for (const [name, f] of candidates) {
    if (f(Buffer.from('123456789')) !== 0xe3069283) throw new Error(`${name} is not CRC-32C`);
  }
  for (const size of [128, 4096, 1 << 20]) {
    const buf = Buffer.alloc(size, 0x5a);
    for (const [name, f] of candidates) {
      let iters = 0;
      let x = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < 300 * Math.min(1, seconds / 2)) {
        for (let i = 0; i < 64; i++) x ^= f(buf);
        iters += 64;
      }
      const ms = performance.now() - t0;
      if (x === 0.5) console.log(x); // keep the results live
      console.log(`${name.padEnd(18)}${String(size).padStart(8)}${((size * iters) / (ms / 1000) / 2 ** 20).toFixed(0).padStart(10)}${((ms * 1e6) / iters).toFixed(0).padStart(10)}`);
    }
  }
}

// ── fdatasync and the baseline ─────────────────────────────────────────────────────────────────
async function fdatasyncCost(dir: string): Promise<void> {
  const fh = await open(join(dir, 'sync-probe'), 'w+');
  const chunk = Buffer.alloc(128, 1);
  const us: number[] = [];
  let pos = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    await fh.write(chunk, 0, chunk.byteLength, pos);
    pos += chunk.byteLength;
    const s = performance.now();
    await fh.datasync();
    us.push((performance.now() - s) * 1000);
  }
  await fh.close();
  console.log(`\nfdatasync after a 128 B append: median ${quantile(us, 0.5).toFixed(0)} µs, p99 ${quantile(us, 0.99).toFixed(0)} µs (${us.length} syncs)`);
}

/** One fdatasync per append on a raw file handle; runs in slices (see {@link row}). */
class Baseline {
  private pos = 0;
  private n = 0;
  count = 0;
  ms = 0;
  private constructor(private readonly fh: Awaited<ReturnType<typeof open>>) {}
  static async open(path: string): Promise<Baseline> {
    return new Baseline(await open(path, 'w+'));
  }
  async slice(ms: number): Promise<void> {
    const data = Buffer.alloc(100, 7);
    const t0 = performance.now();
    while (performance.now() - t0 < ms) {
      const frame = encodeFrame([encodeRecords([{ type: 'entry', index: ++this.n, term: 1, data }]).bytes]);
      await this.fh.write(frame, 0, frame.byteLength, this.pos);
      this.pos += frame.byteLength;
      await this.fh.datasync();
      this.count++;
    }
    this.ms += performance.now() - t0;
  }
  close(): Promise<void> {
    return this.fh.close();
  }
}

// ── group commit ─────────────────────────────────────────────────────────────────────────────
function countingFs(): WalFs & { syncs: number } {
  const wrap = (f: WalFile): WalFile => ({
    path: f.path,
    write: (d, p) => f.write(d, p),
    read: (i, p) => f.read(i, p),
    datasync: () => (counting.syncs++, f.datasync()),
    truncate: (l) => f.truncate(l),
    size: () => f.size(),
    close: () => f.close(),
  });
  const counting = {
    ...nodeWalFs,
    syncs: 0,
    openWrite: async (p: string) => wrap(await nodeWalFs.openWrite(p)),
    create: async (p: string) => wrap(await nodeWalFs.create(p)),
  };
  return counting;
}

/**
 * One row: N appenders on a WAL against the baseline, in alternating slices (baseline, WAL,
 * baseline, WAL …, `SLICES` of each, `seconds` in all per side), so that both see the same drift
 * of the shared disk; the ratio is of the totals.
 */
const SLICES = 8;
async function row(dir: string, appenders: number): Promise<void> {
  const base = await Baseline.open(join(dir, `baseline-${appenders}`));
  const fs = countingFs();
  const { wal } = await Wal.open(join(dir, `wal-${appenders}`), { fs });
  const data = Buffer.alloc(100, 7);
  const latencies: number[] = [];
  let next = 1;
  let walMs = 0;
  let syncs = 0;
  const sliceMs = (seconds * 1000) / SLICES;
  for (let k = 0; k < SLICES; k++) {
    await base.slice(sliceMs);
    let stop = false;
    const syncs0 = fs.syncs;
    const t0 = performance.now();
    const timer = setTimeout(() => (stop = true), sliceMs);
    await Promise.all(
      Array.from({ length: appenders }, async () => {
        while (!stop) {
          const s = performance.now();
          await wal.append([{ index: next++, term: 1, data }]);
          latencies.push(performance.now() - s);
        }
      }),
    );
    clearTimeout(timer);
    walMs += performance.now() - t0;
    syncs += fs.syncs - syncs0;
  }
  await wal.close();
  await base.close();
  const basePerSec = base.count / (base.ms / 1000);
  const perSec = latencies.length / (walMs / 1000);
  console.log(
    `${String(appenders).padStart(9)}${basePerSec.toFixed(0).padStart(12)}${perSec.toFixed(0).padStart(12)}${(syncs / (walMs / 1000)).toFixed(0).padStart(10)}${(latencies.length / syncs).toFixed(1).padStart(9)}` +
      `${quantile(latencies, 0.5).toFixed(2).padStart(9)}${quantile(latencies, 0.99).toFixed(2).padStart(9)}${(perSec / basePerSec).toFixed(1).padStart(9)}×`,
  );
}

const dir = await mkdtemp(join(baseDir, 'octopii-bench-wal-'));
try {
  await crcRows();
  await fdatasyncCost(dir);
  console.log('\nappenders  baseline/s   appends/s  syncs/s    batch   p50 ms   p99 ms  vs baseline');
  for (const n of [1, 64, 256]) await row(dir, n);
} finally {
  await rm(dir, { recursive: true, force: true });
}
