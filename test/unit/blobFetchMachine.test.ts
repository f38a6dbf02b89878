/**
 * machines/blobFetch.ts on its own, pure: stub actors stand in for the store and the stream,
 * a SimulatedClock drives backoff and the idle deadline.
 */
import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise, SimulatedClock, type EventObject } from 'xstate';
import { blobFetchMachine, type BlobFetchEvent, type BlockRanges, type SessionInput } from '../../machines/blobFetch.js';

interface Harness {
  actor: ReturnType<typeof createActor<typeof blobFetchMachine>>;
  clock: SimulatedClock;
  toMachine: (e: BlobFetchEvent) => void;
  received: string[];
  sessions: SessionInput[];
  flush: () => Promise<void>;
}

function harness(missing: Array<BlockRanges | null>): Harness {
  const clock = new SimulatedClock();
  const received: string[] = [];
  const sessions: SessionInput[] = [];
  let send: ((e: BlobFetchEvent) => void) | undefined;
  let calls = 0;
  const logic = blobFetchMachine.provide({
    actors: {
      loadMissing: fromPromise<BlockRanges | null, { handles: unknown; root: string }>(async () => missing[Math.min(calls++, missing.length - 1)]!),
      session: fromCallback<EventObject, SessionInput>(({ input, sendBack, receive }) => {
        sessions.push(input);
        send = sendBack as (e: BlobFetchEvent) => void;
        receive((e) => received.push(e.type));
      }),
    },
  });
  const actor = createActor(logic, { input: { handles: null, root: 'ab'.repeat(32), idleMs: 1000, backoff: { initialMs: 100, maxMs: 1000 } }, clock });
  actor.start();
  return { actor, clock, toMachine: (e) => send!(e), received, sessions, flush: () => new Promise((r) => setTimeout(r, 0)) };
}

const state = (h: Harness) => JSON.stringify(h.actor.getSnapshot().value);

