/**
 * Seeded simulation of whole nodes (TigerBeetle's VOPR shape): 3–5 real OctopiiNodes on the
 * in-memory network under one simulated clock; a seeded PRNG sends transfers between them and
 * injects faults — partitions and heals, crashes and restarts, clock jumps — and after every
 * step the invariants are checked:
 *
 *  1. a verified blob is never altered or deleted: every blob a node reported as received stays
 *     in its receive directory with exactly that content, across crashes and restarts;
 *  2. a failed transfer leaves no partial file: once every transfer has ended, the receive
 *     directory of every node that never crashed holds only verified blobs;
 *  3. every transfer ends, successfully or with an error from the table, within its bound
 *     (connect budget plus the inactivity timeout, in simulated time);
 *  4. a successful send means the receiver holds the blob (when it did not crash since).
 *
 * `SEEDS=N` runs N seeds (default 150; seeds 1… in the default run, 10001… when
 * OCTOPII_TRANSPORT=matrixai, so CI's two runs cover 300; `SEED_BASE=B` starts a block at B+1),
 * `SEED=S` replays one; a failing seed prints the command that replays it and runs again recorded,
 * printing the `octopii replay FILE` command of each node's flight recording.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isErrorCode } from '../../src/errors.js';
import { readRecording } from '../../src/observe/recorder.js';
import { SimWorld } from '../helpers/simWorld.js';
import { Random } from './random.js';

/** CI runs the suite once per transport: each run takes its own block of seeds (the memory network ignores the transport). */
const SEED_BASE = Number(process.env.SEED_BASE ?? (process.env.OCTOPII_TRANSPORT === 'matrixai' ? 10_000 : 0));
const SEEDS = process.env.SEED ? [Number(process.env.SEED)] : Array.from({ length: Number(process.env.SEEDS ?? 150) }, (_, i) => SEED_BASE + i + 1);
const STEPS = 24;
/** Connect budget (dial timeout 5 s + backoff, 3 retries) plus the lane's inactivity timeout (10 s), with room. */
const TRANSFER_BOUND_MS = 45_000;
/** Real time one seed may take before it counts as hung (a seed takes ~0.3 s; CI is slower). */
const SEED_WALL_MS = 60_000;

interface Expectation {
  node: string;
  sha256: string;
}

async function simulate(seed: number, record?: string): Promise<{ violations: string[]; stats: Record<string, number>; log: string[]; recordings: string[] }> {
  const rng = new Random(seed);
  const names = ['a', 'b', 'c', 'd', 'e'].slice(0, rng.int(3, 5));
  const w = await SimWorld.create({ stepMs: 50, peer: { keepAliveMs: 1000, deadAfterMs: 2500, retryInitialMs: 200, maxRetries: 3 }, ...(record ? { record } : {}) });
  const violations: string[] = [];
  const verified: Expectation[] = [];
  const crashedSince = new Set<string>();
  const everCrashed = new Set<string>();
  const started = new Map<string, number>();
  const stats = { transfers: 0, ok: 0, failed: 0, partitions: 0, crashes: 0, restarts: 0 };
  const down = new Set<string>();
  let label = 0;

  const check = async (when: string) => {
    // 1. Verified blobs stay, unaltered.
    for (const v of verified) {
      const dir = w.nodes.get(v.node)!.dir;
      let content: Buffer;
      try {
        content = await readFile(join(dir, v.sha256));
      } catch {
        violations.push(`${when}: verified blob ${v.sha256.slice(0, 12)} on ${v.node} is gone`);
        continue;
      }
      const got = createHash('sha256').update(content).digest('hex');
      if (got !== v.sha256) violations.push(`${when}: verified blob ${v.sha256.slice(0, 12)} on ${v.node} was altered`);
    }
    // 3. Transfers end within their bound, with a table error when they fail.
    for (const [l, t] of w.transfers) {
      const age = w.now - started.get(l)!;
      if (!t.result && age > TRANSFER_BOUND_MS) violations.push(`${when}: ${l} (${t.from} → ${t.to}) still running after ${age} ms`);
      if (t.result && !t.result.success && !isErrorCode(t.result.error?.code)) violations.push(`${when}: ${l} failed with an untyped error ${JSON.stringify(t.result.error)}`);
    }
  };

  try {
    for (const n of names) {
      await w.start(n);
      w.node(n).onReceived((e) => {
        if (e.ok) verified.push({ node: n, sha256: e.sha256 });
      });
    }
    for (let step = 0; step < STEPS; step++) {
      const r = rng.next();
      const up = names.filter((n) => !down.has(n));
      if (r < 0.45 && up.length >= 2) {
        const from = rng.pick(up);
        const to = rng.pick(names.filter((n) => n !== from));
        const l = `t${++label}`;
        started.set(l, w.now);
        w.send(l, from, to, rng.int(1, 256) * 1024);
        stats.transfers++;
      } else if (r < 0.55) {
        const [x, y] = [rng.pick(names), rng.pick(names)];
        if (x !== y) {
          w.network.partition(w.nodes.get(x)!.address, w.nodes.get(y)!.address);
          stats.partitions++;
        }
      } else if (r < 0.65) {
        w.network.heal();
      } else if (r < 0.72 && up.length > 2) {
        const victim = rng.pick(up);
        await w.kill(victim);
        down.add(victim);
        crashedSince.add(victim);
        everCrashed.add(victim);
        stats.crashes++;
      } else if (r < 0.8 && down.size > 0) {
        const back = rng.pick([...down]);
        await w.start(back);
        w.node(back).onReceived((e) => {
          if (e.ok) verified.push({ node: back, sha256: e.sha256 });
        });
        down.delete(back);
        stats.restarts++;
      }
      await w.advance(rng.int(1, 200) * 10);
      await check(`step ${step}`);
    }
    // Quiesce: heal everything, bring everyone back, let every transfer end.
    w.network.heal();
    // Every transfer has ended on both sides: senders have their results, and no running node
    // still has a receive in flight (a receiver may learn of a failure after its sender did).
    const ended = await w.until(
      () =>
        [...w.transfers.values()].every((t) => t.result !== undefined) &&
        names.every((n) => down.has(n) || w.node(n).peers().every((p) => p.transfers === 0)),
      TRANSFER_BOUND_MS,
    );
    if (!ended) {
      // Name what is still running: the transfer actors of every running node, with their states.
      type Tree = { id: string; state?: unknown; children: Tree[] };
      const flat = (t: Tree): Tree[] => [t, ...t.children.flatMap(flat)];
      const running = names
        .filter((n) => !down.has(n))
        .flatMap((n) => flat(w.node(n).inspect().tree as Tree).filter((c) => /\/(send|receive)#/.test(c.id)).map((c) => `${n}: ${w.names(c.id)} in ${JSON.stringify(c.state)}`));
      violations.push(`quiesce: transfers still running\n  ${running.join('\n  ')}`);
    }
    await check('end');
    // 2. No partial files on nodes that never crashed; 4. every success is held by its receiver.
    for (const n of names) {
      if (everCrashed.has(n)) continue;
      let files: string[] = [];
      try {
        files = await readdir(w.nodes.get(n)!.dir);
      } catch {
        files = [];
      }
      const leftovers = files.filter((f) => !/^[0-9a-f]{64}$/.test(f));
      if (leftovers.length) violations.push(`end: ${n} holds partial files ${leftovers.join(', ')}`);
    }
    for (const t of w.transfers.values()) {
      if (!t.result) continue;
      if (t.result.success) stats.ok++;
      else stats.failed++;
      if (t.result.success && !everCrashed.has(t.to)) {
        const dir = w.nodes.get(t.to)!.dir;
        const held = await readFile(join(dir, t.sha256)).then(() => true, () => false);
        if (!held) violations.push(`end: ${t.from} → ${t.to} succeeded but ${t.to} does not hold ${t.sha256.slice(0, 12)}`);
      }
    }
  } finally {
    await w.close();
  }
  return { violations, stats, log: w.events.map((e) => `[${e.t}ms] ${w.names(e.text)}`), recordings: w.recordings };
}

async function runSeeds(seeds: number[]): Promise<Record<string, number>> {
  const totals: Record<string, number> = { transfers: 0, ok: 0, failed: 0, partitions: 0, crashes: 0, restarts: 0 };
  for (const seed of seeds) {
    // A seed that never finishes (a promise nothing will settle) fails with its replay command
    // instead of holding the whole test until vitest's timeout.
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`seed ${seed} did not finish in ${SEED_WALL_MS / 1000} s of real time — replay: SEED=${seed} npx vitest run test/sim/nodes.test.ts`)), SEED_WALL_MS);
    });
    const { violations, stats, log } = await Promise.race([simulate(seed), hung]).finally(() => clearTimeout(timer));
    for (const [k, v] of Object.entries(stats)) totals[k] = (totals[k] ?? 0) + v;
    // Diagnostics only for a broken seed (they cost a second, recorded run); the check is the same for every seed.
    const explained = violations.length > 0 ? await explain(seed, violations, log) : '';
    expect(violations, explained).toEqual([]);
  }
  return totals;
}

