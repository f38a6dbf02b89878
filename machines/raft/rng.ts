/**
 * A pure, seeded PRNG for the randomized election timeout (Raft §5.2: "election timeouts are
 * chosen randomly from a fixed interval"). The state is a plain u32 kept in the machine's context,
 * so a node's timeouts are reproduced from its seed alone.
 *
 * Generator: mulberry32 (Tommy Ettinger, public domain).
 */

/** Next `[value in [0, 1), nextState]` from a u32 state. */
export function nextRandom(state: number): [number, number] {
  const s = (state + 0x6d2b79f5) >>> 0;
  let t = Math.imul(s ^ (s >>> 15), s | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [((t ^ (t >>> 14)) >>> 0) / 4294967296, s];
}

/** Next `[integer in [min, max], nextState]`. */
export function randomInt(state: number, min: number, max: number): [number, number] {
  const [r, s] = nextRandom(state);
  return [min + Math.floor(r * (max - min + 1)), s];
}
