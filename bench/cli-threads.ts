/**
 * Where a CLI lane transfer's CPU goes, per thread (a bench: figures, not pass/fail).
 *
 *   npx tsx bench/cli-threads.ts                                  # 1 GiB, 3 runs of this checkout
 *   npx tsx bench/cli-threads.ts --against /tmp/old --runs 4      # interleaved with another checkout's bin
 *   npx tsx bench/cli-threads.ts --size 256MiB --env OCTOPII_HASH_THREADS=1
 *
 * Each run starts `bin/octopii.js serve` (src/nodeFlags.ts NODE_FLAGS, as the bin's shebang
 * runs it), evicts the source file from the page cache (`dd iflag=nocache count=0`), and runs
 * `bin/octopii.js send FILE --to ADDR --json` to it; every 50 ms until the receiver has printed
 * `received` it reads /proc/PID/task/TID/stat of both processes (utime + stime, 10 ms ticks; a
 * thread's last reading counts, so a thread that exits early is still counted). Threads are
 * grouped: `main` (the process's first thread: JavaScript, inline hashing, the binding's
 * completions), `tokio` (the quinn binding's runtime: packets, crypto, UDP), `worker` (a thread
 * named `node` with ≥ 0.3 s of CPU, over three quarters of it user time — a piscina hash worker),
 * `other` (V8's platform threads and libuv's pool: GC helpers, file reads/writes, fdatasync). `sys` is the kernel share of the total.
 * With `--against DIR` the runs alternate between this checkout and DIR (same file, same
 * order each time), and the medians of both are printed with their ratio. `--env K=V` sets an
 * environment variable for this checkout's processes only. The VM's load average is printed:
 * CPU seconds grow with contention, so compare only runs made side by side.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseSize } from '../src/size.js';
import { childNodeFlags } from './util.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1GiB' },
    runs: { type: 'string', default: '3' },
    against: { type: 'string' },
    env: { type: 'string', multiple: true, default: [] },
    dir: { type: 'string' },
  },
});
const size = parseSize(values.size!);
if (size === undefined) throw new Error(`--size: not a size: ${values.size}`);
const runs = Number(values.runs);
const here = fileURLToPath(new URL('../', import.meta.url));
const extraEnv = Object.fromEntries(values.env!.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

type Group = 'main' | 'tokio' | 'worker' | 'other';
interface Side {
  total: number;
  sys: number;
  groups: Record<Group, number>;
}
interface Run {
  label: string;
  wallMs: number;
  durationMs: number;
  load: number;
  send: Side;
  serve: Side;
}

/** tid → [comm, utime ticks, stime ticks], the last reading of each thread. */
type Threads = Map<string, [string, number, number]>;

function sample(pid: number, into: Threads): void {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return; // exited
  }
  for (const tid of tids) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      into.set(tid, [s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')), Number(f[11]), Number(f[12])]);
    } catch {
      // the thread ended between the two reads
    }
  }
}

function summarize(pid: number, threads: Threads): Side {
  const groups: Record<Group, number> = { main: 0, tokio: 0, worker: 0, other: 0 };
  let total = 0;
  let sys = 0;
  for (const [tid, [comm, utime, stime]] of threads) {
    const cpu = (utime + stime) / 100;
    // A hash worker hashes in user space; libuv's pool threads (file I/O, fdatasync) and V8's
    // platform threads are mostly system time or small.
    const hashing = comm === 'node' && cpu >= 0.3 && utime > 3 * stime;
    const group: Group = Number(tid) === pid ? 'main' : comm.startsWith('tokio') ? 'tokio' : hashing ? 'worker' : 'other';
    groups[group] += cpu;
    total += cpu;
    sys += stime / 100;
  }
  return { total, sys, groups };
}

