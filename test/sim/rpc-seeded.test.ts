/**
 * Seeded whole-node simulation of RPC under faults (TigerBeetle's VOPR shape): three nodes call
 * each other at random while nodes are killed and restarted at random, all on one simulated
 * clock. Invariants: every call settles by its deadline (plus the clock step), with OK or a code
 * a fault explains; once every node is back, every node reaches every other. A failing seed is
 * printed; replay it with `RPC_SEED=<n> npx vitest run test/sim/rpc-seeded.test.ts`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SimWorld } from '../helpers/simWorld.js';
import { kv, kvHandlers } from '../helpers/rpcFixtures.js';
import { Random } from './random.js';
import type { RpcError } from '../../src/rpc/index.js';

const NAMES = ['a', 'b', 'c'];
const FAULT_CODES = new Set(['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'CONNECT_TIMEOUT', 'CONNECTION_REFUSED', 'CONNECTION_CLOSED', 'STREAM_ABORTED', 'CLOSED']);
const seeds = process.env.RPC_SEED ? [Number(process.env.RPC_SEED)] : [1, 2, 3, 4, 5];

let world: SimWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

async function startServing(w: SimWorld, name: string): Promise<void> {
  (await w.start(name)).serve(kv, kvHandlers(new Map([['k', name]])));
}

describe('rpc under random kills and restarts', () => {
  it.each(seeds)('seed %i: every call settles by its deadline with OK or a fault code, and all nodes reach each other after', async (seed) => {
    const rnd = new Random(seed);
    world = await SimWorld.create({ receive: 'memory', peer: { keepAliveMs: 200, deadAfterMs: 500, retryInitialMs: 50, maxRetries: 2 } });
    const w = world;
    for (const n of NAMES) await startServing(w, n);
    const bad: string[] = [];
    const pending = new Set<Promise<void>>();
    for (let step = 0; step < 60; step++) {
      const from = NAMES[rnd.int(0, 2)]!;
      const to = NAMES[rnd.int(0, 2)]!;
      const roll = rnd.next();
      if (roll < 0.08 && w.nodes.get(to)?.node) await w.kill(to);
      else if (roll < 0.2 && !w.nodes.get(to)?.node) await startServing(w, to);
      else if (from !== to && w.nodes.get(from)?.node) {
        const deadlineMs = 300 + rnd.int(0, 700);
        const t0 = w.now;
        const p = w
          .node(from)
          .client(kv, w.ref(to))
          .get({ key: 'k' }, { deadlineMs })
          .then(
            () => undefined,
            (e: RpcError) => {
              if (!FAULT_CODES.has(e.code)) bad.push(`seed ${seed}: ${from}→${to} failed ${e.code}: ${e.message}`);
            },
          )
          .then(() => {
            if (w.now - t0 > deadlineMs + 50) bad.push(`seed ${seed}: ${from}→${to} settled after ${w.now - t0} ms (deadline ${deadlineMs})`);
          });
        pending.add(p);
        void p.then(() => pending.delete(p));
      }
      await w.advance(rnd.int(10, 100));
    }
    await w.until(() => pending.size === 0, 5_000);
    for (const n of NAMES) if (!w.nodes.get(n)?.node) await startServing(w, n);
    await w.advance(2_000);
    const reach: string[] = [];
    for (const from of NAMES) {
      for (const to of NAMES) {
        if (from === to) continue;
        let out = 'pending';
        void w.node(from).client(kv, w.ref(to)).get({ key: 'k' }, { deadlineMs: 5_000 }).then((r) => (out = r.value ?? 'null'), (e: RpcError) => (out = e.code));
        await w.until(() => out !== 'pending', 6_000);
        reach.push(`${from}→${to} ${out}`);
      }
    }
    expect([pending.size, bad, reach]).toEqual([0, [], NAMES.flatMap((f) => NAMES.filter((t) => t !== f).map((t) => `${f}→${t} ${t}`))]);
  });
});
