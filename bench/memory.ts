/**
 * Memory of a receiving node (a bench: figures, not pass/fail). `npm run bench:memory`.
 *
 *   npm run bench:memory                               # 2 GiB, the default transport (quinn)
 *   npm run bench:memory -- --size 256MiB --transport matrixai
 *   npm run bench:memory -- --in-process --json mem.json
 *   npm run bench:memory -- --in-process --quinn-window 4MiB   # what smaller receive windows buy
 *   npm run bench:memory -- --size 256MiB --flood none          # no flood rows
 *   npm run bench:memory -- --flood matrixai --flood-streams 2000
 *
 * What it does:
 *  1. writes a file of `--size` bytes (one 4 MiB crypto-random block repeated: the lane neither
 *     compresses nor de-duplicates, so the content does not change the figures);
 *  2. starts `bin/octopii.js serve` with octopii's node flags (src/nodeFlags.ts, through
 *     bench/util.ts `childNodeFlags`, so `BENCH_BARE_NODE=1` / `BENCH_NODE_ARGS` apply), waits
 *     for its `listening` line, reads its RSS (/proc/PID/status VmRSS, RssAnon, RssFile) 2 s
 *     later (*start-up*), lets it settle until `--settle-ms` after `listening` and samples its
 *     RSS every `--sample-ms` for `--idle-ms`: *idle* is the median sample. The default settle
 *     (15 s) is past V8's memory reducer: ~8 s after the last full collection (the idle
 *     collector's last one comes ~4.5 s after start, src/runtime/idleCollector.ts) V8 runs a
 *     memory-reducing mark-compact that shrinks the committed heap (`--trace-gc`: 16.5 → 13.3 MB,
 *     RSS −4.3 MiB on quinn). An idle server spends its life after it; the start-up figure shows
 *     the state before;
 *  3. runs `bin/octopii.js send FILE --to ADDR --json` (a second process, the real CLI), samples
 *     the receiver (and the sender) every `--sample-ms` until the sender exits and the receiver
 *     printed `received`: *peak* is the highest sample, *growth* = peak − idle;
 *  4. samples `--idle-ms` more after the transfer (does the memory go back?);
 *  5. then one flood row per transport of `--flood` (default `quinn,matrixai`): a fresh
 *     `octopii serve` receives `--flood-streams` (1,000) stalled lane streams from one peer, and
 *     its RSS before, during and after them is printed (bench/memoryFlood.ts; target: after ≤
 *     before + 32 MiB).
 *
 * Breakdown, cheap and from outside: RssAnon (heaps, stacks, buffers) vs RssFile (the node
 * binary's and the addons' code pages, shared with every node process but counted in RSS), the
 * threads by name (/proc/PID/task/\*\/comm: `node` = main, V8 platform, libuv pool, workers;
 * `tokio-rt-worker` = the quinn binding's runtime), and the largest mappings of
 * /proc/PID/smaps. With `--in-process` the receiver is instead a forked bench child that starts
 * the same node as `octopii serve` (OctopiiNode with a receive directory) and reports
 * `process.memoryUsage()` (V8 heap used/total, external, arrayBuffers) with each sample; that
 * child runs through tsx (its loader thread and transpiled sources add RSS), so use its RSS for
 * the breakdown, the CLI run for the figures. `--quinn-window SIZE` (with `--in-process`, quinn
 * only) gives that receiver a QuinnTransport whose per-stream and per-connection receive windows
 * are both SIZE instead of the defaults (2 / 4 MiB), to measure what they cost; the CLI receiver
 * (and sender) take `OCTOPII_QUINN_RECEIVE_WINDOW` / `OCTOPII_HASH_THREADS` from the environment.
 *
 * `bin/octopii.js` runs dist/ when it is fresher than src/ (`npm run build`), else the sources
 * through tsx, which costs ~35 MiB of idle RSS: the bench prints which one ran. Exit status 1
 * only if the transfer failed.
 */
import { randomFillSync } from 'node:crypto';
import { createWriteStream, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STEP_MS, killAll, mappings, median, mib, procStatus, sampler, sleep, start, threads, type MemoryFigures, type ProcSample } from './procs.js';
import { FLOOD_DEFAULTS, floodRows, printFloodRows, type FloodRow } from './memoryFlood.js';
import { Child, benchMain, childNodeFlags, formatSize, parseSize } from './util.js';

