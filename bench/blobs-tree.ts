/**
 * `octopii share DIR` → `octopii get` of a tree of many small files, the CLI as a user runs it (a
 * bench: figures, not pass/fail). `npm run bench:blobs-tree`.
 *
 *   npm run bench:blobs-tree                                  # this checkout's node_modules, 2 rounds
 *   npm run bench:blobs-tree -- --tree ~/src/linux --rounds 1
 *   npm run bench:blobs-tree -- --against /tmp/old            # also another checkout's bin (before/after)
 *
 * The tree (default: this checkout's node_modules, ~7,800 files) is first copied into the bench's
 * own directory (`cp -a`: it must not change while it is shared — vitest writes into
 * node_modules/.vite). Each checkout runs one `share` of the copy (`--listen 127.0.0.1:0 --json`,
 * its own store; hashing and copying into the store are not timed) that stays up for the whole
 * bench. Per round, in an order that alternates by round, each checkout's `get TICKET --dir OUT
 * --store FRESH --json` against its own share: wall time from spawn to exit, the get's
 * `durationMs` (fetch and export), max RSS and CPU (`/usr/bin/time`); with `--against`, also this
 * checkout's get against the other's share (`get-this←against`: an older provider, which may
 * refuse batches — the fallback) and the other's get against this share. After each get, `diff
 * -rq` of the tree and OUT: files that differ or exist only in OUT must be none; entries only in
 * the tree are symlinks (`.bin`) and empty directories, which a collection does not carry.
 * Ratio per round: the other checkout's wall / this one's. Every output and store is deleted
 * after its run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startJsonProc, type JsonProc } from './jsonProc.js';
import { childNodeFlags } from './util.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const root = fileURLToPath(new URL('../', import.meta.url));
const tree = realpathSync(flag('--tree') ?? join(root, 'node_modules'));
const rounds = Number(flag('--rounds') ?? 2);
const base = flag('--dir') ?? tmpdir();
const against = flag('--against');

const binOf = (checkout: string) => join(resolve(checkout), 'bin', 'octopii.js');
const checkouts: Array<{ name: string; bin: string }> = [{ name: 'this', bin: binOf(root) }, ...(against ? [{ name: 'against', bin: binOf(against) }] : [])];
const start = (command: string, argv: string[]): JsonProc => startJsonProc(command, argv, { cwd: root, lineTimeoutMs: 600_000 });
const node = (bin: string) => [...childNodeFlags(), bin];

interface Run {
  kind: string;
  round: number;
  ms: number;
  durationMs: number;
  maxRssMiB: number;
  cpuS: number;
  differ: number;
  onlyInTree: number;
}

/** `diff -rq` of the tree and `out`: files that differ or are only in `out` (must be 0), entries only in the tree. */
function compare(src: string, out: string): { differ: number; onlyInTree: number } {
  const lines = spawnSync('diff', ['-rq', src, out], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout.split('\n').filter(Boolean);
  const onlyInTree = lines.filter((l) => l.startsWith(`Only in ${src}`)).length;
  return { differ: lines.length - onlyInTree, onlyInTree };
}

async function getOnce(kind: string, bin: string, ticket: string, work: string, round: number, src: string): Promise<Run> {
  const dir = join(work, `get-${kind}-${round}`);
  const timeFile = join(work, 'time.txt');
  try {
    const t0 = performance.now();
    const p = start('/usr/bin/time', ['-o', timeFile, '-f', '%M %U %S', process.execPath, ...node(bin), 'get', ticket, '--dir', join(dir, 'out'), '--store', join(dir, 'store'), '--identity', join(work, 'state', 'get.pem'), '--json']);
    const code = await p.exited;
    const ms = performance.now() - t0;
    if (code !== 0) throw new Error(`${kind}: get exited ${code}: ${JSON.stringify(p.lines.slice(-2))}\n${p.stderr()}`);
    const [kb, user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    const done = p.lines.find((l) => (l as { event?: string })?.event === 'done') as { durationMs: number; dir: string } | undefined;
    if (!done) throw new Error(`${kind}: no done line: ${JSON.stringify(p.lines.slice(-2))}`);
    return { kind, round, ms, durationMs: done.durationMs, maxRssMiB: kb! / 1024, cpuS: user! + sys!, ...compare(src, join(dir, 'out', 'tree')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const range = (xs: number[], digits = 0) => (xs.length === 0 ? '-' : `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`);

const work = mkdtempSync(join(base, 'octopii-blobs-tree-'));
const sharers: Array<{ name: string; bin: string; ticket: string; proc: JsonProc }> = [];
try {
  const src = join(work, 'tree');
  const cp = spawnSync('cp', ['-a', tree, src]);
  if (cp.status !== 0) throw new Error(`cp -a ${tree}: ${cp.stderr}`);
  for (const id of ['get', ...checkouts.map((c) => `share-${c.name}`)]) spawnSync(process.execPath, [checkouts[0]!.bin, 'id', '--identity', join(work, 'state', `${id}.pem`)]);
  let files = 0;
  let bytes = 0;
  for (const c of checkouts) {
    const proc = start(process.execPath, [...node(c.bin), 'share', src, '--listen', '127.0.0.1:0', '--store', join(work, `store-${c.name}`), '--identity', join(work, 'state', `share-${c.name}.pem`), '--json']);
    const line = (await proc.line('sharing')) as { ticket: string; files: number; bytes: number };
    files = line.files;
    bytes = line.bytes;
    sharers.push({ ...c, ticket: line.ticket, proc });
  }
  console.log(`blobs-tree: ${tree} (${files} files, ${(bytes / 1e6).toFixed(1)} MB), ${rounds} rounds, in ${base}; checkouts: ${checkouts.map((c) => `${c.name}=${c.bin}`).join(', ')}; load average ${loadavg()[0]!.toFixed(2)}`);
  const runs: Run[] = [];
  const [self, other] = [sharers[0]!, sharers[1]];
  const plan: Array<{ kind: string; bin: string; ticket: string }> = [{ kind: 'get-this', bin: self.bin, ticket: self.ticket }];
  if (other) plan.push({ kind: 'get-against', bin: other.bin, ticket: other.ticket }, { kind: 'get-this←against', bin: self.bin, ticket: other.ticket }, { kind: 'get-against←this', bin: other.bin, ticket: self.ticket });
  for (let round = 0; round < rounds; round++) {
    for (const step of round % 2 === 0 ? plan : [...plan.slice(0, 2).reverse(), ...plan.slice(2)]) {
      const r = await getOnce(step.kind, step.bin, step.ticket, work, round, src);
      runs.push(r);
      console.log(
        `  round ${r.round} ${r.kind.padEnd(17)} ${r.ms.toFixed(0).padStart(7)} ms wall, durationMs ${r.durationMs}; max RSS ${r.maxRssMiB.toFixed(0)} MiB, CPU ${r.cpuS.toFixed(1)} s; ` +
          `differ ${r.differ} (target 0), only in the tree ${r.onlyInTree} (symlinks, empty dirs); load ${loadavg()[0]!.toFixed(1)}`,
      );
    }
  }
  console.log('summary (ranges over rounds):');
  for (const kind of plan.map((p) => p.kind)) {
    const rs = runs.filter((r) => r.kind === kind);
    console.log(`  ${kind.padEnd(17)} wall ${range(rs.map((r) => r.ms / 1000), 1)} s, max RSS ${range(rs.map((r) => r.maxRssMiB))} MiB, CPU ${range(rs.map((r) => r.cpuS), 1)} s`);
  }
  if (other) {
    const ratios = runs.filter((r) => r.kind === 'get-this').map((t) => runs.find((o) => o.kind === 'get-against' && o.round === t.round)!.ms / t.ms);
    console.log(`  wall against/this per round: ${ratios.map((x) => x.toFixed(2)).join(', ')}`);
  }
  console.log(`load average at the end ${loadavg()[0]!.toFixed(2)}`);
} finally {
  for (const s of sharers) s.proc.child.kill('SIGINT');
  await Promise.all(sharers.map((s) => Promise.race([s.proc.exited, new Promise((r) => setTimeout(r, 10_000))])));
  rmSync(work, { recursive: true, force: true });
}
