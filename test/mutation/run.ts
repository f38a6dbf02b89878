/**
 * Mutation testing of the state charts: "machines govern" means no state and no transition of a
 * machine can be deleted without some test failing. For each machine of ./machines.ts, each
 * variant (see ./mutate.ts: one state, or one transition candidate, removed) runs the machine's
 * test files; a variant is *killed* when a test fails (or the run exceeds its time budget: a
 * hang is a detection), and *survives* when they all pass — the chart element is decoration as
 * far as the tests can tell.
 *
 * Mechanics. The runner never rewrites files. It runs vitest in a child process per variant with
 * OCTOPII_MUTANT set to the variant as JSON (e.g.
 * `{"machine":"laneSend","kind":"state","path":"sending.streaming.paused"}`); vitest.config.ts
 * then adds ./setup.ts to `setupFiles`, which `vi.mock`s `xstate` so that
 * `setup(...).createMachine(config)` builds the machine from the mutated config when `config.id`
 * matches. Why this way: with ESM and vitest 4, a setup file's `vi.mock` of a dependency covers
 * every module the test file loads (machines/, src/, the test itself), module isolation gives
 * each file a fresh machine, and the real xstate builds the variant — nothing is patched on
 * disk, so parallel variants (`--jobs`) cannot see each other. Each mutated build appends to a
 * mark file; a run that leaves no mark is reported as an error (the hook did not apply), never
 * as killed. Before its variants, each machine runs once with the identity mutant (`kind:
 * "none"`): the tests must pass through the hook unmutated, and its duration sets the budget.
 * Variants are built in the runner first with the real createMachine: one that would not build
 * is an error of this tool, not a kill.
 *
 * Usage: npm run mutate -- [--machine NAME]… [--list] [--jobs N] [--budget SECONDS]
 *                           [--report-only] [--json FILE]
 *   --list          print the variants (with collateral changes) without running anything
 *   --jobs N        variants run at once (default 1; each vitest child runs up to 2 files)
 *   --budget S      seconds per variant (default: max(60, 4 × the machine's baseline run))
 *   --report-only   exit 0 even if variants survived
 *   --json FILE     also write every result as JSON
 * Exit status: 0 all killed, 1 some survived, 2 the tool could not judge (baseline failed, hook
 * not applied, a variant that does not build).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createMachine } from 'xstate';
import { MACHINES, type MachineUnderTest } from './machines.js';
import { applyMutant, checkInitials, enumerate, MUTANT_ENV, MUTANT_MARK_ENV, type Mutant, type Variant } from './mutate.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VITEST = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');

interface Options {
  machines: string[];
  list: boolean;
  jobs: number;
  budgetS: number | null;
  reportOnly: boolean;
  json: string | null;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { machines: [], list: false, jobs: 1, budgetS: null, reportOnly: false, json: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--machine') o.machines.push(value());
    else if (a === '--list') o.list = true;
    else if (a === '--jobs') o.jobs = Math.max(1, Number.parseInt(value(), 10) || 1);
    else if (a === '--budget') o.budgetS = Number(value());
    else if (a === '--report-only') o.reportOnly = true;
    else if (a === '--json') o.json = value();
    else if (a === '--help' || a === '-h') {
      console.log('npm run mutate -- [--machine NAME]… [--list] [--jobs N] [--budget SECONDS] [--report-only] [--json FILE]');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  const known = MACHINES.map((m) => m.id);
  for (const m of o.machines) if (!known.includes(m)) throw new Error(`unknown machine ${m} (known: ${known.join(', ')})`);
  return o;
}

type Outcome = 'killed' | 'timeout' | 'survived' | 'error';

interface Result {
  machine: string;
  name: string;
  mutant: Mutant;
  notes: string[];
  outcome: Outcome;
  /** The first failing test (killed), or why the tool could not judge (error). */
  detail: string;
  ms: number;
}

interface Prepared {
  variant: Variant;
  notes: string[];
  /** Set when the variant does not build: a tool error. */
  invalid?: string;
}