const self = fileURLToPath(import.meta.url);
const root = join(dirname(self), '..');
const KiB = 1024;
const MiB = 2 ** 20;

// ------------------------------------------------------------------------------------------
// In-process receiver (a forked bench child: `--in-process`)

type RecvIn = { type: 'stop' };
type RecvOut =
  | { type: 'listening'; address: string; pid: number }
  | { type: 'memory'; figures: MemoryFigures }
  | { type: 'received'; ok: boolean; bytes: number }
  | { type: 'error'; message: string };

async function receiverRole(): Promise<void> {
  const [dir, state, transport, window] = process.argv.slice(3);
  const { loadConfig } = await import('../src/config.js');
  const { loadOrCreateIdentity } = await import('../src/identity.js');
  const { OctopiiNode } = await import('../src/node.js');
  const cfg = loadConfig({ listen: '127.0.0.1:0', dataDir: state!, receiveDir: dir!, ...(transport ? { transport: transport as 'quinn' | 'matrixai' } : {}) });
  const identity = await loadOrCreateIdentity(join(state!, 'identity.pem'));
  let runtime = {};
  if (window) {
    const { QuinnTransport } = await import('../src/transport/quinn.js');
    const bytes = Number(window);
    runtime = { transport: await QuinnTransport.create({ identity, quinn: { maxStreamData: bytes, maxConnectionData: bytes } }) };
  }
  const node = await OctopiiNode.start({ ...cfg, identity, runtime });
  node.onReceived((r) => process.send!({ type: 'received', ok: r.ok, bytes: r.bytes } satisfies RecvOut));
  const report = () => {
    const m = process.memoryUsage();
    process.send!({ type: 'memory', figures: { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers } } satisfies RecvOut);
  };
  const timer = setInterval(report, 100);
  process.send!({ type: 'listening', address: node.address, pid: process.pid } satisfies RecvOut);
  await new Promise<void>((r) => process.on('message', (m: RecvIn) => m.type === 'stop' && r()));
  clearInterval(timer);
  await node.stop();
  process.exit(0);
}

// ------------------------------------------------------------------------------------------
// The bench

interface Options {
  size: number;
  transport: string | undefined;
  settleMs: number;
  idleMs: number;
  sampleMs: number;
  json: string | undefined;
  inProcess: boolean;
  quinnWindow: number | undefined;
  /** Transports of the flood rows (bench/memoryFlood.ts); empty: none. */
  flood: string[];
  floodStreams: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { size: 2 * 2 ** 30, transport: undefined, settleMs: 15_000, idleMs: 3000, sampleMs: 50, json: undefined, inProcess: false, quinnWindow: undefined, flood: FLOOD_DEFAULTS.transports, floodStreams: FLOOD_DEFAULTS.streams };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === '--size') o.size = parseSize(v());
    else if (a === '--transport') o.transport = v();
    else if (a === '--settle-ms') o.settleMs = Number(v());
    else if (a === '--idle-ms') o.idleMs = Number(v());
    else if (a === '--sample-ms') o.sampleMs = Number(v());
    else if (a === '--json') o.json = v();
    else if (a === '--in-process') o.inProcess = true;
    else if (a === '--quinn-window') o.quinnWindow = parseSize(v());
    else if (a === '--flood') o.flood = v().split(',').filter((t) => t && t !== 'none');
    else if (a === '--flood-streams') o.floodStreams = Number(v());
    else throw new Error(`unknown option ${a} (see the top of bench/memory.ts)`);
  }
  if (o.quinnWindow !== undefined && (!o.inProcess || (o.transport ?? 'quinn') !== 'quinn')) throw new Error('--quinn-window needs --in-process and the quinn transport');
  return o;
}

/** Whether bin/octopii.js will run dist/ (the same test it makes). */
function runsBuild(): boolean {
  const newest = (dir: string): number => {
    let n = 0;
    for (const f of readdirSync(dir, { recursive: true })) n = Math.max(n, statSync(join(dir, String(f))).mtimeMs);
    return n;
  };
  try {
    const built = statSync(join(root, 'dist/src/cli.js')).mtimeMs;
    return process.env.OCTOPII_FROM_SOURCE !== '1' && newest(join(root, 'src')) <= built && newest(join(root, 'machines')) <= built;
  } catch {
    return false;
  }
}

