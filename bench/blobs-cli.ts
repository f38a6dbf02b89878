/**
 * `octopii share` → `octopii get` against `octopii serve` ← `octopii send` of the same file, the
 * CLI as a user runs it (a bench: figures, not pass/fail). `npm run bench:blobs-cli`.
 *
 *   npm run bench:blobs-cli                                   # 1 GiB, 2 rounds
 *   npm run bench:blobs-cli -- --size 4GiB --rounds 1 --dir /var/tmp
 *   npm run bench:blobs-cli -- --against /tmp/old            # also another checkout's bin (before/after)
 *
 * Files: one of `--size` bytes (crypto-random: brotli gives up on it, as on most large media)
 * and one of 1 kB. Each checkout (this one, and `--against`'s) runs one `share` of both files
 * (`--listen 127.0.0.1:0 --json`, its own store; the hashing and copying into the store are
 * not timed) that stays up for the whole bench. Per round, in an order that alternates by round:
 *  - lane: `serve --dir INBOX` (this checkout) ← `send FILE --to ADDR --json`; its `durationMs`
 *    (connect to the receiver's acknowledgement: it fdatasyncs and renames first) and the wall
 *    time from spawning the sender to its exit (start-up included).
 *  - get (each checkout): `get TICKET --dir OUT --store FRESH --json`, wall time from spawn to
 *    exit; the fetch alone (`providers[0].ms` of its done line: every block verified and
 *    committed) and its `durationMs` (fetch and export to OUT); max RSS of the get process
 *    (`/usr/bin/time -f %M`). Then a get of the 1 kB ticket: its max RSS is the baseline
 *    (idle: a node up, a fetch done) that "memory above idle" is measured from.
 * Ratios per round: fetch/lane = lane durationMs / the get's fetch ms (both without start-up);
 * get/lane = lane durationMs / the get's durationMs (its export included). Every received file,
 * store and inbox is deleted after its run. All processes run with src/nodeFlags.ts NODE_FLAGS
 * (the bin's shebang). Targets: fetch/lane ≥ 0.9; the large get's max RSS ≤ 64 MiB above the
 * 1 kB get's.
 */
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
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
const rounds = Number(flag('--rounds') ?? 2);
const base = flag('--dir') ?? tmpdir();
const against = flag('--against');

const root = fileURLToPath(new URL('../', import.meta.url));
const binOf = (checkout: string) => join(resolve(checkout), 'bin', 'octopii.js');
const checkouts: Array<{ name: string; bin: string }> = [{ name: 'this', bin: binOf(root) }, ...(against ? [{ name: 'against', bin: binOf(against) }] : [])];

const free = statfsSync(base).bavail * statfsSync(base).bsize;
const need = (checkouts.length + 3) * size;
if (free < need) throw new Error(`${base} has ${(free / 2 ** 30).toFixed(1)} GiB free; the bench needs ${(need / 2 ** 30).toFixed(1)} (the file, a store per checkout, a fetched store and its export)`);

type Proc = JsonProc;
const start = (command: string, argv: string[]): Proc => startJsonProc(command, argv, { cwd: root, lineTimeoutMs: 600_000 });

const node = (bin: string) => [...childNodeFlags(), bin];

interface Run {
  kind: string;
  round: number;
  ms: number;
  /** get: the fetch alone (providers[0].ms), and fetch + export (durationMs); lane: the sender's durationMs. */
  fetchMs?: number;
  durationMs?: number;
  /** Max RSS of the process, MiB (/usr/bin/time %M). */
  maxRssMiB?: number;
  cpuS?: number;
}

async function timed(argv: string[], work: string): Promise<{ ms: number; p: Proc; maxRssMiB: number; cpuS: number }> {
  const timeFile = join(work, 'time.txt');
  const t0 = performance.now();
  const p = start('/usr/bin/time', ['-o', timeFile, '-f', '%M %U %S', process.execPath, ...argv]);
  const code = await p.exited;
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`${argv.slice(0, 4).join(' ')} … exited ${code}: ${JSON.stringify(p.lines.slice(-2))}\n${p.stderr()}`);
  const [kb, user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  return { ms, p, maxRssMiB: kb! / 1024, cpuS: user! + sys! };
}

