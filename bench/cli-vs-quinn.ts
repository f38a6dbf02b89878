/**
 * The CLI lane against Rust quinn (a bench: figures, not pass/fail). `npm run bench:cli-vs-quinn`.
 *
 *   npm run bench:cli-vs-quinn                               # 1 GiB, 3 rounds
 *   npm run bench:cli-vs-quinn -- --size 512MiB --rounds 5 --dir /var/tmp
 *   npm run bench:cli-vs-quinn -- --drop-caches              # echo 1 > /proc/sys/vm/drop_caches between runs
 *   npm run bench:cli-vs-quinn -- --against /tmp/old         # also another checkout's bin (before/after)
 *   npm run bench:cli-vs-quinn -- --against . --quinn-threads 1   # this bin with OCTOPII_QUINN_THREADS=1 vs as it is
 *
 * One file of `--size` bytes (one 4 MiB crypto-random block repeated) is sent, per round, twice:
 *  - octopii: `bin/octopii.js send FILE --to ADDR --json` to `bin/octopii.js serve --dir INBOX`
 *    (both with src/nodeFlags.ts NODE_FLAGS, as the bin's shebang runs them; default transport).
 *    The receiver fdatasyncs the file, renames it and fsyncs the directory before it acknowledges
 *    (src/lane/sink.ts).
 *  - quinn: `lane-v1-peer send FILE --to ADDR` to `lane-v1-peer serve --dir INBOX --sync data`
 *    (test/interop/lane-v1-peer, Rust quinn 0.9 + rustls, built by test/interop/build-peer.sh):
 *    the same Shipping Lane v1 bytes, fdatasync before the status byte.
 * The order alternates by round (octopii first in even rounds). Before each run the receiver is
 * started (and has printed `listening`), dirty pages are written back (`sync`), and the source
 * file is dropped from the page cache: with `--drop-caches` the whole cache
 * (/proc/sys/vm/drop_caches, root only; this also evicts node_modules and the node binary, which
 * octopii then reads from disk and the small Rust binary barely does), otherwise the file alone
 * (`dd iflag=nocache count=0`, posix_fadvise POSIX_FADV_DONTNEED), so both senders read it
 * from disk. The time of a run is the wall time from spawning the sender to its exit (start-up,
 * connect, hashing, transfer, the receiver's fdatasync and the acknowledgement); octopii's own
 * `durationMs` (from its --json) is printed next to it, and the CPU seconds of both sides (the
 * sender's through /usr/bin/time, the receiver's from /proc/PID/stat when it has answered): the
 * two processes share this machine's cores, so CPU per byte is what limits both. Each received file is deleted after its
 * run. Target: octopii's median time ≤ 1/0.85 (1.18×) of quinn's.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSize } from '../src/size.js';
import { startJsonProc, type JsonProc } from './jsonProc.js';
import { childNodeFlags } from './util.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const size = parseSize(flag('--size') ?? '1GiB');
if (size === undefined) throw new Error(`--size: not a size: ${flag('--size')}`);
const rounds = Number(flag('--rounds') ?? 3);
const base = flag('--dir') ?? tmpdir();
const dropAll = args.includes('--drop-caches');
const against = flag('--against');
/** OCTOPII_QUINN_THREADS for this checkout's octopii runs (not for `--against`'s). */
const quinnThreads = flag('--quinn-threads');

const root = fileURLToPath(new URL('../', import.meta.url));
const bin = join(root, 'bin', 'octopii.js');
const peer = join(root, 'test', 'interop', 'lane-v1-peer', 'target', 'release', 'lane-v1-peer');
if (!existsSync(peer)) throw new Error(`no ${peer}: run test/interop/build-peer.sh first`);

const free = statfsSync(base).bavail * statfsSync(base).bsize;
if (free < 3 * size) throw new Error(`${base} has ${(free / 2 ** 30).toFixed(1)} GiB free; the bench needs 3 × --size (the file and one received copy, with room to spare)`);

type Proc = JsonProc;
const start = (command: string, argv: string[], env: NodeJS.ProcessEnv = process.env): Proc => startJsonProc(command, argv, { cwd: root, env, lineTimeoutMs: 60_000 });

/** Writes back dirty pages, then evicts `file` (or, with --drop-caches, the whole page cache). */
function dropCache(file: string): void {
  spawnSync('sync');
  if (dropAll) writeFileSync('/proc/sys/vm/drop_caches', '1');
  else {
    const r = spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
    if (r.status !== 0) throw new Error(`dd iflag=nocache failed: ${r.stderr}`);
  }
}

/** CPU seconds (user + system) `pid` has used so far, from /proc/PID/stat (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

type Who = 'octopii' | 'octopii-against' | 'quinn';

interface Run {
  who: Who;
  ms: number;
  /** CPU seconds of the sender (its whole life, /usr/bin/time) and of the receiver (start to acknowledgement). */
  senderCpu: number;
  receiverCpu: number;
  /** octopii's own durationMs (its --json), quinn: undefined. */
  durationMs?: number;
}

