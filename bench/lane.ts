/**
 * `npm run bench`: Shipping Lane file → file, verified, over each
 * QUIC transport on 127.0.0.1, with node:tls over TCP as the baseline in the same run. Prints a
 * table and the speed targets (✓/✗, never enforced); `--json FILE` writes every figure.
 *
 *   npm run bench -- [--size 256MiB|1GiB|4GiB] [--transports quinn,matrixai] [--streams 1,4]
 *                    [--matrixai-full] [--no-warmup] [--baseline-reps 3] [--no-stream]
 *                    [--quinn-threads N|auto|default] [--json FILE]
 *
 * See bench/README.md for what each figure means.
 *
 * Per transport, one stream memory → memory first (bench/stream.ts, the transport's ceiling
 * against the same baseline). Then per transport and stream count, a fresh receiver and a fresh
 * sender process (bench/peer.ts, each a real OctopiiNode) connect, ship one 1 MiB warm-up transfer (unless
 * `--no-warmup`), start their meters (bench/meter.ts), then transfer a crypto-random file:
 * - 1 stream: the whole file, one lane transfer;
 * - 4 streams: the same bytes as 4 equal part-files, sent as 4 concurrent lane transfers (one
 *   stream each) over the one connection the sender opened before the clock started.
 * Verified: every receiver status is 0, and the SHA-256 the receiver computed and the SHA-256 of
 * the stored file re-read from disk both equal the source's (hashed while it was generated).
 * The exit status is 1 only if a transfer failed or did not verify — never for speed.
 *
 * The matrixai transport's size is capped at 256 MiB unless `--matrixai-full` is given (the
 * table says when it was capped): the cap dates from before the hot-path patch, when it moved
 * 6–30 MB/s; patched it keeps pace with quinn on loopback, so the flag now only costs time.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { DEFAULT_TRANSPORT } from '../src/config.js';
import type { TransferResult } from '../src/lane/index.js';
import type { MeterFigures } from './meter.js';
import type { FromPeer, ReceivedTransfer, ToPeer } from './peer.js';
import { runStreamBench, type StreamBenchResult } from './stream.js';
import { runTlsBaseline, type TlsBaselineResult } from './tls-baseline.js';
import { Child, childNodeFlags, killChildren, parseSize, formatSize, mbps } from './util.js';

type TransportName = 'quinn' | 'matrixai';
const MiB = 2 ** 20;
const GiB = 2 ** 30;
const MATRIXAI_CAP = 256 * MiB;
/** One warm-up transfer before each measured window (hash pool started, lane code loaded). */
const WARMUP_BYTES = MiB;
const PEER_SCRIPT = fileURLToPath(new URL('./peer.ts', import.meta.url));

/** The speed targets the bench prints (never enforced). */
const TARGET = { laneOverTls: 0.45, receiverRssAboveIdleMiB: 64, eldP99Ms: 5, rssTargetBytes: 4 * GiB };

interface SourceFile {
  path: string;
  bytes: number;
  sha256: string;
}
interface Sources {
  bytes: number;
  whole: SourceFile;
  parts: SourceFile[];
}

interface LaneRun {
  transport: TransportName;
  streams: number;
  bytes: number;
  /** Size was reduced from the requested one (matrixai cap). */
  capped: boolean;
  ok: boolean;
  error?: string;
  /** First byte sent → last status byte received, ms (sender). */
  wallMs: number;
  /** 10^6 bytes/s. */
  mbps: number;
  /** Lane MB/s ÷ node:tls MB/s with as many connections as streams (median baseline). */
  overTls: number;
  sender?: MeterFigures & { cpuSecondsPerGiB: number };
  receiver?: MeterFigures & { cpuSecondsPerGiB: number };
  /** Per file: source hash, receiver's lane hash, re-read hash, verified. */
  files: { sha256: string; receiverSha256: string; diskSha256: string; verified: boolean }[];
  results?: TransferResult[];
}