/** Enumerates a machine's variants and builds each with the real xstate to check it. */
async function prepare(m: MachineUnderTest): Promise<Prepared[]> {
  const mod = (await import(pathToFileURL(join(ROOT, m.module)).href)) as Record<string, unknown>;
  const machine = mod[m.exportName] as { config: Record<string, unknown>; implementations: unknown } | undefined;
  if (!machine?.config) throw new Error(`${m.module} has no machine export ${m.exportName}`);
  if (machine.config.id !== m.id) throw new Error(`${m.module} ${m.exportName} has id "${String(machine.config.id)}", not "${m.id}"`);
  return enumerate(m.id, machine.config).map((variant) => {
    try {
      const { config, notes } = applyMutant(machine.config, variant.mutant);
      const problems = checkInitials(config);
      if (problems.length) return { variant, notes, invalid: problems.join('; ') };
      createMachine(config as never, machine.implementations as never);
      return { variant, notes };
    } catch (e) {
      return { variant, notes: [], invalid: (e as Error).message.split('\n').join(' ') };
    }
  });
}

const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

/** Runs the machine's tests against one mutant in a vitest child; resolves with the outcome. */
function runVariant(m: MachineUnderTest, tests: string[], mutant: Mutant, budgetMs: number, markFile: string): Promise<Omit<Result, 'machine' | 'name' | 'mutant' | 'notes'>> {
  rmSync(markFile, { force: true });
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [VITEST, 'run', ...tests, '--bail=1'], {
      cwd: ROOT,
      env: { ...process.env, [MUTANT_ENV]: JSON.stringify(mutant), [MUTANT_MARK_ENV]: markFile, NO_COLOR: '1', FORCE_COLOR: '0', CI: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: a timeout ends vitest and its workers together
    });
    let output = '';
    const keep = (d: Buffer) => {
      output += d.toString();
      if (output.length > 8_000_000) output = output.slice(-4_000_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, budgetMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const ms = Date.now() - started;
      const applied = existsSync(markFile) && readFileSync(markFile, 'utf8').includes(`${m.id} `);
      if (timedOut) return resolve({ outcome: applied ? 'timeout' : 'error', detail: applied ? `over the ${Math.round(budgetMs / 1000)} s budget` : 'timed out before the hook applied', ms });
      if (!applied) return resolve({ outcome: 'error', detail: `hook not applied (vitest exit ${code}): ${lastLines(output)}`, ms });
      if (code === 0) {
        // Survival counts only if every file ran and passed (not, say, a run that found no tests).
        const files = /Test Files\s+(\d+) passed \((\d+)\)/.exec(stripAnsi(output));
        if (!files || Number(files[1]) !== tests.length || Number(files[2]) !== tests.length) {
          return resolve({ outcome: 'error', detail: `vitest passed without running all ${tests.length} files: ${lastLines(output)}`, ms });
        }
        return resolve({ outcome: 'survived', detail: '', ms });
      }
      resolve({ outcome: 'killed', detail: firstFailure(output) ?? `vitest exit ${code}: ${lastLines(output)}`, ms });
    });
  });
}

function firstFailure(output: string): string | undefined {
  for (const raw of stripAnsi(output).split('\n')) {
    const line = raw.trim();
    if (line.startsWith('FAIL ')) return line.slice(5).trim();
  }
  for (const raw of stripAnsi(output).split('\n')) {
    const line = raw.trim();
    if (line.startsWith('×')) return line.slice(1).trim();
  }
  for (const raw of stripAnsi(output).split('\n')) {
    const line = raw.trim();
    if (/^(Unhandled|Error:|\w*Error:)/.test(line)) return line.slice(0, 200);
  }
  return undefined;
}

const lastLines = (output: string) => stripAnsi(output).trim().split('\n').slice(-3).join(' | ');

