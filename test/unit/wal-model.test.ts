/**
 * Seeded random runs of the WAL against a plain model of a Raft log (a Map of index → entry, a
 * hard state, a snapshot marker): groups of concurrent calls, some refused by the disk (ENOSPC,
 * EIO, short writes), some invalid, compactions, and reopens — after every group the WAL's view,
 * and after every reopen what it recovered, must equal the model. Real files, real fsync.
 * A failing run prints its seed; replay it with `WAL_SEED=<seed> npx vitest run test/unit/wal-model.test.ts`,
 * search longer with `WAL_SEEDS=200`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Random } from '../sim/random.js';
import { Wal, EMPTY_HARD_STATE, type HardState, type SnapshotMarker, type WalEntry } from '../../src/wal/index.js';
import { isOctopiiError } from '../../src/errors.js';
import { cleanupWalDirs, walTempDir } from '../helpers/walFixtures.js';
import { FaultyWalFs, type FaultOp } from '../helpers/walFaultyFs.js';

afterEach(cleanupWalDirs);

class Model {
  entries = new Map<number, { term: number; data: string }>();
  last = 0;
  snap: SnapshotMarker | null = null;
  hs: HardState = EMPTY_HARD_STATE;
  clone(): Model {
    const m = new Model();
    m.entries = new Map(this.entries);
    m.last = this.last;
    m.snap = this.snap;
    m.hs = this.hs;
    return m;
  }
  get first(): number {
    return (this.snap?.index ?? 0) + 1;
  }
  lastTerm(): number {
    return this.entries.get(this.last)?.term ?? this.snap?.term ?? 0;
  }
  cut(from: number): void {
    for (let i = from; i <= this.last; i++) this.entries.delete(i);
    this.last = Math.min(this.last, from - 1);
  }
}

type Call = { name: string; run: (wal: Wal) => Promise<unknown>; apply: (m: Model) => void; invalid?: boolean };

const text = (d: Uint8Array) => new TextDecoder().decode(d);

/** A random valid call against `m` (already advanced by the calls before it in its group). */
function randomCall(r: Random, m: Model): Call {
  const floor = Math.max(m.hs.commit, m.snap?.index ?? 0);
  const roll = r.next();
  if (roll < 0.55) {
    const from = r.int(Math.max(floor + 1, m.last + 1 - 3), m.last + 1);
    const n = r.int(1, 6);
    const term = Math.max(m.hs.term, r.int(0, 2) + (m.entries.get(from - 1)?.term ?? 0));
    const entries: WalEntry[] = Array.from({ length: n }, (_, k) => ({ index: from + k, term, data: new TextEncoder().encode(`${from + k}:${term}:${'x'.repeat(r.int(0, 120))}`) }));
    const withHs = r.chance(0.2);
    const hs: HardState = { term: Math.max(m.hs.term, term), vote: r.chance(0.5) ? null : `n${r.int(1, 3)}`, commit: Math.max(m.hs.commit, r.int(m.hs.commit, from - 1)) };
    return {
      name: `append ${from}…${from + n - 1} t${term}${withHs ? ` + hs ${JSON.stringify(hs)}` : ''}`,
      run: (w) => (withHs ? w.save({ entries, hardState: hs }) : w.append(entries)),
      apply: (mm) => {
        mm.cut(from);
        for (const e of entries) mm.entries.set(e.index, { term: e.term, data: text(e.data) });
        mm.last = from + n - 1;
        if (withHs) mm.hs = hs;
      },
    };
  }
  if (roll < 0.7) {
    const hs: HardState = { term: m.hs.term + r.int(0, 1), vote: r.chance(0.5) ? null : `n${r.int(1, 3)}`, commit: r.int(m.hs.commit, Math.max(m.hs.commit, m.last)) };
    return { name: `hs ${JSON.stringify(hs)}`, run: (w) => w.setHardState(hs), apply: (mm) => void (mm.hs = hs) };
  }
  if (roll < 0.8 && m.last > floor) {
    const at = r.int(floor + 1, m.last);
    return { name: `truncateFrom ${at}`, run: (w) => w.truncateFrom(at), apply: (mm) => mm.cut(at) };
  }
  if (roll < 0.87) {
    const index = r.int((m.snap?.index ?? 0) + 1, m.last + 2);
    const marker = { index, term: m.entries.get(index)?.term ?? m.lastTerm() };
    return {
      name: `snapshot ${JSON.stringify(marker)}`,
      run: (w) => w.saveSnapshot(marker),
      apply: (mm) => {
        for (let i = mm.first; i <= marker.index; i++) mm.entries.delete(i);
        mm.snap = marker;
        mm.last = Math.max(mm.last, marker.index);
      },
    };
  }
  // invalid: a gap, or replacing a committed entry
  const bad = m.hs.commit > (m.snap?.index ?? 0) && r.chance(0.5) ? m.hs.commit : m.last + 2;
  return { name: `invalid append ${bad}`, run: (w) => w.append([{ index: bad, term: m.lastTerm(), data: new Uint8Array(1) }]), apply: () => undefined, invalid: true };
}

