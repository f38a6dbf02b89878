import { describe, expect, it } from 'vitest';
import { IdleCollector, startIdleCollector } from '../../src/runtime/idleCollector.js';

const MiB = 2 ** 20;

/** A collector over a fake heap and loop: `collect` halves nothing, it drops the heap to `live`. */
function rig(o: { rounds?: number } = {}) {
  const s = { busy: 0, heap: 20 * MiB, live: 12 * MiB, gcs: 0 };
  const c = new IdleCollector({
    gc: () => {
      s.gcs++;
      s.heap = s.live;
    },
    heapBytes: () => s.heap,
    busy: () => s.busy,
    busyBelow: 0.05,
    growthBytes: MiB,
    rounds: o.rounds ?? 3,
  });
  return { s, c };
}

describe('IdleCollector (src/runtime/idleCollector.ts)', () => {
  it('starts armed: one collection per idle check, `rounds` of them, then none while the heap stays put', () => {
    const { s, c } = rig({ rounds: 3 });
    const results = Array.from({ length: 6 }, () => c.check());
    expect(results).toEqual([true, true, true, false, false, false]);
    expect(s.gcs).toBe(3);
  });

  it('never collects while the event loop is busy, and collects on the first idle check after', () => {
    const { s, c } = rig({ rounds: 1 });
    s.busy = 0.9;
    expect([c.check(), c.check()]).toEqual([false, false]);
    expect(s.gcs).toBe(0);
    s.busy = 0.01;
    expect(c.check()).toBe(true);
    expect(s.gcs).toBe(1);
  });

  it('re-arms a series when the heap grew more than growthBytes past what the last collection left', () => {
    const { s, c } = rig({ rounds: 2 });
    c.check();
    c.check();
    expect(c.check()).toBe(false);
    s.heap = s.live + MiB / 2; // below the growth threshold
    expect(c.check()).toBe(false);
    s.heap = s.live + 8 * MiB; // a burst
    expect([c.check(), c.check(), c.check()]).toEqual([true, true, false]);
    expect(s.gcs).toBe(4);
    expect(c.collections).toBe(4);
  });

  it('without gc (node started without --expose-gc) starts nothing', () => {
    const g = globalThis as { gc?: unknown };
    const saved = g.gc;
    delete g.gc;
    try {
      const started = startIdleCollector();
      expect(started.collector).toBeUndefined();
      started.stop();
    } finally {
      if (saved !== undefined) g.gc = saved;
    }
  });
});