/** How to look into a seed that broke an invariant: its replay command, and the run again, recorded (one flight recording per node). */
async function explain(seed: number, violations: string[], log: string[]): Promise<string> {
  const replay = `SEED=${seed} npx vitest run test/sim/nodes.test.ts`;
  // A seed replays the same way.
  const dir = await mkdtemp(join(tmpdir(), `octopii-sim-${seed}-`));
  const { recordings } = await simulate(seed, dir).catch(() => ({ recordings: [] as string[] }));
  const open = recordings.map((r) => `  npx octopii replay ${r}`).join('\n');
  return `seed ${seed} broke an invariant — replay: ${replay}\n${violations.join('\n')}\n--- recordings (open one in the inspector) ---\n${open}\n--- log ---\n${log.join('\n')}`;
}

describe.runIf(!process.env.SEED)('seeded whole-node simulation (memory network, simulated clock)', () => {
  it(`keeps its invariants over ${SEEDS.length} seeds, exercising transfers, failures, partitions, crashes and restarts`, async () => {
    const totals = await runSeeds(SEEDS);
    console.log(`simulation: ${SEEDS.length} seeds`, totals);
    expect(Object.entries(totals).filter(([, v]) => v === 0)).toEqual([]);
  }, 600_000);
});

describe.runIf(!!process.env.SEED)('seeded whole-node simulation: one replayed seed', () => {
  it(`keeps its invariants with seed ${process.env.SEED}`, async () => {
    const totals = await runSeeds(SEEDS);
    expect(totals.transfers).toBeGreaterThan(0);
  });
});

describe.runIf(!process.env.SEED)('seeded whole-node simulation: flight recordings', () => {
  it("records every node's run for `octopii replay` (what a failing seed prints): the lane actors' states are in it", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'octopii-sim-rec-'));
    try {
      const { recordings } = await simulate(SEED_BASE + 1, dir);
      const lanes = new Set<string>();
      for (const r of recordings) for (const e of (await readRecording(r)).events) if (e.kind === 'snapshot' && /^lane(Send|Receive)$/.test(e.actor.machine)) lanes.add(`${e.actor.machine} ${e.status}`);
      expect([recordings.length > 0, lanes.has('laneSend done'), lanes.has('laneReceive done')]).toEqual([true, true, true]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
