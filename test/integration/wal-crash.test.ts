/**
 * kill -9 during a stream of appends loses no acknowledged append: a real child process (tsx)
 * appends from 16 concurrent appenders and prints each acknowledged index; the parent SIGKILLs it
 * after a while, reopens the WAL and checks that every acknowledged entry and hard state is there.
 * Three rounds on the same directory, so later rounds recover what a kill left behind (torn
 * tails, rotations cut short) and go on from it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Wal } from '../../src/wal/index.js';
import { cleanupWalDirs, entryData, walTempDir } from '../helpers/walFixtures.js';

const CHILD = fileURLToPath(new URL('../helpers/walChild.ts', import.meta.url));

afterEach(cleanupWalDirs);

interface Round {
  acked: number[];
  commits: number[];
  killedAfterMs: number;
}

/** Runs the child until it has acknowledged `killAfter` lines (or 5 s), then SIGKILLs it. */
function runAndKill(dir: string, killAfter: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, String(64 * 1024), '16'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: number[] = [];
    const commits: number[] = [];
    let stderr = '';
    let started = 0;
    let killed = false;
    const kill = () => {
      if (killed) return;
      killed = true;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(kill, 20_000);
    child.stderr.on('data', (d) => (stderr += String(d)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [kind, n] = line.split(' ');
      if (kind === 'ready') started = performance.now();
      else if (kind === 'a') acked.push(Number(n));
      else if (kind === 'h') commits.push(Number(n));
      if (acked.length >= killAfter || (started && performance.now() - started > 5000)) kill();
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`child ended by itself (${code ?? signal}): ${stderr}`));
      resolve({ acked, commits, killedAfterMs: performance.now() - started });
    });
  });
}

describe('Wal under kill -9', () => {
  it('every acknowledged append and hard state survives SIGKILL, round after round', async () => {
    const dir = await walTempDir();
    let everAcked = 0;
    for (const killAfter of [1500, 900, 2500]) {
      const round = await runAndKill(dir, killAfter);
      expect(round.acked.length).toBeGreaterThan(100);
      const { wal, recovered } = await Wal.open(dir);
      const byIndex = new Map(recovered.entries.map((e) => [e.index, e]));
      const missing = round.acked.filter((i) => !byIndex.has(i) || Buffer.compare(Buffer.from(byIndex.get(i)!.data), Buffer.from(entryData(i))) !== 0);
      expect(missing, `acknowledged but lost after kill -9 (tornBytes ${recovered.tornBytes})`).toEqual([]);
      // the log is whole: 1 … lastIndex, with everything acknowledged in earlier rounds too
      expect(recovered.entries.map((e) => e.index)).toEqual(Array.from({ length: wal.lastIndex }, (_, k) => k + 1));
      expect(wal.lastIndex).toBeGreaterThanOrEqual(Math.max(everAcked, ...round.acked));
      expect(recovered.hardState.commit).toBeGreaterThanOrEqual(Math.max(0, ...round.commits));
      everAcked = Math.max(everAcked, ...round.acked);
      await wal.close();
    }
  });
});