async function writeSource(path: string, size: number): Promise<void> {
  const block = randomFillSync(Buffer.alloc(4 * MiB));
  const out = createWriteStream(path);
  for (let left = size; left > 0; left -= block.length) {
    const part = left >= block.length ? block : block.subarray(0, left);
    if (!out.write(part)) await new Promise<void>((r) => out.once('drain', r));
  }
  await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())));
}

async function standalone(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const work = await mkdtemp(join(tmpdir(), 'octopii-bench-memory-'));
  try {
    const file = join(work, 'source.bin');
    await writeSource(file, o.size);
    const inbox = join(work, 'in');
    const transportArgs = o.transport ? ['--transport', o.transport] : [];

    // Receiver: the CLI, or the in-process child.
    let pid: number;
    let address: string;
    let received: () => Promise<boolean>;
    let stopReceiver: () => Promise<void>;
    let heapNow: (() => MemoryFigures | undefined) | undefined;
    let transportName = o.transport ?? 'default';
    if (o.inProcess) {
      const child = Child.fork<RecvIn, RecvOut>('receiver', self, ['receiver', inbox, join(work, 'recv-state'), o.transport ?? '', String(o.quinnWindow ?? '')]);
      let latest: MemoryFigures | undefined;
      child.proc.on('message', (m: RecvOut) => {
        if (m.type === 'memory') latest = m.figures;
      });
      const l = await child.next('listening', STEP_MS);
      pid = l.pid;
      address = l.address;
      heapNow = () => latest;
      received = async () => (await child.next('received', STEP_MS)).ok;
      stopReceiver = () => child.stop();
    } else {
      const serve = start(['serve', '--listen', '127.0.0.1:0', '--dir', inbox, '--data-dir', join(work, 'recv-state'), '--identity', join(work, 'recv-state', 'identity.pem'), ...transportArgs]);
      const l = await serve.waitFor((x) => x.event === 'listening', 'listening line');
      pid = serve.child.pid!;
      address = String(l.address);
      transportName = String(l.transport);
      received = async () => (await serve.waitFor((x) => x.event === 'received' || x.event === 'failed', 'received line')).event === 'received';
      stopReceiver = async () => {
        serve.child.kill('SIGINT');
        await Promise.race([serve.exited, sleep(10_000)]);
      };
    }

    const startupAt = performance.now();
    await sleep(Math.min(2000, o.settleMs));
    const startup = procStatus(pid);
    await sleep(Math.max(0, o.settleMs - (performance.now() - startupAt)));
    const idleSampler = sampler(pid, o.sampleMs, heapNow);
    await sleep(o.idleMs);
    const idle = idleSampler.stop();
    const idleThreads = threads(pid);
    const idleMaps = mappings(pid);

    const during = sampler(pid, o.sampleMs, heapNow);
    const started = performance.now();
    const send = start(['send', file, '--to', address, '--json', '--data-dir', join(work, 'send-state'), '--identity', join(work, 'send-state', 'identity.pem'), ...transportArgs]);
    const sendSampler = sampler(send.child.pid!, o.sampleMs);
    const [sendCode, ok] = await Promise.all([send.exited, received()]);
    const wallMs = performance.now() - started;
    const transfer = during.stop();
    const sender = sendSampler.stop();
    const peakThreads = threads(pid);
    const peakMaps = mappings(pid);
    const after = sampler(pid, o.sampleMs, heapNow);
    await sleep(o.idleMs);
    const afterSamples = after.stop();
    const hwm = procStatus(pid)?.hwmKiB ?? NaN;
    await stopReceiver();

    const idleRss = median(idle.map((s) => s.rssKiB));
    const peak = transfer.reduce((a, b) => (b.rssKiB > a.rssKiB ? b : a));
    const figures = {
      size: o.size,
      transport: transportName,
      receiver: o.inProcess ? `in-process (tsx)${o.quinnWindow ? `, quinn windows ${formatSize(o.quinnWindow)}` : ''}` : `octopii serve (${runsBuild() ? 'dist' : 'sources through tsx'})`,
      nodeFlags: childNodeFlags(),
      ok: ok && sendCode === 0,
      wallMs: Math.round(wallMs),
      startupMiB: mib(startup?.rssKiB ?? NaN),
      idle: { rssMiB: mib(idleRss), anonMiB: mib(median(idle.map((s) => s.anonKiB))), fileMiB: mib(median(idle.map((s) => s.fileKiB))), threads: idleThreads, mappings: idleMaps, heap: idle.at(-1)?.heap },
      peak: { rssMiB: mib(peak.rssKiB), anonMiB: mib(peak.anonKiB), fileMiB: mib(peak.fileKiB), atMs: Math.round(peak.t - (transfer[0]?.t ?? 0)), threads: peakThreads, mappings: peakMaps, heap: peak.heap },
      growthMiB: mib(peak.rssKiB - idleRss),
      afterMiB: mib(median(afterSamples.map((s) => s.rssKiB))),
      hwmMiB: mib(hwm),
      senderPeakMiB: mib(Math.max(...sender.map((s) => s.rssKiB))),
      samples: { idle: idle.length, transfer: transfer.length, everyMs: o.sampleMs },
    };
    print(figures);
    const flood: FloodRow[] = [];
    if (o.flood.length > 0) {
      console.log('');
      await floodRows({ transports: o.flood, streams: o.floodStreams, settleMs: FLOOD_DEFAULTS.settleMs, idleMs: o.idleMs, sampleMs: o.sampleMs }, work, (row) => {
        flood.push(row);
        printFloodRows([row]);
      });
    }
    if (o.json) writeFileSync(o.json, `${JSON.stringify({ ...figures, flood, trace: transfer.map((s) => [Math.round(s.t), s.rssKiB, s.anonKiB]) }, null, 2)}\n`);
    if (!figures.ok) {
      process.exitCode = 1;
      console.error(`transfer failed: sender exit ${sendCode}\n${send.stderr()}`);
    }
  } finally {
    killAll();
    await rm(work, { recursive: true, force: true });
  }
}