async function laneOnce(file: string, work: string, round: number): Promise<Run> {
  const inbox = join(work, `inbox-${round}`);
  const bin = checkouts[0]!.bin;
  const receiver = start(process.execPath, [...node(bin), 'serve', '--listen', '127.0.0.1:0', '--dir', inbox, '--identity', join(work, 'state', 'recv.pem')]);
  try {
    const address = String((await receiver.line('listening')).address);
    const r = await timed([...node(bin), 'send', file, '--to', address, '--json', '--identity', join(work, 'state', 'send.pem')], work);
    await receiver.line('received');
    const result = r.p.lines.find((l) => typeof l === 'object' && l !== null && 'durationMs' in l) as { durationMs: number } | undefined;
    if (!result) throw new Error(`send printed no durationMs: ${JSON.stringify(r.p.lines.slice(-2))}`);
    return { kind: 'lane', round, ms: r.ms, durationMs: result.durationMs, maxRssMiB: r.maxRssMiB, cpuS: r.cpuS };
  } finally {
    receiver.child.kill('SIGINT');
    await Promise.race([receiver.exited, new Promise((r) => setTimeout(r, 10_000))]);
    rmSync(inbox, { recursive: true, force: true });
  }
}

async function getOnce(kind: string, bin: string, ticket: string, work: string, round: number): Promise<Run> {
  const dir = join(work, `get-${round}`);
  try {
    const r = await timed([...node(bin), 'get', ticket, '--dir', join(dir, 'out'), '--store', join(dir, 'store'), '--identity', join(work, 'state', 'get.pem'), '--json'], work);
    const done = r.p.lines.find((l) => (l as { event?: string })?.event === 'done') as { durationMs: number; providers: Array<{ ms: number }> } | undefined;
    if (!done) throw new Error(`${kind}: no done line: ${JSON.stringify(r.p.lines.slice(-2))}`);
    return { kind, round, ms: r.ms, fetchMs: done.providers[0]!.ms, durationMs: done.durationMs, maxRssMiB: r.maxRssMiB, cpuS: r.cpuS };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const mbps = (ms: number) => size / 1e6 / (ms / 1000);
const range = (xs: number[], digits = 0) => (xs.length === 0 ? '-' : `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`);

const work = mkdtempSync(join(base, 'octopii-blobs-cli-'));
try {
  const file = join(work, 'payload.bin');
  const small = join(work, 'small.bin');
  const block = Buffer.alloc(8 << 20);
  const fh = await open(file, 'w');
  for (let off = 0; off < size; off += block.length) {
    randomFillSync(block);
    await fh.write(block, 0, Math.min(block.length, size - off));
  }
  await fh.close();
  writeFileSync(small, randomFillSync(Buffer.alloc(1000)));
  for (const id of ['recv', 'send', 'get', 'share']) spawnSync(process.execPath, [checkouts[0]!.bin, 'id', '--identity', join(work, 'state', `${id}.pem`)]);

  // One sharer per checkout (the large file and the small one), up for the whole bench.
  const sharers: Array<{ name: string; bin: string; ticket: string; smallTicket: string; procs: Proc[] }> = [];
  for (const c of checkouts) {
    const procs: Proc[] = [];
    const tickets: string[] = [];
    for (const [i, f] of [file, small].entries()) {
      const p = start(process.execPath, [...node(c.bin), 'share', f, '--listen', '127.0.0.1:0', '--store', join(work, `store-${c.name}`), '--identity', join(work, 'state', `share-${c.name}-${i}.pem`), '--json']);
      procs.push(p);
      tickets.push(String((await p.line('sharing')).ticket));
    }
    sharers.push({ ...c, ticket: tickets[0]!, smallTicket: tickets[1]!, procs });
  }

  console.log(`blobs-cli: ${(size / 2 ** 20).toFixed(0)} MiB random, ${rounds} rounds, in ${base}; checkouts: ${checkouts.map((c) => `${c.name}=${c.bin}`).join(', ')}; load average ${loadavg()[0]!.toFixed(2)}`);
  const runs: Run[] = [];
  const show = (r: Run) => {
    const isSmall = r.kind.startsWith('get-1kB');
    const parts = [`  round ${r.round} ${r.kind.padEnd(16)} ${r.ms.toFixed(0).padStart(7)} ms wall${isSmall ? '' : ` ${mbps(r.ms).toFixed(1).padStart(6)} MB/s`}`];
    if (r.kind === 'lane') parts.push(`durationMs ${r.durationMs} = ${mbps(r.durationMs!).toFixed(1)} MB/s`);
    else if (!isSmall) parts.push(`fetch ${mbps(r.fetchMs!).toFixed(1)} MB/s (${r.fetchMs!.toFixed(0)} ms), fetch+export ${mbps(r.durationMs!).toFixed(1)} MB/s (${r.durationMs} ms)`);
    parts.push(`max RSS ${r.maxRssMiB!.toFixed(0)} MiB, CPU ${r.cpuS!.toFixed(1)} s, load ${loadavg()[0]!.toFixed(1)}`);
    console.log(parts.join('; '));
  };
  for (let round = 0; round < rounds; round++) {
    const order: Array<() => Promise<Run>> = [() => laneOnce(file, work, round), ...sharers.map((s) => () => getOnce(`get-${s.name}`, s.bin, s.ticket, work, round))];
    for (const task of round % 2 === 0 ? order : [...order].reverse()) {
      const r = await task();
      runs.push(r);
      show(r);
    }
    for (const s of sharers) {
      const r = await getOnce(`get-1kB-${s.name}`, s.bin, s.smallTicket, work, round);
      runs.push(r);
      show(r);
    }
  }

  console.log('summary (ranges over rounds):');
  const lane = runs.filter((r) => r.kind === 'lane');
  console.log(`  lane send→serve  ${range(lane.map((r) => mbps(r.durationMs!)), 1)} MB/s (durationMs), wall ${range(lane.map((r) => mbps(r.ms)), 1)} MB/s`);
  for (const s of sharers) {
    const gets = runs.filter((r) => r.kind === `get-${s.name}`);
    const smalls = runs.filter((r) => r.kind === `get-1kB-${s.name}`);
    const laneMs = (g: Run) => lane.find((l) => l.round === g.round)!.durationMs!;
    const ratios = gets.map((g) => laneMs(g) / g.fetchMs!);
    const withExport = gets.map((g) => laneMs(g) / g.durationMs!);
    const above = gets.map((g) => g.maxRssMiB! - Math.min(...smalls.map((x) => x.maxRssMiB!)));
    console.log(
      `  get-${s.name.padEnd(8)} fetch ${range(gets.map((r) => mbps(r.fetchMs!)), 1)} MB/s, fetch+export ${range(gets.map((r) => mbps(r.durationMs!)), 1)} MB/s, wall ${range(gets.map((r) => mbps(r.ms)), 1)} MB/s; ` +
        `fetch/lane ${range(ratios, 2)} (target ≥ 0.90), with export ${range(withExport, 2)}; ` +
        `max RSS ${range(gets.map((r) => r.maxRssMiB!))} MiB, 1 kB get ${range(smalls.map((r) => r.maxRssMiB!))} MiB, above it ${range(above)} MiB (target ≤ 64)`,
    );
  }
  console.log(`load average at the end ${loadavg()[0]!.toFixed(2)}`);
  for (const s of sharers) for (const p of s.procs) p.child.kill('SIGINT');
  await Promise.all(sharers.flatMap((s) => s.procs.map((p) => Promise.race([p.exited, new Promise((r) => setTimeout(r, 10_000))]))));
} finally {
  rmSync(work, { recursive: true, force: true });
}
