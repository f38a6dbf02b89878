/**
 * Small helpers shared by the benches: forked child processes driven by IPC messages (killed
 * on exit, signals and timeouts, by their own pid only), size parsing and formatting.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { resolve as resolvePath } from 'node:path';
import { NODE_FLAGS } from '../src/nodeFlags.js';

/**
 * Node flags of every forked bench child: octopii's recommended flags (src/nodeFlags.ts) unless
 * `BENCH_BARE_NODE=1` (to measure without them), plus `BENCH_NODE_ARGS` (space-separated, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` or `--trace-gc`; `BENCH_CHILD_STDOUT=1` shows the
 * children's stdout, where --trace-gc prints).
 */
export function childNodeFlags(): string[] {
  const extra = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  return [...(process.env.BENCH_BARE_NODE === '1' ? [] : NODE_FLAGS), ...extra];
}

const live = new Set<ChildProcess>();

/** Kills every child this process forked that is still running (SIGKILL, by pid). */
export function killChildren(): void {
  for (const p of live) {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
  live.clear();
}

/** A forked `node --import tsx SCRIPT ARGS…` speaking typed messages over IPC. */
export class Child<In extends { type: string }, Out extends { type: string }> {
  private readonly inbox: Out[] = [];
  private waiter: (() => void) | undefined;
  private stderr = '';
  private exited: string | undefined;

  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    live.add(proc);
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (s: string) => {
      this.stderr = (this.stderr + s).slice(-4000);
    });
    proc.on('message', (m: Out) => {
      this.inbox.push(m);
      this.waiter?.();
    });
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      this.exited = signal ? `killed by ${signal}` : `exited with code ${code}`;
      this.waiter?.();
    });
  }

  static fork<In extends { type: string }, Out extends { type: string }>(name: string, script: string, args: string[]): Child<In, Out> {
    const proc = fork(script, args, { execArgv: ['--import', 'tsx', ...childNodeFlags()], stdio: ['ignore', process.env.BENCH_CHILD_STDOUT === '1' ? 'inherit' : 'ignore', 'pipe', 'ipc'] });
    return new Child<In, Out>(name, proc);
  }

  send(m: In): void {
    if (this.proc.connected) this.proc.send(m);
  }

  /**
   * The next message of `type` (earlier messages of other types are dropped). Rejects when the
   * child reports `{type:'error'}`, exits, or nothing arrives within `timeoutMs`.
   */
  async next<T extends Out['type']>(type: T, timeoutMs: number): Promise<Extract<Out, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.inbox.length) {
        const m = this.inbox.shift()!;
        if (m.type === type) return m as Extract<Out, { type: T }>;
        if (m.type === 'error') throw new Error(`${this.name}: ${(m as unknown as { message: string }).message}${this.tail()}`);
      }
      if (this.exited) throw new Error(`${this.name} ${this.exited} while waiting for "${type}"${this.tail()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no "${type}" within ${Math.round(timeoutMs / 1000)} s${this.tail()}`);
      await new Promise<void>((ok) => {
        const t = setTimeout(ok, left);
        this.waiter = () => {
          clearTimeout(t);
          this.waiter = undefined;
          ok();
        };
      });
    }
  }

  /** Asks the child to stop (`{type:'stop'}`), waits up to `graceMs`, then kills it. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((ok) => this.proc.once('exit', () => ok()));
    this.send({ type: 'stop' } as In);
    const t = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(t);
  }

  private tail(): string {
    const s = this.stderr.trim();
    return s ? `\n--- ${this.name} stderr (tail) ---\n${s}` : '';
  }
}

const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, kb: 1e3, kib: 2 ** 10,
  m: 1e6, mb: 1e6, mib: 2 ** 20,
  g: 1e9, gb: 1e9, gib: 2 ** 30,
};

/** Bytes of a size like `256MiB`, `1GiB`, `4GiB`, `500MB`, `1048576`. Throws on anything else. */
export function parseSize(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(s);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`not a size: "${s}" (e.g. 256MiB, 1GiB, 4GiB)`);
  const n = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`size out of range: "${s}"`);
  return n;
}

/** `268435456` → `256 MiB`, `1073741824` → `1 GiB`. */
export function formatSize(bytes: number): string {
  if (bytes >= 2 ** 30 && bytes % 2 ** 30 === 0) return `${bytes / 2 ** 30} GiB`;
  if (bytes >= 2 ** 20) return `${+(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${bytes} B`;
}

/** Decimal megabytes per second (10^6 bytes/s). */
export const mbps = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000);

/** In a forked bench child: reports `e` to the parent as `{type:'error', message}`, then exits 1. */
export function failChild(e: unknown): void {
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  try {
    process.send?.({ type: 'error', message });
  } finally {
    setTimeout(() => process.exit(1), 100);
  }
}

/**
 * Entry point of a bench script that is both a command and a forked child. When `self` (the
 * script's own path) is the main module: forked with an IPC channel and `argv[2]` naming one of
 * `roles`, runs that role (failures reported by {@link failChild}); otherwise runs `standalone`,
 * killing every forked child on SIGINT/SIGTERM (exit 130) and on failure (exit status 1).
 */
export function benchMain(self: string, roles: Record<string, () => Promise<void>>, standalone: () => Promise<void>): void {
  if (!process.argv[1] || resolvePath(process.argv[1]) !== self) return;
  const role = roles[process.argv[2] ?? ''];
  if (process.send && role) {
    role().catch(failChild);
    return;
  }
  const cleanup = () => {
    killChildren();
    process.exit(130);
  };
  process.once('SIGINT', cleanup);
  process.once('SIGTERM', cleanup);
  standalone().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    killChildren();
    process.exitCode = 1;
  });
}
