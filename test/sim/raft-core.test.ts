/**
 * Seeded simulation of whole Raft clusters over the pure core (TigerBeetle's VOPR is the model):
 * 3 and 5 members, random message drops, delays, reordering and duplication, partitions, and
 * crash-restarts that keep only what the driver synced (crashes also strike between a write and
 * its fsync, and between the fsync and sending). Each cluster draws PreVote, CheckQuorum, batch
 * size and inflight window per node. After every step the four safety properties of Raft
 * Figure 3 are checked:
 *  - Election Safety: at most one leader per term;
 *  - Log Matching: two logs holding an entry with the same index and term are identical up to it;
 *  - Leader Completeness: a leader's log holds every entry committed in an earlier term;
 *  - State Machine Safety: no two nodes apply different entries at one index;
 * plus: no committed entry is ever truncated, and every ReadIndex answer covers every entry
 * applied anywhere before the read was issued (linearizable reads, dissertation §6.4).
 * A calm phase at the end (healed, everyone up, no faults) must elect a leader and commit.
 *
 * A failing seed prints its last events and the command that replays it, e.g.
 *   SEED=300017 npx vitest run test/sim/raft-core.test.ts
 * SEEDS=N runs N seeds per size (default 50); SIM_STATS=1 prints a line per seed. A soak run:
 *   SEEDS=300 SIM_STEPS=900 SIM_INTENSITY=3 npx vitest run test/sim/raft-core.test.ts
 */
import { describe, expect, it } from 'vitest';
import { simulate } from '../helpers/raftSim.js';

const only = process.env.SEED ? Number(process.env.SEED) : undefined;
const perSize = Number(process.env.SEEDS ?? 50);
const steps = Number(process.env.SIM_STEPS ?? 320);
const intensity = Number(process.env.SIM_INTENSITY ?? 1);
/** Seeds of an N-member run are N·100000 + i, so a seed alone says which cluster it ran. */
const sizeOfSeed = (seed: number) => (Math.floor(seed / 100_000) === 5 ? 5 : 3);

describe('raft core simulation', () => {
  for (const size of [3, 5]) {
    const seeds = only === undefined ? Array.from({ length: perSize }, (_, i) => size * 100_000 + i) : [only];
    it.skipIf(only !== undefined && sizeOfSeed(only) !== size)(
      `${size} members, ${seeds.length} seeds: safety after every step, progress after faults stop`,
      () => {
        let total = 0;
        for (const seed of seeds) {
          try {
            total += simulate(seed, { size, steps, calmSteps: 120, intensity }).commits;
          } catch (e) {
            const msg = e instanceof Error ? e.message : String(e);
            const knobs = `${steps !== 320 ? ` SIM_STEPS=${steps}` : ''}${intensity !== 1 ? ` SIM_INTENSITY=${intensity}` : ''}`;
            throw new Error(`seed ${seed}: ${msg}\nreplay: SEED=${seed}${knobs} npx vitest run test/sim/raft-core.test.ts`, { cause: e });
          }
        }
        expect(total).toBeGreaterThan(0);
      },
    );
  }
});