async function runOnce(label: string, root: string, file: string, work: string, env: NodeJS.ProcessEnv): Promise<Run> {
  const bin = join(root, 'bin', 'octopii.js');
  const inbox = join(work, `inbox-${label}`);
  const serve = spawn(process.execPath, [...childNodeFlags(), bin, 'serve', '--listen', '127.0.0.1:0', '--dir', inbox, '--identity', join(work, 'recv.pem')], {
    env,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const lines = createInterface({ input: serve.stdout! });
  let received!: () => void;
  const gotIt = new Promise<void>((r) => (received = r));
  const address = await new Promise<string>((res, rej) => {
    const t = setTimeout(() => rej(new Error('serve did not print `listening` within 60 s')), 60_000);
    lines.on('line', (l) => {
      try {
        const j = JSON.parse(l) as { event?: string; address?: string };
        if (j.event === 'listening') {
          clearTimeout(t);
          res(j.address!);
        }
        if (j.event === 'received') received();
      } catch {
        // not JSON
      }
    });
  });
  spawnSync('sync');
  spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
  const load = loadavg()[0]!;
  const t0 = performance.now();
  const send = spawn(process.execPath, [...childNodeFlags(), bin, 'send', file, '--to', address, '--json', '--identity', join(work, 'send.pem')], {
    env,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  send.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const sendThreads: Threads = new Map();
  const serveThreads: Threads = new Map();
  const timer = setInterval(() => {
    sample(send.pid!, sendThreads);
    sample(serve.pid!, serveThreads);
  }, 50);
  const code = await new Promise<number | null>((r) => send.once('exit', r));
  const wallMs = performance.now() - t0;
  await Promise.race([gotIt, new Promise((r) => setTimeout(r, 10_000))]);
  sample(serve.pid!, serveThreads);
  clearInterval(timer);
  serve.kill('SIGINT');
  await new Promise((r) => serve.once('exit', r));
  rmSync(inbox, { recursive: true, force: true });
  const result = JSON.parse(out || '{}') as { success?: boolean; durationMs?: number };
  if (code !== 0 || result.success !== true) throw new Error(`${label}: send exited ${code}: ${out}`);
  return { label, wallMs, durationMs: result.durationMs ?? NaN, load, send: summarize(send.pid!, sendThreads), serve: summarize(serve.pid!, serveThreads) };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const side = (s: Side) =>
  `${s.total.toFixed(2)} s (main ${s.groups.main.toFixed(2)}, tokio ${s.groups.tokio.toFixed(2)}, worker ${s.groups.worker.toFixed(2)}, other ${s.groups.other.toFixed(2)}; sys ${s.sys.toFixed(2)})`;

const work = mkdtempSync(join(values.dir ?? tmpdir(), 'octopii-cli-threads-'));
try {
  const file = join(work, 'payload.bin');
  const block = randomBytes(4 << 20);
  const fh = await open(file, 'w');
  for (let off = 0; off < size; off += block.length) await fh.write(block, 0, Math.min(block.length, size - off));
  await fh.close();
  spawnSync(process.execPath, [join(here, 'bin', 'octopii.js'), 'id', '--identity', join(work, 'recv.pem')]);
  spawnSync(process.execPath, [join(here, 'bin', 'octopii.js'), 'id', '--identity', join(work, 'send.pem')]);
  const variants: [string, string, NodeJS.ProcessEnv][] = [['this', here, { ...process.env, ...extraEnv }]];
  if (values.against) variants.push(['against', resolve(values.against), process.env]);
  console.log(`cli-threads: ${(size / 2 ** 20).toFixed(0)} MiB, ${runs} runs${values.against ? ` interleaved with ${values.against}` : ''}${values.env!.length ? `, this checkout with ${values.env!.join(' ')}` : ''}`);
  const all: Run[] = [];
  for (let i = 0; i < runs; i++) {
    for (const [label, root, env] of i % 2 === 0 ? variants : [...variants].reverse()) {
      const r = await runOnce(label, root, file, work, env);
      all.push(r);
      console.log(`  ${label.padEnd(7)} load ${r.load.toFixed(1).padStart(4)}  wall ${r.wallMs.toFixed(0)} ms  send ${side(r.send)}  serve ${side(r.serve)}`);
    }
  }
  const med = (label: string) => {
    const rs = all.filter((r) => r.label === label);
    const g = (pick: (r: Run) => number) => median(rs.map(pick));
    return { wall: g((r) => r.wallMs), send: g((r) => r.send.total), serve: g((r) => r.serve.total), sendMain: g((r) => r.send.groups.main), serveMain: g((r) => r.serve.groups.main) };
  };
  const m = med('this');
  console.log(`median this:    wall ${m.wall.toFixed(0)} ms, CPU s send ${m.send.toFixed(2)} (main ${m.sendMain.toFixed(2)}), serve ${m.serve.toFixed(2)} (main ${m.serveMain.toFixed(2)})`);
  if (values.against) {
    const a = med('against');
    console.log(`median against: wall ${a.wall.toFixed(0)} ms, CPU s send ${a.send.toFixed(2)} (main ${a.sendMain.toFixed(2)}), serve ${a.serve.toFixed(2)} (main ${a.serveMain.toFixed(2)})`);
    console.log(`this/against: wall ${(m.wall / a.wall).toFixed(2)}, CPU send ${(m.send / a.send).toFixed(2)}, serve ${(m.serve / a.serve).toFixed(2)}, both ${((m.send + m.serve) / (a.send + a.serve)).toFixed(2)}`);
  }
  console.log(`load average now ${loadavg()[0]!.toFixed(2)}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
