/**
 * machines/blobMulti.ts on its own, pure: a fake store (a set of held blocks) and fake provider
 * units that the test settles one by one, so which provider finishes first is the test's choice.
 */
import { describe, expect, it, vi } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import type { BlockRanges } from '../../machines/blobFetch.js';
import { blobMultiMachine, blobMultiProviderMachine, type BlockUnit, type FetchUnitInput, type UnitResult } from '../../machines/blobMulti.js';
import type { ErrorInfo } from '../../src/errors.js';

interface Pending {
  index: number;
  unit: BlockUnit;
  resolve: (r: UnitResult) => void;
}

function harness(opts: { peers: number; blocks: number; unitBlocks: number; held?: number[] }) {
  const held = new Set<number>(opts.held ?? []);
  const pending: Pending[] = [];
  /** Every unit each provider was given, in order. */
  const given: BlockUnit[][] = Array.from({ length: opts.peers }, () => []);
  const missing = (): BlockRanges | null => {
    if (held.size === 0) return null;
    const out: BlockRanges = [];
    for (let i = 0; i < opts.blocks; i++) {
      if (held.has(i)) continue;
      const last = out[out.length - 1];
      if (last && last[1] === i) last[1] = i + 1;
      else out.push([i, i + 1]);
    }
    return out;
  };
  const logic = blobMultiMachine.provide({
    actors: {
      loadMissing: fromPromise<BlockRanges | null, { handles: unknown }>(async () => missing()),
      provider: blobMultiProviderMachine.provide({
        actors: {
          fetchUnit: fromPromise<UnitResult, FetchUnitInput>(({ input }) => {
            given[input.index]!.push(input.unit);
            return new Promise((resolve) => pending.push({ index: input.index, unit: input.unit, resolve }));
          }),
        },
      }),
    },
  });
  const actor = createActor(logic, { input: { handles: null, peers: Array.from({ length: opts.peers }, (_, i) => `p${i}:1`), unitBlocks: opts.unitBlocks } });
  actor.start();
  /** Waits for provider `index`'s unit in flight and ends it: complete (blocks written), or failed with `error`. */
  const settle = async (index: number, error?: ErrorInfo) => {
    const p = await vi.waitFor(() => {
      const found = pending.find((x) => x.index === index);
      if (!found) throw new Error(`provider ${index} has no unit in flight`);
      return found;
    });
    pending.splice(pending.indexOf(p), 1);
    const n = p.unit[1] - p.unit[0];
    if (!error) for (let b = p.unit[0]; b < p.unit[1]; b++) held.add(b);
    p.resolve(error ? { status: 'failed', blocks: 0, bytes: 0, ms: 5, error } : { status: 'complete', blocks: n, bytes: n * 1000, ms: 10, error: null });
  };
  const output = () => vi.waitFor(() => {
    const s = actor.getSnapshot();
    if (s.status !== 'done') throw new Error(`still ${JSON.stringify(s.value)}`);
    return s.output!;
  });
  return { actor, settle, output, given, pending };
}

const MISMATCH: ErrorInfo = { code: 'BLOCK_MISMATCH', message: 'block 1 does not verify' };
const TIMEOUT: ErrorInfo = { code: 'TIMEOUT', message: 'no block for 30000 ms' };

describe('blobMulti machine', () => {
  it('spawns one child per provider, provider#<i>', () => {
    const h = harness({ peers: 3, blocks: 4, unitBlocks: 1, held: [0] });
    expect(Object.keys(h.actor.getSnapshot().children).filter((k) => k.startsWith('provider#')).sort()).toEqual(['provider#0', 'provider#1', 'provider#2']);
    h.actor.stop();
  });

  it('gives the faster provider more units (work stealing)', async () => {
    const h = harness({ peers: 2, blocks: 9, unitBlocks: 1, held: [0] });
    // provider 0 finishes unit after unit while provider 1 holds its first one
    for (let i = 0; i < 7; i++) await h.settle(0);
    await h.settle(1);
    const out = await h.output();
    expect({ status: out.status, blocks: out.providers.map((p) => p.blocks), given: h.given.map((g) => g.length) }).toEqual({ status: 'complete', blocks: [7, 1], given: [7, 1] });
  });

  it('drops a failing provider and requeues its unit to another', async () => {
    const h = harness({ peers: 2, blocks: 5, unitBlocks: 2, held: [0] });
    await h.settle(0, MISMATCH); // provider 0 had [1,3)
    await h.settle(1); // [3,5)
    await h.settle(1); // [1,3) again
    const out = await h.output();
    expect({ status: out.status, dropped: out.providers.map((p) => p.dropped?.code ?? null), given: h.given }).toEqual({
      status: 'complete',
      dropped: ['BLOCK_MISMATCH', null],
      given: [[[1, 3]], [[3, 5], [1, 3]]],
    });
  });

  it('fails with the last error when every provider fails', async () => {
    const h = harness({ peers: 2, blocks: 5, unitBlocks: 2, held: [0] });
    await h.settle(0, TIMEOUT);
    await h.settle(1, MISMATCH);
    const out = await h.output();
    expect({ status: out.status, error: out.error?.code, dropped: out.providers.map((p) => p.dropped?.code) }).toEqual({ status: 'failed', error: 'BLOCK_MISMATCH', dropped: ['TIMEOUT', 'BLOCK_MISMATCH'] });
  });

  it('completes only when the queue is empty and nothing is in flight', async () => {
    const h = harness({ peers: 2, blocks: 3, unitBlocks: 1, held: [0] });
    await h.settle(0);
    // the queue is empty, provider 1 still fetching
    await vi.waitFor(() => expect(h.actor.getSnapshot().context.providers.map((p) => p.blocks)).toEqual([1, 0]));
    const mid = { value: h.actor.getSnapshot().value, queue: h.actor.getSnapshot().context.queue.length };
    await h.settle(1);
    const out = await h.output();
    expect({ mid, status: out.status, blocks: out.providers.map((p) => p.blocks) }).toEqual({ mid: { value: 'fetching', queue: 0 }, status: 'complete', blocks: [1, 1] });
  });

  it('with nothing held, fetches block 0 alone first, from the next provider when one fails', async () => {
    const h = harness({ peers: 2, blocks: 3, unitBlocks: 4 });
    await h.settle(0, TIMEOUT);
    await h.settle(1); // block 0
    await h.settle(1); // [1,3)
    const out = await h.output();
    expect({ status: out.status, given: h.given }).toEqual({ status: 'complete', given: [[[0, 1]], [[0, 1], [1, 3]]] });
  });
});