// ── sources ───────────────────────────────────────────────────────────────────────────────

/**
 * Writes a crypto-random file of `bytes` in 4 MiB chunks, plus the same bytes as 4 part-files
 * (the last takes any remainder), hashing everything as it is written.
 */
async function makeSources(dir: string, bytes: number): Promise<Sources> {
  const chunk = Buffer.allocUnsafe(4 * MiB);
  const quarter = Math.floor(bytes / 4);
  const bounds = [0, quarter, 2 * quarter, 3 * quarter, bytes];
  const whole = { path: join(dir, `source-${bytes}.bin`), fh: await open(join(dir, `source-${bytes}.bin`), 'w'), h: createHash('sha256') };
  const parts = await Promise.all(
    [0, 1, 2, 3].map(async (i) => {
      const path = join(dir, `source-${bytes}.part${i}.bin`);
      return { path, fh: await open(path, 'w'), h: createHash('sha256'), bytes: bounds[i + 1]! - bounds[i]! };
    }),
  );
  try {
    for (let off = 0; off < bytes; ) {
      const n = Math.min(chunk.length, bytes - off);
      const data = chunk.subarray(0, n);
      randomFillSync(data);
      await whole.fh.write(data);
      whole.h.update(data);
      // split the chunk over the part files it spans
      for (let p = 0, at = off; p < 4 && at < off + n; p++) {
        if (at >= bounds[p + 1]!) continue;
        const end = Math.min(off + n, bounds[p + 1]!);
        const slice = data.subarray(at - off, end - off);
        await parts[p]!.fh.write(slice);
        parts[p]!.h.update(slice);
        at = end;
      }
      off += n;
    }
  } finally {
    await Promise.all([whole.fh.close(), ...parts.map((p) => p.fh.close())]);
  }
  return {
    bytes,
    whole: { path: whole.path, bytes, sha256: whole.h.digest('hex') },
    parts: parts.map((p) => ({ path: p.path, bytes: p.bytes, sha256: p.h.digest('hex') })),
  };
}

// ── one lane run ──────────────────────────────────────────────────────────────────────────

async function runLane(
  transport: TransportName,
  files: SourceFile[],
  work: string,
  label: string,
  warmupBytes: number,
): Promise<Omit<LaneRun, 'capped' | 'overTls'>> {
  const bytes = files.reduce((a, f) => a + f.bytes, 0);
  const dir = join(work, label);
  const rx = Child.fork<ToPeer, FromPeer>(`${label} receiver`, PEER_SCRIPT, ['receive', '--transport', transport, '--dir', join(dir, 'rx')]);
  const tx = Child.fork<ToPeer, FromPeer>(`${label} sender`, PEER_SCRIPT, ['send', '--transport', transport, '--dir', join(dir, 'tx')]);
  const base = { transport, streams: files.length, bytes, wallMs: 0, mbps: 0 };
  const fileRows = files.map((f) => ({ sha256: f.sha256, receiverSha256: '', diskSha256: '', verified: false }));
  try {
    const ready = await rx.next('ready', 60_000);
    tx.send({ type: 'connect', peer: { address: ready.address, nodeId: ready.nodeId }, warmupBytes });
    await tx.next('connected', 60_000);
    rx.send({ type: 'arm', expect: files.length, warmups: warmupBytes > 0 ? 1 : 0 });
    await rx.next('armed', 10_000);
    tx.send({ type: 'send', files: files.map((f) => f.path) });
    // Bounded: generous for a slow transport, a backstop behind the lane's own 30 s inactivity timeout.
    const sent = await tx.next('sent', 60_000 + (bytes / 1e6) * 500);
    const received = await rx.next('received', 60_000);
    // Match received transfers to sources by hash (parallel transfers finish in any order).
    const pool: ReceivedTransfer[] = [...received.transfers];
    for (const row of fileRows) {
      const i = pool.findIndex((t) => t.sha256 === row.sha256);
      const t = i >= 0 ? pool.splice(i, 1)[0]! : undefined;
      row.receiverSha256 = t?.sha256 ?? '';
      row.diskSha256 = t?.diskSha256 ?? '';
      row.verified = !!t && t.ok && t.sha256 === row.sha256 && t.diskSha256 === row.sha256;
    }
    const failures = [
      ...sent.results.filter((r) => !r.success).map((r) => `sender: ${r.error?.code ?? 'failed'} ${r.error?.message ?? ''}`.trim()),
      ...received.transfers.filter((t) => !t.ok).map((t) => `receiver: ${t.error?.code ?? 'failed'} ${t.error?.message ?? ''}`.trim()),
    ];
    const ok = failures.length === 0 && fileRows.every((r) => r.verified);
    const perGiB = (m: MeterFigures) => ({ ...m, cpuSecondsPerGiB: m.cpuSeconds / (bytes / GiB) });
    const run: Omit<LaneRun, 'capped' | 'overTls'> = {
      ...base,
      ok,
      wallMs: sent.wallMs,
      mbps: mbps(bytes, sent.wallMs),
      sender: perGiB(sent.meter),
      receiver: perGiB(received.meter),
      files: fileRows,
      results: sent.results,
    };
    if (!ok) run.error = failures.join('; ') || 'received data does not match the source';
    return run;
  } catch (e) {
    return { ...base, ok: false, error: e instanceof Error ? e.message : String(e), files: fileRows };
  } finally {
    await Promise.all([rx.stop(), tx.stop()]);
    await rm(dir, { recursive: true, force: true });
  }
}

