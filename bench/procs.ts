/**
 * /proc readings (Linux) and the `octopii` CLI processes of the memory benches (bench/memory.ts,
 * bench/memoryFlood.ts): RSS samples of a pid, its threads by name, its largest mappings, and
 * `bin/octopii.js` children whose JSON stdout lines can be awaited. Children are killed by their
 * own pid only ({@link killAll}).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { childNodeFlags } from './util.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/octopii.js');
const KiB = 1024;
/** How long one awaited step (a `listening` line, a transfer) may take, ms. */
export const STEP_MS = 120_000;
// ------------------------------------------------------------------------------------------
// /proc readings (Linux)

export interface ProcSample {
  /** ms since the bench started. */
  t: number;
  rssKiB: number;
  anonKiB: number;
  fileKiB: number;
  /** process.memoryUsage() of an in-process receiver, bytes. */
  heap?: MemoryFigures;
}

export interface MemoryFigures {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export const t0 = performance.now();

/** VmRSS, RssAnon, RssFile of `pid` in KiB; undefined once it is gone. */
export function procStatus(pid: number): { rssKiB: number; anonKiB: number; fileKiB: number; hwmKiB: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKiB: field('VmRSS'), anonKiB: field('RssAnon'), fileKiB: field('RssFile'), hwmKiB: field('VmHWM') };
}

/** Thread names of `pid` with their counts, e.g. `{ node: 11, 'tokio-rt-worker': 2 }`. */
export function threads(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out[name] = (out[name] ?? 0) + 1;
    }
  } catch {
    // gone
  }
  return out;
}

/** Resident KiB per mapping name (anonymous mappings as `[anon]`), largest first, from smaps. */
export function mappings(pid: number, top = 8): { name: string; rssKiB: number }[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return [];
  }
  const sums = new Map<string, number>();
  let name = '[anon]';
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      name = head[1]!.trim() || '[anon]';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) sums.set(name, (sums.get(name) ?? 0) + Number(rss[1]));
  }
  return [...sums].map(([n, rssKiB]) => ({ name: n.replace(root, '.'), rssKiB })).sort((a, b) => b.rssKiB - a.rssKiB).slice(0, top);
}

// ------------------------------------------------------------------------------------------
// Processes

const live = new Set<ChildProcess>();
export function killAll(): void {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  live.clear();
}

export interface Proc {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: () => string;
  /** The first JSON stdout line matching `pred` (past or future); rejects on exit or after STEP_MS. */
  waitFor(pred: (l: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>>;
  exited: Promise<number>;
}

/** Starts `bin/octopii.js ARGS` with octopii's node flags (bench/util.ts `childNodeFlags`); `env` is added to this process's environment. */
export function start(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [...childNodeFlags(), bin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  live.add(child);
  const lines: Record<string, unknown>[] = [];
  let err = '';
  let wake: () => void = () => {};
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      lines.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      lines.push({ line: l });
    }
    wake();
  });
  let closed = false;
  const exited = new Promise<number>((res) =>
    child.once('close', (code) => {
      closed = true;
      live.delete(child);
      res(code ?? -1);
      wake();
    }),
  );
  const waitFor = async (pred: (l: Record<string, unknown>) => boolean, what: string) => {
    const deadline = Date.now() + STEP_MS;
    for (;;) {
      const hit = lines.find(pred);
      if (hit) return hit;
      if (closed || Date.now() > deadline) throw new Error(`no ${what} from octopii ${args[0]}: ${JSON.stringify(lines)}\n${err}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 1000);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  };
  return { child, lines, stderr: () => err, waitFor, exited };
}

/** Samples `pid` every `ms` (plus `extra()`), until `stop()`. */
export function sampler(pid: number, ms: number, extra?: () => MemoryFigures | undefined) {
  const samples: ProcSample[] = [];
  const take = () => {
    const s = procStatus(pid);
    // (A process caught between fork and exec has no VmRSS yet.)
    if (s && Number.isFinite(s.rssKiB)) samples.push({ t: performance.now() - t0, rssKiB: s.rssKiB, anonKiB: s.anonKiB, fileKiB: s.fileKiB, heap: extra?.() });
  };
  take();
  const timer = setInterval(take, ms);
  return {
    samples,
    stop(): ProcSample[] {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
export const mib = (kib: number) => +(kib / KiB).toFixed(1);