describe('blobFetch machine', () => {
  it('completes at once when the store already holds every block', async () => {
    const h = harness([[]]);
    await h.flush();
    expect([h.actor.getSnapshot().status, h.actor.getSnapshot().output?.attempts]).toEqual(['done', 0]);
  });

  it('asks the session for the ranges the store lacks', async () => {
    const h = harness([[[3, 8]]]);
    await h.flush();
    expect(h.sessions.map((s) => s.missing)).toEqual([[[3, 8]]]);
  });

  it('pauses the session on HIGH_WATER', async () => {
    const h = harness([null]);
    await h.flush();
    h.toMachine({ type: 'HEADER', size: 10, blocks: 1 });
    h.toMachine({ type: 'HIGH_WATER' });
    expect([state(h), h.received]).toEqual(['{"session":{"streaming":"paused"}}', ['PAUSE']]);
  });

  it('resumes the session on LOW_WATER', async () => {
    const h = harness([null]);
    await h.flush();
    h.toMachine({ type: 'HEADER', size: 10, blocks: 1 });
    h.toMachine({ type: 'HIGH_WATER' });
    h.toMachine({ type: 'LOW_WATER' });
    expect([state(h), h.received]).toEqual(['{"session":{"streaming":"flowing"}}', ['PAUSE', 'RESUME']]);
  });

  it('marks the provider and retries after a block that does not verify', async () => {
    const h = harness([null]);
    await h.flush();
    h.toMachine({ type: 'FAILED', error: { code: 'BLOCK_MISMATCH', message: 'bad block' } });
    expect([state(h), h.actor.getSnapshot().context.mismatches]).toEqual(['"retrying"', 1]);
  });

  it('after the backoff, resumes from the store and opens a new session', async () => {
    const h = harness([null, [[1, 2]]]);
    await h.flush();
    h.toMachine({ type: 'FAILED', error: { code: 'STREAM_ABORTED', message: 'reset' } });
    h.clock.increment(100);
    await h.flush();
    expect(h.sessions.map((s) => s.missing)).toEqual([null, [[1, 2]]]);
  });

  it('fails at once on an error a retry cannot fix', async () => {
    const h = harness([null]);
    await h.flush();
    h.toMachine({ type: 'FAILED', error: { code: 'BLOB_NOT_FOUND', message: 'no' } });
    expect(h.actor.getSnapshot().output).toMatchObject({ status: 'failed', error: { code: 'BLOB_NOT_FOUND' } });
  });

  it('retries with TIMEOUT when no header comes within the idle deadline', async () => {
    const h = harness([null]);
    await h.flush();
    h.clock.increment(1000);
    expect([state(h), h.actor.getSnapshot().context.error?.code]).toEqual(['"retrying"', 'TIMEOUT']);
  });

  it('keeps streaming while each block comes within the idle deadline of the last', async () => {
    const h = harness([null]);
    await h.flush();
    h.toMachine({ type: 'HEADER', size: 10 << 20, blocks: 10 });
    for (let i = 0; i < 3; i++) {
      h.clock.increment(900);
      h.toMachine({ type: 'BLOCK', index: i, bytes: 1 << 20 });
    }
    h.clock.increment(900);
    expect(state(h)).toBe('{"session":{"streaming":"flowing"}}');
  });

  it('keeps streaming past the idle deadline while blocks are written (WRITTEN), before their commit reports them', async () => {
    const h = harness([null]);
    await h.flush();
    h.toMachine({ type: 'HEADER', size: 10 << 20, blocks: 10 });
    for (let i = 0; i < 3; i++) {
      h.clock.increment(800);
      h.toMachine({ type: 'WRITTEN' });
    }
    h.clock.increment(800);
    expect([state(h), h.actor.getSnapshot().context.blocks]).toEqual(['{"session":{"streaming":"flowing"}}', 0]);
  });

  it('retries with TIMEOUT when blocks stop mid-range for the idle deadline', async () => {
    const h = harness([null]);
    await h.flush();
    h.toMachine({ type: 'HEADER', size: 10 << 20, blocks: 10 });
    h.toMachine({ type: 'BLOCK', index: 0, bytes: 1 << 20 });
    h.clock.increment(1000);
    expect([state(h), h.actor.getSnapshot().context.error?.code]).toEqual(['"retrying"', 'TIMEOUT']);
  });

  it('retries when the provider ends with blocks still missing', async () => {
    const h = harness([null, [[4, 5]]]);
    await h.flush();
    h.toMachine({ type: 'HEADER', size: 10, blocks: 1 });
    h.toMachine({ type: 'END' });
    await h.flush();
    expect([state(h), h.actor.getSnapshot().context.error?.code]).toEqual(['"retrying"', 'PROTOCOL_ERROR']);
  });

  it('waits in streaming.throttled for the wait THROTTLE names, then tells the session UNTHROTTLE', async () => {
    const h = harness([null]);
    await h.flush();
    h.toMachine({ type: 'HEADER', size: 10, blocks: 1 });
    h.toMachine({ type: 'THROTTLE', waitMs: 250 });
    const during = state(h);
    h.clock.increment(249);
    const before = [state(h), [...h.received]];
    h.clock.increment(1);
    expect({ during, before, after: state(h), received: h.received, throttledMs: h.actor.getSnapshot().context.throttledMs }).toEqual({
      during: '{"session":{"streaming":"throttled"}}',
      before: ['{"session":{"streaming":"throttled"}}', []],
      after: '{"session":{"streaming":"flowing"}}',
      received: ['UNTHROTTLE'],
      throttledMs: 250,
    });
  });

  it('does not time out while throttled longer than the idle deadline', async () => {
    const h = harness([null]);
    await h.flush();
    h.toMachine({ type: 'HEADER', size: 10, blocks: 1 });
    h.toMachine({ type: 'THROTTLE', waitMs: 5000 });
    h.clock.increment(4999);
    expect(state(h)).toBe('{"session":{"streaming":"throttled"}}');
  });
});