// ── report ────────────────────────────────────────────────────────────────────────────────

const f1 = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(1));
const f2 = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(2));
const mark = (ok: boolean): string => (ok ? '✓' : '✗');

/** Plain-text table; the first and last columns are left-aligned, the others right-aligned. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const left = (i: number) => i === 0 || i === header.length - 1;
  const line = (cells: string[]) =>
    cells.map((c, i) => (left(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

// ── main ──────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<number> {
  const program = new Command('bench')
    .description('Shipping Lane file → file over each QUIC transport on loopback, with a node:tls baseline')
    .addOption(new Option('--size <size>', 'file size: 256MiB, 1GiB, 4GiB, …').default('256MiB'))
    .option('--transports <list>', 'comma-separated: quinn, matrixai', 'quinn,matrixai')
    .option('--streams <list>', 'comma-separated stream counts (1 = whole file, 4 = four part-files in parallel)', '1,4')
    .option('--matrixai-full', 'do not cap the matrixai transport at 256 MiB', false)
    .option('--no-warmup', 'measure cold processes (no 1 MiB warm-up transfer before the window)')
    .option('--baseline-reps <n>', 'node:tls runs per connection count (the median is used)', '3')
    .option('--no-stream', 'skip the transport-only rows (one stream memory → memory per transport)')
    .option('--quinn-threads <n>', 'quinn runtime threads per node process: a number, "auto" (cores ÷ 2: the two nodes share the machine) or "default" (one per core)', 'auto')
    .option('--json <file>', 'write every figure to FILE as JSON');
  program.parse(process.argv);
  const opts = program.opts<{ size: string; transports: string; streams: string; matrixaiFull: boolean; warmup: boolean; baselineReps: string; stream: boolean; quinnThreads: string; json?: string }>();
  // Children inherit the environment: OctopiiNode reads OCTOPII_QUINN_THREADS (src/config.ts).
  const quinnThreads = opts.quinnThreads === 'default' ? undefined : opts.quinnThreads === 'auto' ? Math.max(1, Math.floor(availableParallelism() / 2)) : Number(opts.quinnThreads);
  if (quinnThreads !== undefined && !(Number.isInteger(quinnThreads) && quinnThreads > 0)) throw new Error(`--quinn-threads takes a positive integer, auto or default (got ${opts.quinnThreads})`);
  if (quinnThreads === undefined) delete process.env.OCTOPII_QUINN_THREADS;
  else process.env.OCTOPII_QUINN_THREADS = String(quinnThreads);
  const size = parseSize(opts.size);
  const transports = opts.transports.split(',').map((s) => s.trim()).filter(Boolean) as TransportName[];
  for (const t of transports) if (t !== 'quinn' && t !== 'matrixai') throw new Error(`unknown transport "${t}" (quinn | matrixai)`);
  const streamCounts = opts.streams.split(',').map(Number);
  for (const s of streamCounts) if (s !== 1 && s !== 4) throw new Error(`--streams takes 1 and/or 4, got ${s}`);
  const reps = Math.max(1, Number(opts.baselineReps) || 1);
  const sizeOf = (t: TransportName): { bytes: number; capped: boolean } =>
    t === 'matrixai' && size > MATRIXAI_CAP && !opts.matrixaiFull ? { bytes: MATRIXAI_CAP, capped: true } : { bytes: size, capped: false };

  const started = Date.now();
  const loadBefore = loadavg()[0]!;
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(`octopii lane bench — ${formatSize(size)} file → file, SHA-256 verified, 127.0.0.1`);
  console.log(
    `node ${process.version}, ${availableParallelism()} CPUs (${cpu}), ${Math.round(totalmem() / GiB)} GiB RAM, ` +
      `load average ${loadBefore.toFixed(2)}; default transport: ${DEFAULT_TRANSPORT}`,
  );
  console.log(`node processes: ${['node', ...childNodeFlags()].join(' ')}; quinn runtime threads per process: ${quinnThreads ?? `default (${availableParallelism()})`}`);

  const work = await mkdtemp(join(tmpdir(), 'octopii-bench-'));
  workDir = work;
  const sources = new Map<number, Sources>();
  const runs: LaneRun[] = [];
  const baseline = new Map<number, { runs: TlsBaselineResult[]; mbps: number }>();
  const streamRuns: (StreamBenchResult & { overTls: number })[] = [];
  try {
    // Sources first (all sizes), so generation does not interleave with measured runs.
    for (const t of transports) {
      const { bytes } = sizeOf(t);
      if (!sources.has(bytes)) {
        process.stdout.write(`generating ${formatSize(bytes)} of crypto-random data … `);
        sources.set(bytes, await makeSources(work, bytes));
        console.log(`sha256 ${sources.get(bytes)!.whole.sha256}`);
      }
    }

    // Baseline: node:tls over TCP, memory → memory, the same number of bytes as the bench size.
    for (const conns of [...new Set(streamCounts)]) {
      const bytes = size - (size % conns);
      const rs: TlsBaselineResult[] = [];
      for (let i = 0; i < reps; i++) {
        process.stdout.write(`node:tls baseline, ${conns} connection(s), run ${i + 1}/${reps} … `);
        const r = await runTlsBaseline({ bytes, connections: conns });
        console.log(`${f1(r.mbps)} MB/s`);
        rs.push(r);
      }
      baseline.set(conns, { runs: rs, mbps: median(rs.map((r) => r.mbps)) });
    }

    // The transport alone: one stream memory → memory, unhashed, like the baseline (bench/stream.ts).
    if (opts.stream) {
      for (const t of transports) {
        const { bytes } = sizeOf(t);
        process.stdout.write(`${t} stream, memory → memory, ${formatSize(bytes)} … `);
        const r = await runStreamBench({ transport: t, bytes });
        streamRuns.push({ ...r, overTls: r.mbps / (baseline.get(1)?.mbps ?? NaN) });
        console.log(`${f1(r.mbps)} MB/s`);
      }
    }

    for (const t of transports) {
      const { bytes, capped } = sizeOf(t);
      const src = sources.get(bytes)!;
      for (const streams of streamCounts) {
        const files = streams === 1 ? [src.whole] : src.parts;
        process.stdout.write(`lane ${t}, ${streams} stream(s), ${formatSize(bytes)}${capped ? ' (capped)' : ''} … `);
        const r = await runLane(t, files, work, `${t}-${streams}`, opts.warmup ? WARMUP_BYTES : 0);
        const overTls = r.mbps / (baseline.get(streams)?.mbps ?? NaN);
        runs.push({ ...r, capped, overTls });
        console.log(r.ok ? `${f1(r.mbps)} MB/s, verified` : `FAILED: ${r.error}`);
      }
    }
  } finally {
    killChildren();
    await rm(work, { recursive: true, force: true });
  }

  // ── table ──
  console.log('');
  const baseRows = [...baseline].map(([conns, b]) => [
    'node:tls (TCP)',
    String(conns),
    formatSize(b.runs[0]!.bytes),
    f1(b.mbps),
    '1.00',
    f2(median(b.runs.map((r) => r.sender.cpuSeconds / (r.bytes / GiB)))),
    f2(median(b.runs.map((r) => r.receiver.cpuSeconds / (r.bytes / GiB)))),
    f1(median(b.runs.map((r) => r.sender.peakAboveIdleMiB))),
    f1(median(b.runs.map((r) => r.receiver.peakAboveIdleMiB))),
    f1(median(b.runs.map((r) => r.sender.eldP99Ms))),
    f1(median(b.runs.map((r) => r.receiver.eldP99Ms))),
    'memory→memory',
  ]);
  /** CPU s/GiB, RSS↑ and ELD cells, sender then receiver, of one metered run of `bytes`. */
  const meterCells = (bytes: number, tx?: MeterFigures, rx?: MeterFigures): string[] => [
    f2(tx && tx.cpuSeconds / (bytes / GiB)),
    f2(rx && rx.cpuSeconds / (bytes / GiB)),
    f1(tx?.peakAboveIdleMiB),
    f1(rx?.peakAboveIdleMiB),
    f1(tx?.eldP99Ms),
    f1(rx?.eldP99Ms),
  ];
  const streamRows = streamRuns.map((r) => [
    `${r.transport} stream`,
    '1',
    formatSize(r.bytes) + (r.bytes < size ? '*' : ''),
    f1(r.mbps),
    f2(r.overTls),
    ...meterCells(r.bytes, r.sender, r.receiver),
    'memory→memory',
  ]);
  const laneRows = runs.map((r) => [
    `lane ${r.transport}`,
    String(r.streams),
    formatSize(r.bytes) + (r.capped ? '*' : ''),
    r.ok ? f1(r.mbps) : '–',
    r.ok ? f2(r.overTls) : '–',
    ...meterCells(r.bytes, r.sender, r.receiver),
    r.ok ? '✓ sha256' : '✗ FAILED',
  ]);
  const rows = [...baseRows, ...streamRows, ...laneRows];
  const header = ['path', 'streams', 'bytes', 'MB/s', '×tls', 'CPU tx', 'CPU rx', 'RSS↑ tx', 'RSS↑ rx', 'ELD tx', 'ELD rx', 'verified'];
  console.log(table(header, rows).replace(/^/gm, '  '));
  console.log(
    [
      `  MB/s     10^6 bytes/s, first byte sent → last status byte received (sender's clock)`,
      `  ×tls     MB/s ÷ node:tls MB/s with as many TCP connections as streams (median of ${reps} baseline runs)`,
      `  stream   the transport alone: one QUIC stream, memory → memory, unhashed, like node:tls (bench/stream.ts)`,
      `  CPU      user+system CPU seconds per GiB moved, whole process (all threads); tx = sender, rx = receiver`,
      opts.warmup
        ? `  RSS↑     peak RSS above the idle process (idle = started, connected, one 1 MiB warm-up transfer done), MiB`
        : `  RSS↑     peak RSS above the idle process (idle = started and connected, cold: --no-warmup), MiB`,
      `  ELD      event-loop delay p99, ms (monitorEventLoopDelay, 10 ms resolution subtracted)`,
      `  streams  1 = the whole file, one transfer; 4 = the same bytes as 4 part-files (¼ each) sent as 4`,
      `           concurrent lane transfers over one connection; node:tls: TCP connections`,
    ].join('\n'),
  );
  if (runs.some((r) => r.capped)) console.log(`* matrixai capped at ${formatSize(MATRIXAI_CAP)} (pass --matrixai-full for the full size).`);

  console.log('\nverification (receiver lane SHA-256 = re-read file SHA-256 = source SHA-256):');
  for (const r of runs) {
    for (const [i, f] of r.files.entries()) {
      const what = r.streams === 1 ? 'file  ' : `part ${i}`;
      console.log(`  ${mark(f.verified)} ${r.transport.padEnd(8)} ${r.streams} stream(s) ${what} ${f.receiverSha256 || '(none received)'}${f.verified ? '' : `  expected ${f.sha256}`}`);
    }
    if (r.error) console.log(`    error: ${r.error}`);
  }

  // ── ratios and targets ──
  const byKey = (t: TransportName, s: number) => runs.find((r) => r.transport === t && r.streams === s && r.ok);
  const ratios: Record<string, number> = {};
  console.log('\nratios:');
  for (const r of runs.filter((x) => x.ok)) {
    ratios[`${r.transport}/${r.streams}-stream ÷ tls/${r.streams}-conn`] = r.overTls;
    console.log(`  lane ${r.transport}, ${r.streams} stream(s) ÷ node:tls, ${r.streams} connection(s): ${f2(r.overTls)}×`);
  }
  for (const st of streamRuns) {
    const lane = byKey(st.transport, 1);
    if (!lane) continue;
    ratios[`${st.transport}/1-stream lane ÷ ${st.transport} stream`] = lane.mbps / st.mbps;
    console.log(`  lane ${st.transport}, 1 stream ÷ ${st.transport} stream alone (the transport's ceiling, ${f2(st.overTls)}× node:tls): ${f2(lane.mbps / st.mbps)}×`);
  }
  for (const s of streamCounts) {
    const q = byKey('quinn', s);
    const m = byKey('matrixai', s);
    if (q && m) {
      ratios[`matrixai ÷ quinn, ${s}-stream`] = m.mbps / q.mbps;
      console.log(`  matrixai ÷ quinn, ${s} stream(s): ${f2(m.mbps / q.mbps)}× (${f1(m.mbps)} vs ${f1(q.mbps)} MB/s${m.bytes !== q.bytes ? `; ${formatSize(m.bytes)} vs ${formatSize(q.bytes)}` : ''})`);
    }
  }

  const targets: { target: string; transport: string; value: number; limit: number; met: boolean; note?: string }[] = [];
  console.log('\ntargets (printed, never enforced):');
  for (const t of transports) {
    const tr = runs.filter((r) => r.transport === t && r.ok);
    if (!tr.length) continue;
    const isDefault = t === DEFAULT_TRANSPORT;
    const one = tr.find((r) => r.streams === 1) ?? tr[0]!;
    const sizeNote = `${formatSize(one.bytes)}${one.capped ? ', capped' : ''}`;
    const speed = { target: 'lane ÷ node:tls ≥ 0.45×', transport: t, value: one.overTls, limit: TARGET.laneOverTls, met: one.overTls >= TARGET.laneOverTls };
    const rss = Math.max(...tr.map((r) => r.receiver!.peakAboveIdleMiB));
    const rssT = {
      target: 'receiver peak RSS ≤ 64 MiB above idle',
      transport: t,
      value: rss,
      limit: TARGET.receiverRssAboveIdleMiB,
      met: rss <= TARGET.receiverRssAboveIdleMiB,
      note: one.bytes < TARGET.rssTargetBytes ? `measured at ${formatSize(one.bytes)}; the target is stated for 4 GiB` : undefined,
    };
    const eld = Math.max(...tr.flatMap((r) => [r.receiver!.eldP99Ms, r.sender!.eldP99Ms]));
    const eldT = { target: 'event-loop delay p99 ≤ 5 ms', transport: t, value: eld, limit: TARGET.eldP99Ms, met: eld <= TARGET.eldP99Ms };
    targets.push(speed, rssT, eldT);
    const tag = `${t}${isDefault ? ' (default transport)' : ''}`;
    const ceiling = streamRuns.find((r) => r.transport === t);
    console.log(
      `  ${isDefault ? mark(speed.met) : '·'} lane ÷ node:tls ≥ 0.45×, ${one.streams} stream(s), ${sizeNote} — ${tag}: ${f2(one.overTls)}×` +
        (isDefault ? '' : ' (the target applies to the default transport)') +
        (ceiling ? `; the ${t} stream alone, memory → memory: ${f2(ceiling.overTls)}×` : ''),
    );
    console.log(`  ${mark(rssT.met)} receiver peak RSS ≤ 64 MiB above idle — ${tag}, worst of ${tr.map((r) => r.streams).join('/')} stream(s): ${f1(rss)} MiB${rssT.note ? ` (${rssT.note})` : ''}`);
    console.log(`  ${mark(eldT.met)} event-loop delay p99 ≤ 5 ms — ${tag}, worst side and stream count: ${f1(eld)} ms`);
  }
  if (!transports.includes(DEFAULT_TRANSPORT)) console.log(`  · default transport (${DEFAULT_TRANSPORT}) not in this run: speed target not evaluated`);
  console.log('  · matrixai patched ≥ 3× unpatched: not measured by this bench (needs an unpatched install side by side)');

  const elapsed = (Date.now() - started) / 1000;
  const loadAfter = loadavg()[0]!;
  console.log(`\ntotal bench time ${elapsed.toFixed(0)} s; 1-min load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after`);
  // The bench itself raises the load (two busy processes plus hash threads); before it starts, the
  // load average says whether other work shared the CPUs.
  if (loadBefore > 1) console.log('note: the machine was busy before the bench started (load average > 1); figures may be skewed');

  if (opts.json) {
    const out = {
      date: new Date().toISOString(),
      environment: { node: process.version, cpus: availableParallelism(), cpu, totalMemGiB: totalmem() / GiB, platform: process.platform, loadAverage: { before: loadBefore, after: loadAfter } },
      config: { size, transports, streams: streamCounts, matrixaiFull: opts.matrixaiFull, warmupBytes: opts.warmup ? WARMUP_BYTES : 0, baselineReps: reps, defaultTransport: DEFAULT_TRANSPORT, nodeFlags: childNodeFlags(), quinnThreads: quinnThreads ?? null },
      sources: [...sources.values()].map((s) => ({ bytes: s.bytes, sha256: s.whole.sha256, parts: s.parts.map((p) => ({ bytes: p.bytes, sha256: p.sha256 })) })),
      baseline: [...baseline].map(([connections, b]) => ({ connections, medianMbps: b.mbps, runs: b.runs })),
      stream: streamRuns,
      lane: runs,
      ratios,
      targets,
      elapsedSeconds: elapsed,
    };
    await writeFile(opts.json, JSON.stringify(out, null, 2) + '\n');
    console.log(`figures written to ${opts.json}`);
  }
  return runs.every((r) => r.ok) ? 0 : 1;
}

/** The run's temporary directory, removed on exit and on SIGINT/SIGTERM. */
let workDir: string | undefined;
const onSignal = (sig: NodeJS.Signals) => {
  killChildren();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  process.stderr.write(`bench: ${sig}, stopped; child processes killed, temporary files removed\n`);
  process.exit(130);
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    killChildren();
    console.error(`bench failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  },
);