function print(f: {
  size: number; transport: string; receiver: string; nodeFlags: string[]; ok: boolean; wallMs: number;
  idle: { rssMiB: number; anonMiB: number; fileMiB: number; threads: Record<string, number>; mappings: { name: string; rssKiB: number }[]; heap?: MemoryFigures };
  peak: { rssMiB: number; anonMiB: number; fileMiB: number; atMs: number; threads: Record<string, number>; mappings: { name: string; rssKiB: number }[]; heap?: MemoryFigures };
  startupMiB: number; growthMiB: number; afterMiB: number; hwmMiB: number; senderPeakMiB: number;
}): void {
  const heap = (h?: MemoryFigures) =>
    h ? `  V8 heap ${mib(h.heapUsed / KiB)}/${mib(h.heapTotal / KiB)} MiB used/total, external ${mib(h.external / KiB)} MiB (arrayBuffers ${mib(h.arrayBuffers / KiB)})` : '';
  const maps = (m: { name: string; rssKiB: number }[]) => m.map((x) => `${x.name} ${mib(x.rssKiB)}`).join(', ');
  const thr = (t: Record<string, number>) => Object.entries(t).map(([n, c]) => `${c}× ${n}`).join(', ');
  console.log(`receiver: ${f.receiver}, transport ${f.transport}, node flags: ${f.nodeFlags.join(' ') || '(none)'}`);
  console.log(`file ${formatSize(f.size)} in ${(f.wallMs / 1000).toFixed(1)} s (${(f.size / 1e6 / (f.wallMs / 1000)).toFixed(0)} MB/s), ${f.ok ? 'verified' : 'FAILED'}`);
  console.log('');
  console.log(`start   RSS ${f.startupMiB} MiB 2 s after listening`);
  console.log(`idle    RSS ${f.idle.rssMiB} MiB (anon ${f.idle.anonMiB}, file ${f.idle.fileMiB})${heap(f.idle.heap)}`);
  console.log(`        threads: ${thr(f.idle.threads)}`);
  console.log(`        mappings (MiB): ${maps(f.idle.mappings)}`);
  console.log(`peak    RSS ${f.peak.rssMiB} MiB (anon ${f.peak.anonMiB}, file ${f.peak.fileMiB}) at ${(f.peak.atMs / 1000).toFixed(1)} s${heap(f.peak.heap)}`);
  console.log(`        threads: ${thr(f.peak.threads)}`);
  console.log(`        mappings at the end (MiB): ${maps(f.peak.mappings)}`);
  console.log(`growth  ${f.growthMiB} MiB while receiving; ${f.afterMiB} MiB RSS after; VmHWM ${f.hwmMiB} MiB; sender peak RSS ${f.senderPeakMiB} MiB`);
}

benchMain(self, { receiver: receiverRole }, standalone);
