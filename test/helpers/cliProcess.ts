/**
 * Runs the `octopii` command (bin/octopii.js) as a child process for the CLI tests: one-shot
 * commands collected to completion, and `serve` processes read line by line. Every child started
 * here is remembered; {@link killAll} SIGKILLs the ones still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../src/nodeFlags.js';

export const OCTOPII_BIN = fileURLToPath(new URL('../../bin/octopii.js', import.meta.url));

const children = new Set<ChildProcess>();

/** Environment for children: no OCTOPII_* settings leak in from the caller. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OCTOPII_')));
  return { ...env, ...extra };
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `octopii ...args` to completion; SIGKILLs it after `timeoutMs` (then code is null). */
export function runCli(args: string[], { timeoutMs = 60_000, env }: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...NODE_FLAGS, OCTOPII_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(env) });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A running `octopii …` command that prints JSON lines (`serve`, `share --json`, `get --json`), its stdout parsed line by line. */
export class CliProcess {
  readonly child: ChildProcess;
  private readonly lines: Record<string, unknown>[] = [];
  private waiters: ((l: Record<string, unknown>) => void)[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env?: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [...NODE_FLAGS, OCTOPII_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(env) });
    children.add(this.child);
    this.child.stderr!.on('data', (d) => (this.stderr += String(d)));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      const w = this.waiters.shift();
      if (w) w(parsed);
      else this.lines.push(parsed);
    });
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        children.delete(this.child);
        resolve({ code, signal });
      });
    });
  }

  /** The next JSON line on stdout; rejects if the process exits first or after `timeoutMs`. */
  nextLine(timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const queued = this.lines.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`no line from the command within ${timeoutMs} ms; stderr: ${this.stderr}`)), timeoutMs);
      const w = (l: Record<string, unknown>) => {
        clearTimeout(timer);
        resolve(l);
      };
      const fail = (e: Error) => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(e);
      };
      this.waiters.push(w);
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        fail(new Error(`the command exited (${code ?? signal}) before the next line; stderr: ${this.stderr}`));
      });
    });
  }

  /**
   * Reads lines until one satisfies `match`; resolves with it and the lines read before it
   * (`skipped`), so a test can wait for its own transfer and still check what came first.
   * Rejects like {@link nextLine}.
   */
  async lineWhere(
    match: (l: Record<string, unknown>) => boolean,
    timeoutMs = 30_000,
  ): Promise<{ line: Record<string, unknown>; skipped: Record<string, unknown>[] }> {
    const skipped: Record<string, unknown>[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = await this.nextLine(Math.max(1, deadline - Date.now()));
      if (match(line)) return { line, skipped };
      skipped.push(line);
    }
  }

  /** Sends `signal` and resolves with how the process ended (SIGKILL after `timeoutMs`). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A running `octopii serve`, its stdout as parsed JSON lines. */
export class ServeProcess extends CliProcess {
  constructor(args: string[], env?: NodeJS.ProcessEnv) {
    super(['serve', ...args], env);
  }
}

/** SIGKILLs every child started here that is still running, and waits for them to go. */
export async function killAll(): Promise<void> {
  const running = [...children];
  await Promise.all(
    running.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('close', () => resolve());
          c.kill('SIGKILL');
        }),
    ),
  );
  children.clear();
}
