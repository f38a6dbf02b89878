/**
 * Start-up time of the `octopii` command (a bench: figures, not pass/fail). `npm run bench:startup`.
 *
 *   npm run bench:startup                          # 15 rounds
 *   npm run bench:startup -- --runs 30
 *   npm run bench:startup -- --against /tmp/old    # also time another checkout's bin (before/after)
 *
 * Each round runs, in turn, `node -e 0` (the baseline: Node's own start-up, measured in the same
 * run because the machine's load moves every figure), `bin/octopii.js --help`,
 * `bin/octopii.js --version` and `bin/octopii.js id` (with a scratch OCTOPII_DATA_DIR, so the
 * identity exists after the first round), and the same for `--against DIR`'s bin/octopii.js. The
 * bin runs as a user's shell runs it, through its shebang (`env -S node` with octopii's node
 * flags, src/nodeFlags.ts): V8 heap flags on the command line cost start-up of their own (Node's
 * built-in code cache is checked against V8's flags, so Node compiles its internal modules
 * afresh: ~95 M of ~690 M instructions of `--help`, measured with callgrind).
 * Interleaving the commands makes a burst of load hit all of them alike. Wall time is measured
 * around spawnSync (process creation to exit); the table gives the median and the minimum in ms,
 * the median over the baseline (the ratio) and minus it (what octopii itself costs).
 *
 * The commands run the build in dist/ when it is fresh (bin/octopii.js): run `npm run build`
 * first, or the figures are tsx's. Targets: `id` ≤ 300 ms and `--help` ≤ 200 ms wall.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const runs = Number(flag('--runs') ?? 15);
const against = flag('--against');

const root = fileURLToPath(new URL('../', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'octopii-startup-'));
const env: NodeJS.ProcessEnv = { ...process.env, OCTOPII_DATA_DIR: dataDir };
for (const k of Object.keys(env)) if (k.startsWith('OCTOPII_') && k !== 'OCTOPII_DATA_DIR') delete env[k];

interface Case {
  name: string;
  /** The program (node, or a bin run through its shebang) and its arguments. */
  file: string;
  argv: string[];
}
const cases: Case[] = [{ name: 'node -e 0', file: process.execPath, argv: ['-e', '0'] }];
for (const [label, dir] of [['', root], ...(against ? [[' (against)', resolve(against)]] : [])] as [string, string][]) {
  const bin = join(dir, 'bin', 'octopii.js');
  for (const a of [['--help'], ['--version'], ['id']]) cases.push({ name: `octopii ${a.join(' ')}${label}`, file: bin, argv: a });
}

/** Wall time of one run, ms. Throws when the command fails (a broken build must not look fast). */
function timeOnce(c: Case): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(c.file, c.argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${c.name} exited with ${r.status}: ${r.stderr}`);
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

try {
  const load0 = loadavg()[0]!;
  for (const c of cases) timeOnce(c); // warm the page cache (and create the identity)
  const times = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let i = 0; i < runs; i++) for (const c of cases) times.get(c.name)!.push(timeOnce(c));
  const base = median(times.get('node -e 0')!);
  console.log(`startup: ${runs} rounds, node ${process.version}, load average ${load0.toFixed(2)} → ${loadavg()[0]!.toFixed(2)} (1 min)`);
  console.log(`${'command'.padEnd(32)} ${'median ms'.padStart(10)} ${'min ms'.padStart(8)} ${'× node -e 0'.padStart(12)} ${'− node -e 0'.padStart(12)}`);
  for (const c of cases) {
    const t = times.get(c.name)!;
    const m = median(t);
    console.log(
      `${c.name.padEnd(32)} ${m.toFixed(0).padStart(10)} ${Math.min(...t).toFixed(0).padStart(8)} ${(m / base).toFixed(2).padStart(12)} ${(m - base).toFixed(0).padStart(12)}`,
    );
  }
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