async function expectSame(wal: Wal, m: Model, where: string): Promise<void> {
  expect({ first: wal.firstIndex, last: wal.lastIndex, hs: wal.hardState, snap: wal.snapshot }, where).toEqual({ first: m.first, last: m.last, hs: m.hs, snap: m.snap });
  const got = (await wal.entries(wal.firstIndex, wal.lastIndex + 1)).map((e) => [e.index, e.term, text(e.data)]);
  const want = [...m.entries.entries()].sort((a, b) => a[0] - b[0]).map(([i, e]) => [i, e.term, e.data]);
  expect(got, where).toEqual(want);
}

/** A settled call as one value: `fulfilled` (with no value), or the OctopiiError code it rejected with. */
function outcomeOf(res: PromiseSettledResult<unknown>): string {
  if (res.status === 'fulfilled') return res.value === undefined ? 'fulfilled' : `fulfilled with ${String(res.value)}`;
  return isOctopiiError(res.reason) ? res.reason.code : `not an OctopiiError: ${String(res.reason)}`;
}

async function run(seed: number): Promise<void> {
  const r = new Random(seed);
  const dir = await walTempDir();
  const fs = new FaultyWalFs();
  const segmentBytes = r.int(1, 4) * 1024;
  let wal = (await Wal.open(dir, { fs, segmentBytes })).wal;
  let model = new Model();
  const log: string[] = [];
  const where = () => `seed ${seed}, after:\n  ${log.slice(-8).join('\n  ')}`;
  const recoveries: { got: unknown; want: unknown }[] = [];
  for (let step = 0; step < 120; step++) {
    const fault = r.chance(0.12);
    let faultCode: 'DISK_FULL' | 'IO_ERROR' | null = null;
    if (fault) {
      const ops: FaultOp[] = [r.pick<FaultOp>(['write', 'datasync']), ...(r.chance(0.5) ? (['truncate'] as FaultOp[]) : []), 'create'];
      const code = r.pick(['ENOSPC', 'EIO']);
      fs.failWith(code, { ops, partial: r.chance(0.5) });
      faultCode = code === 'ENOSPC' ? 'DISK_FULL' : 'IO_ERROR';
      log.push(`fault ${code} on ${ops.join(',')}`);
    }
    const scratch = model.clone();
    const calls: Call[] = [];
    for (let k = r.int(1, 4); k > 0; k--) {
      const c = randomCall(r, scratch);
      calls.push(c);
      if (!c.invalid) c.apply(scratch);
      if (c.invalid) break; // later calls would not know whether it counted
    }
    log.push(calls.map((c) => c.name).join(' | '));
    const results = await Promise.allSettled(calls.map((c) => c.run(wal)));
    // Each call pins one outcome: an invalid call INVALID_ARGUMENT; under a fault, the code the
    // injected errno maps to (ENOSPC → DISK_FULL, EIO → IO_ERROR); else fulfilled.
    results.forEach((res, k) => {
      const c = calls[k]!;
      const want = c.invalid ? 'INVALID_ARGUMENT' : (faultCode ?? 'fulfilled');
      expect(outcomeOf(res), `${c.name}: ${where()}`).toEqual(want);
    });
    if (!fault) model = scratch;
    fs.heal();
    if (r.chance(0.08)) {
      const through = r.int(0, model.last);
      const removed = await wal.compact(through);
      log.push(`compact ${through} → ${removed} segments`);
    }
    await expectSame(wal, model, where());
    if (r.chance(0.1) || step === 119) {
      await wal.close();
      const opened = await Wal.open(dir, { fs, segmentBytes });
      wal = opened.wal;
      log.push('reopen');
      const rec = opened.recovered;
      // What each reopen recovered, and what the model says it should have: compared after the run.
      recoveries.push({
        got: { where: where(), hs: rec.hardState, snap: rec.snapshot, torn: rec.tornBytes, entries: rec.entries.map((e) => [e.index, e.term, text(e.data)]) },
        want: { where: where(), hs: model.hs, snap: model.snap, torn: 0, entries: [...model.entries.entries()].sort((a, b) => a[0] - b[0]).map(([i, e]) => [i, e.term, e.data]) },
      });
    }
    await expectSame(wal, model, where());
  }
  await wal.close();
  expect(recoveries.map((x) => x.got)).toEqual(recoveries.map((x) => x.want));
}

describe('Wal against a model (seeded)', () => {
  // WAL_SEED=<seed> replays one run; WAL_SEEDS=<n> runs seeds 1…n (a longer search)
  const seeds = process.env.WAL_SEED
    ? [Number(process.env.WAL_SEED)]
    : process.env.WAL_SEEDS
      ? Array.from({ length: Number(process.env.WAL_SEEDS) }, (_, k) => k + 1)
      : [1, 2, 3, 20261201];
  for (const seed of seeds) it(`seed ${seed}`, () => run(seed));
});