const fmtMs = (ms: number) => (ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`);

/** Runs `work` over `items` with at most `jobs` at a time, in order of start. */
async function pool<T, R>(items: T[], jobs: number, work: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(jobs, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!, i);
    }
  });
  await Promise.all(lanes);
  return out;
}

function printTable(machine: string, results: Result[], ms: number): void {
  const count = (o: Outcome) => results.filter((r) => r.outcome === o).length;
  const states = results.filter((r) => r.mutant.kind === 'state').length;
  console.log(`\n== ${machine}: ${results.length} variants (${states} states, ${results.length - states} transitions) in ${fmtMs(ms)}`);
  const width = Math.min(80, Math.max(...results.map((r) => r.name.length)));
  console.log(`   ${'variant'.padEnd(width)}  ${'result'.padEnd(8)}  ${'time'.padStart(8)}  killed by / note`);
  for (const r of results) {
    const note = [r.detail, ...r.notes].filter(Boolean).join('; ');
    console.log(`   ${r.name.padEnd(width)}  ${r.outcome.padEnd(8)}  ${fmtMs(r.ms).padStart(8)}  ${note}`);
  }
  console.log(
    `   killed ${count('killed') + count('timeout')} (${count('timeout')} by timeout), survived ${count('survived')}, errors ${count('error')}`,
  );
  for (const r of results.filter((x) => x.outcome === 'survived')) console.log(`   SURVIVED  ${r.name}`);
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  const selected = MACHINES.filter((m) => o.machines.length === 0 || o.machines.includes(m.id));
  const work = mkdtempSync(join(tmpdir(), 'octopii-mutate-'));
  const all: Result[] = [];
  const skipped: string[] = [];
  let toolErrors = 0;
  const t0 = Date.now();
  try {
    for (const m of selected) {
      if (!existsSync(join(ROOT, m.module))) {
        skipped.push(`${m.id}: ${m.module} does not exist yet`);
        console.log(`\n== ${m.id}: skipped, ${m.module} does not exist yet`);
        continue;
      }
      const tests = m.tests.filter((t) => existsSync(join(ROOT, t)));
      for (const t of m.tests.filter((x) => !tests.includes(x))) console.log(`note: ${m.id}: test file ${t} does not exist, not run`);
      if (tests.length === 0) {
        skipped.push(`${m.id}: none of its test files exist`);
        console.log(`\n== ${m.id}: skipped, none of its test files exist`);
        continue;
      }
      const prepared = await prepare(m);

      if (o.list) {
        console.log(`\n== ${m.id} (${m.module} ${m.exportName}): ${prepared.length} variants; tests: ${tests.join(' ')}`);
        for (const p of prepared) {
          const extra = [...p.notes, ...(p.invalid ? [`DOES NOT BUILD: ${p.invalid}`] : [])];
          console.log(`   ${p.variant.name}${extra.length ? `   [${extra.join('; ')}]` : ''}`);
          console.log(`      ${JSON.stringify(p.variant.mutant)}`);
        }
        continue;
      }

      const mStart = Date.now();
      const baseline = await runVariant(m, tests, { machine: m.id, kind: 'none' }, 600_000, join(work, `${m.id}-baseline.mark`));
      if (baseline.outcome !== 'survived') {
        toolErrors++;
        console.log(`\n== ${m.id}: skipped, the unmutated baseline does not pass through the hook: ${baseline.outcome} ${baseline.detail}`);
        skipped.push(`${m.id}: baseline ${baseline.outcome}`);
        continue;
      }
      const budgetMs = (o.budgetS ?? Math.max(60, Math.ceil((4 * baseline.ms) / 1000))) * 1000;
      console.log(`\n== ${m.id}: baseline passes in ${fmtMs(baseline.ms)}; ${prepared.length} variants, budget ${fmtMs(budgetMs)} each, ${o.jobs} at a time`);

      const results = await pool(prepared, o.jobs, async (p, i): Promise<Result> => {
        const base = { machine: m.id, name: p.variant.name, mutant: p.variant.mutant, notes: p.notes };
        const r = p.invalid
          ? { outcome: 'error' as const, detail: `does not build: ${p.invalid}`, ms: 0 }
          : await runVariant(m, tests, p.variant.mutant, budgetMs, join(work, `${m.id}-${i}.mark`));
        console.log(`   [${m.id} ${i + 1}/${prepared.length}] ${r.outcome.padEnd(8)} ${p.variant.name} (${fmtMs(r.ms)})`);
        return { ...base, ...r };
      });
      toolErrors += results.filter((r) => r.outcome === 'error').length;
      all.push(...results);
      printTable(m.id, results, Date.now() - mStart);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  if (o.list) return 0;

  const survived = all.filter((r) => r.outcome === 'survived');
  const killed = all.filter((r) => r.outcome === 'killed' || r.outcome === 'timeout').length;
  console.log(`\n== total: ${all.length} variants, killed ${killed}, survived ${survived.length}, errors ${toolErrors}, in ${fmtMs(Date.now() - t0)}`);
  for (const s of skipped) console.log(`   skipped ${s}`);
  if (o.json) writeFileSync(o.json, JSON.stringify({ results: all, skipped }, null, 2));
  if (toolErrors) return 2;
  return survived.length && !o.reportOnly ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(2);
  },
);