async function runOnce(who: Who, file: string, work: string, round: number): Promise<Run> {
  const inbox = join(work, `inbox-${who}-${round}`);
  const state = join(work, 'state');
  const node = [...childNodeFlags(), who === 'octopii-against' ? join(resolve(against!), 'bin', 'octopii.js') : bin];
  const env = who === 'octopii' && quinnThreads ? { ...process.env, OCTOPII_QUINN_THREADS: quinnThreads } : process.env;
  const receiver =
    who !== 'quinn'
      ? start(process.execPath, [...node, 'serve', '--listen', '127.0.0.1:0', '--dir', inbox, '--identity', join(state, 'recv.pem')], env)
      : start(peer, ['serve', '--listen', '127.0.0.1:0', '--dir', inbox, '--sync', 'data']);
  const address = String((await receiver.line('listening')).address);
  dropCache(file);
  const timeFile = join(work, 'sender-time.txt');
  const t0 = performance.now();
  const sender =
    who !== 'quinn'
      ? start('/usr/bin/time', ['-o', timeFile, '-f', '%U %S', process.execPath, ...node, 'send', file, '--to', address, '--json', '--identity', join(state, 'send.pem')], env)
      : start('/usr/bin/time', ['-o', timeFile, '-f', '%U %S', peer, 'send', file, '--to', address]);
  const code = await sender.exited;
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`${who} send exited ${code}: ${JSON.stringify(sender.lines)}\n${sender.stderr()}`);
  const received = await receiver.line('received');
  if (who === 'quinn' && received.status !== 0) throw new Error(`quinn receiver: ${JSON.stringify(received)}`);
  const receiverCpu = cpuSeconds(receiver.child.pid!);
  const [user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  receiver.child.kill('SIGINT');
  await Promise.race([receiver.exited, new Promise((r) => setTimeout(r, 10_000))]);
  rmSync(inbox, { recursive: true, force: true });
  const result = sender.lines.find((l) => typeof l === 'object' && l !== null && 'durationMs' in l) as { durationMs?: number } | undefined;
  return { who, ms, senderCpu: user! + sys!, receiverCpu, ...(result?.durationMs !== undefined ? { durationMs: result.durationMs } : {}) };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mbps = (ms: number) => size / 1e6 / (ms / 1000);

const work = mkdtempSync(join(base, 'octopii-cli-vs-quinn-'));
try {
  const file = join(work, 'payload.bin');
  const block = randomBytes(4 * 2 ** 20);
  const fh = await open(file, 'w');
  for (let off = 0; off < size; off += block.length) await fh.write(block, 0, Math.min(block.length, size - off));
  await fh.close();
  // Identities are created once, outside the timed runs.
  spawnSync(process.execPath, [bin, 'id', '--identity', join(work, 'state', 'recv.pem')]);
  spawnSync(process.execPath, [bin, 'id', '--identity', join(work, 'state', 'send.pem')]);

  console.log(
    `cli-vs-quinn: ${(size / 2 ** 20).toFixed(0)} MiB, ${rounds} rounds, in ${base},${quinnThreads ? ` octopii with OCTOPII_QUINN_THREADS=${quinnThreads},` : ''} cache: ${dropAll ? 'whole page cache dropped' : 'the file evicted (dd iflag=nocache)'} before each run, load average ${loadavg()[0]!.toFixed(2)}`,
  );
  const runs: Run[] = [];
  for (let round = 0; round < rounds; round++) {
    const all: Who[] = against ? ['octopii', 'quinn', 'octopii-against'] : ['octopii', 'quinn'];
    const order = round % 2 === 0 ? all : [...all].reverse();
    for (const who of order) {
      const r = await runOnce(who, file, work, round);
      runs.push(r);
      const own = r.durationMs !== undefined ? `  (its durationMs ${r.durationMs.toFixed(0)} ms = ${mbps(r.durationMs).toFixed(0)} MB/s)` : '';
      const cpu = `  CPU s: sender ${r.senderCpu.toFixed(2)}, receiver ${r.receiverCpu.toFixed(2)}`;
      console.log(`  round ${round} ${who.padEnd(15)} ${r.ms.toFixed(0).padStart(7)} ms  ${mbps(r.ms).toFixed(0).padStart(5)} MB/s${cpu}${own}`);
    }
  }
  const o = median(runs.filter((r) => r.who === 'octopii').map((r) => r.ms));
  const q = median(runs.filter((r) => r.who === 'quinn').map((r) => r.ms));
  const od = median(runs.filter((r) => r.who === 'octopii' && r.durationMs !== undefined).map((r) => r.durationMs!));
  console.log(`median octopii ${o.toFixed(0)} ms (${mbps(o).toFixed(0)} MB/s; durationMs ${od.toFixed(0)} ms, ${mbps(od).toFixed(0)} MB/s)`);
  console.log(`median quinn   ${q.toFixed(0)} ms (${mbps(q).toFixed(0)} MB/s)`);
  if (against) {
    const a = median(runs.filter((r) => r.who === 'octopii-against').map((r) => r.ms));
    console.log(`median against ${a.toFixed(0)} ms (${mbps(a).toFixed(0)} MB/s): time ratio against/quinn ${(a / q).toFixed(2)}, octopii/against ${(o / a).toFixed(2)}`);
  }
  console.log(`time ratio octopii/quinn ${(o / q).toFixed(2)} (speed ratio ${(q / o).toFixed(2)}; target time ≤ ${(1 / 0.85).toFixed(2)}); load average ${loadavg()[0]!.toFixed(2)}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
