/**
 * A child process of a CLI bench (bench/cli-vs-quinn.ts, bench/blobs-cli.ts) whose JSON stdout
 * lines can be awaited by their `event`; every child still running when the bench exits is
 * killed (SIGKILL, by its own pid).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface JsonProc {
  child: ChildProcess;
  /** The first JSON stdout line with `event === name`; rejects if the process exits first or after the line timeout. */
  line(event: string): Promise<Record<string, unknown>>;
  /** Every stdout line, parsed when it is JSON. */
  lines: unknown[];
  exited: Promise<number>;
  /** The last 4,000 characters of stderr. */
  stderr: () => string;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

/** Starts `command argv` in `cwd` (stdin closed); `lineTimeoutMs`: how long `line()` waits (default 60 s). */
export function startJsonProc(command: string, argv: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; lineTimeoutMs?: number }): JsonProc {
  const child = spawn(command, argv, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const lines: unknown[] = [];
  const waiters: (() => void)[] = [];
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      lines.push(JSON.parse(l));
    } catch {
      lines.push(l);
    }
    for (const w of waiters.splice(0)) w();
  });
  let code: number | undefined;
  const exited = new Promise<number>((res) =>
    child.once('close', (c) => {
      live.delete(child);
      code = c ?? -1;
      res(code);
      for (const w of waiters.splice(0)) w();
    }),
  );
  const line = async (event: string) => {
    const deadline = Date.now() + (options.lineTimeoutMs ?? 60_000);
    for (;;) {
      const hit = lines.find((l) => typeof l === 'object' && l !== null && (l as { event?: unknown }).event === event);
      if (hit) return hit as Record<string, unknown>;
      if (code !== undefined || Date.now() > deadline) throw new Error(`no ${event} line from ${command} ${argv.join(' ')}: ${JSON.stringify(lines.slice(-3))}\n${err}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 1000);
        waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  };
  return { child, line, lines, exited, stderr: () => err };
}
