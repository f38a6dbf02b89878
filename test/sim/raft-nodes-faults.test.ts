/**
 * Seeded fault simulation of KV clusters (TigerBeetle's VOPR shape): three members and three
 * clients on the memory network under a simulated clock; partitions, delays, dropped
 * connections and crash-restarts that keep only what the WAL synced. Checked: at most one
 * leader per term, no two members commit different entries at one index, the clients' history
 * is linearizable (src/kv/linearizability.ts), and after healing every member applies the same
 * state. A failing seed prints the command that replays it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { checkLinearizable, type HistoryOp, type KvClient } from '../../src/kv/index.js';
import { sleep } from '../../src/runtime/clock.js';
import { Random } from './random.js';
import { KvSim } from './raft-nodes.helpers.js';

const SEEDS = Number(process.env.RAFT_KV_SEEDS ?? 8);
const FIRST = Number(process.env.RAFT_KV_SEED ?? 1);
const SIM_MS = Number(process.env.RAFT_KV_SIM_MS ?? 3000);

let sim: KvSim | null = null;
afterEach(async () => {
  await sim?.close();
  sim = null;
});

/**
 * The history's clock: one counter for every call and return of every client. Calls and returns
 * happen on one thread, so the counter orders them exactly as they happened — an operation
 * returned before another was called iff its `ret` is below the other's `call`. The simulated
 * clock cannot: it moves in steps, so a client's sequential operations inside one step share a
 * timestamp and looked concurrent, which the checker pays for exponentially (a seed with 1,127
 * operations on one key ran for 10 minutes).
 */
let events = 0;
const tick = (): number => ++events;

async function runClient(s: KvSim, name: string, client: KvClient, rnd: Random, until: number, history: HistoryOp[]): Promise<void> {
  const session = client.session(name);
  let n = 0;
  while (s.world.now < until) {
    const key = rnd.pick(['a', 'b']);
    const call = tick();
    const kind = rnd.pick(['put', 'put', 'get', 'get', 'cas', 'del'] as const);
    const value = `${name}.${++n}`;
    try {
      if (kind === 'put') history.push({ op: 'put', key, value, call, ret: 0, result: await session.put(key, value) });
      else if (kind === 'del') history.push({ op: 'del', key, call, ret: 0, result: await session.del(key) });
      else if (kind === 'get') history.push({ op: 'get', key, call, ret: 0, result: { value: await session.get(key) } });
      else {
        const expected = rnd.chance(0.5) ? null : `${rnd.pick(['c1', 'c2', 'c3'])}.${rnd.int(1, Math.max(1, n))}`;
        history.push({ op: 'cas', key, expected, value, call, ret: 0, result: await session.cas(key, expected, value) });
      }
      history[history.length - 1]!.ret = tick();
    } catch {
      // Outcome unknown: it may take effect at any later point, or never.
      if (kind === 'put') history.push({ op: 'put', key, value, call, ret: Infinity });
      else if (kind === 'del') history.push({ op: 'del', key, call, ret: Infinity });
      else if (kind === 'cas') history.push({ op: 'cas', key, expected: null, value, call, ret: Infinity });
      // an unanswered get constrains nothing
      await sleep(s.world.clock, 20);
    }
  }
}

async function faults(s: KvSim, rnd: Random, until: number): Promise<void> {
  const addr = (id: number) => s.world.ref(s.name(id)).address;
  let down: number | null = null;
  while (s.world.now < until) {
    await s.advance(rnd.int(50, 400));
    const a = rnd.int(1, s.n);
    const b = ((a + rnd.int(0, s.n - 2)) % s.n) + 1;
    const f = rnd.int(0, 9);
    if (f <= 1) s.world.network.partition(addr(a), addr(b));
    else if (f <= 3) s.world.network.heal();
    else if (f === 4) s.world.network.setDelay(addr(a), addr(b), rnd.int(0, 60));
    else if (f === 5) s.world.network.dropConnection(addr(a), addr(b));
    else if (f === 6 && down === null) {
      down = rnd.chance(0.5) ? (s.leader() ?? a) : a;
      await s.crash(down);
    } else if (f <= 8 && down !== null) {
      await s.restart(down);
      down = null;
    }
    s.check();
  }
  s.world.network.heal();
  if (down !== null) await s.restart(down);
}

describe('kv cluster under faults (seeded)', () => {
  for (let seed = FIRST; seed < FIRST + SEEDS; seed++) {
    it(`seed ${seed}: safe, linearizable, converges`, async () => {
      const replay = `RAFT_KV_SEED=${seed} RAFT_KV_SEEDS=1 RAFT_KV_SIM_MS=${SIM_MS} npx vitest run test/sim/raft-nodes-faults.test.ts`;
      sim = await KvSim.create(3, seed);
      const s = sim;
      const rnd = new Random(seed);
      const history: HistoryOp[] = [];
      const end = s.world.now + SIM_MS;
      const clients = await Promise.all(['c1', 'c2', 'c3'].map((c) => s.client(c, { timeoutMs: 1500, attemptMs: 300 })));
      const done = Promise.all(clients.map((c, i) => runClient(s, `c${i + 1}`, c, new Random(seed * 7 + i), end, history)));
      let finished = false;
      void done.finally(() => (finished = true));
      await faults(s, rnd, end);
      const settled = await s.until(() => finished, 20_000);
      expect(settled, `clients did not finish; replay: ${replay}`).toBe(true);
      // Converge: a leader, then every member applied the highest commitIndex any member knows.
      // (Not the leader's own: a new leader learns the commitIndex only once an entry of its term
      // commits (Raft §5.4.2), so followers can be ahead of it for a while.)
      await s.until(() => s.leader() !== undefined, 20_000);
      const converged = await s.until(() => {
        const ms = [...s.running.values()];
        const top = Math.max(...ms.map((m) => m.host.raw.status().commit));
        return ms.every((m) => m.host.applied === top);
      }, 20_000);
      const members = () => JSON.stringify([...s.running.values()].map((m) => ({ ...m.host.status(), dropped: m.host.dropped })));
      s.check();
      expect(s.violations, `replay: ${replay}`).toEqual([]);
      expect(converged, `replay: ${replay}; members: ${members()}`).toBe(true);
      const states = [...s.running.values()].map((m) => JSON.stringify(m.sm.entries()));
      expect(new Set(states).size, `replay: ${replay}`).toBe(1);
      const lin = checkLinearizable(history);
      expect(lin.ok, `not linearizable on key ${lin.key}; replay: ${replay}`).toBe(true);
      expect(history.filter((h) => h.ret !== Infinity).length).toBeGreaterThan(5);
      for (const c of clients) c.close();
    }, 60_000);
  }
});
