/**
 * machines/blobBatch.ts on its own, pure: a stub session stands in for the stream and the store,
 * a SimulatedClock drives the idle deadline and the download-limit waits.
 */
import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, SimulatedClock, type EventObject } from 'xstate';
import { blobBatchMachine, type BatchSessionInput, type BlobBatchEvent } from '../../machines/blobBatch.js';

const ROOTS = ['aa'.repeat(32), 'bb'.repeat(32), 'cc'.repeat(32)];

function harness() {
  const clock = new SimulatedClock();
  const received: string[] = [];
  const sessions: BatchSessionInput[] = [];
  let send: ((e: BlobBatchEvent) => void) | undefined;
  const logic = blobBatchMachine.provide({
    actors: {
      session: fromCallback<EventObject, BatchSessionInput>(({ input, sendBack, receive }) => {
        sessions.push(input);
        send = sendBack as (e: BlobBatchEvent) => void;
        receive((e) => received.push(e.type));
      }),
    },
  });
  const actor = createActor(logic, { input: { handles: null, roots: ROOTS, idleMs: 1000 }, clock });
  actor.start();
  return { actor, clock, received, sessions, toMachine: (e: BlobBatchEvent) => send!(e) };
}

type H = ReturnType<typeof harness>;
const state = (h: H) => JSON.stringify(h.actor.getSnapshot().value);
const output = (h: H) => h.actor.getSnapshot().output;

describe('blobBatch machine', () => {
  it('hands the session every root, in order', () => {
    const h = harness();
    expect(h.sessions.map((s) => s.roots)).toEqual([ROOTS]);
  });

  it('streams once the provider takes the batch', () => {
    const h = harness();
    h.toMachine({ type: 'ACCEPTED' });
    expect(state(h)).toBe('{"session":{"streaming":"flowing"}}');
  });

  it('ends refused when the provider answers an ERROR first (it predates batches)', () => {
    const h = harness();
    h.toMachine({ type: 'REFUSED', error: { code: 'PROTOCOL_ERROR', message: 'blob request version 2 (expected 1)' } });
    expect({ status: output(h)?.status, code: output(h)?.error?.code, done: output(h)?.done }).toEqual({ status: 'refused', code: 'PROTOCOL_ERROR', done: [] });
  });

  it('fails TIMEOUT when the provider does not answer the request within idleMs', () => {
    const h = harness();
    h.clock.increment(1000);
    expect({ status: output(h)?.status, code: output(h)?.error?.code }).toEqual({ status: 'failed', code: 'TIMEOUT' });
  });

  it('is still streaming 999 ms after the last blob landed', () => {
    const h = harness();
    h.toMachine({ type: 'ACCEPTED' });
    h.clock.increment(600);
    h.toMachine({ type: 'BLOB_DONE', index: 0, bytes: 10, blocks: 1 });
    h.clock.increment(999);
    expect(state(h)).toBe('{"session":{"streaming":"flowing"}}');
  });

  it('fails TIMEOUT idleMs after the last blob landed, keeping the blobs landed', () => {
    const h = harness();
    h.toMachine({ type: 'ACCEPTED' });
    h.clock.increment(600);
    h.toMachine({ type: 'BLOB_DONE', index: 0, bytes: 10, blocks: 1 });
    h.clock.increment(1000);
    expect({ status: output(h)?.status, code: output(h)?.error?.code, done: output(h)?.done }).toEqual({ status: 'failed', code: 'TIMEOUT', done: [0] });
  });

  it('goes on after one root answered with an ERROR, and completes with that root listed failed', () => {
    const h = harness();
    h.toMachine({ type: 'ACCEPTED' });
    h.toMachine({ type: 'BLOB_DONE', index: 0, bytes: 10, blocks: 1 });
    h.toMachine({ type: 'BLOB_FAILED', index: 1, error: { code: 'BLOB_NOT_FOUND', message: 'no blob' } });
    h.toMachine({ type: 'BLOB_DONE', index: 2, bytes: 30, blocks: 1 });
    h.toMachine({ type: 'END' });
    expect(output(h)).toEqual({
      status: 'complete',
      roots: ROOTS,
      done: [0, 2],
      failed: [{ index: 1, error: { code: 'BLOB_NOT_FOUND', message: 'no blob' } }],
      bytes: 40,
      blocks: 2,
      throttledMs: 0,
      error: null,
    });
  });

  it('pauses the session on HIGH_WATER and resumes it on LOW_WATER, counting blobs that land meanwhile', () => {
    const h = harness();
    h.toMachine({ type: 'ACCEPTED' });
    h.toMachine({ type: 'HIGH_WATER' });
    const paused = state(h);
    h.toMachine({ type: 'BLOB_DONE', index: 0, bytes: 10, blocks: 1 });
    h.toMachine({ type: 'LOW_WATER' });
    expect({ paused, now: state(h), received: h.received, done: h.actor.getSnapshot().context.done }).toEqual({
      paused: '{"session":{"streaming":"paused"}}',
      now: '{"session":{"streaming":"flowing"}}',
      received: ['PAUSE', 'RESUME'],
      done: [0],
    });
  });

  it('waits out a THROTTLE on its clock, then tells the session UNTHROTTLE', () => {
    const h = harness();
    h.toMachine({ type: 'ACCEPTED' });
    h.toMachine({ type: 'THROTTLE', waitMs: 250 });
    h.clock.increment(249);
    const during = state(h);
    h.clock.increment(1);
    expect({ during, after: state(h), received: h.received, throttledMs: h.actor.getSnapshot().context.throttledMs }).toEqual({
      during: '{"session":{"streaming":"throttled"}}',
      after: '{"session":{"streaming":"flowing"}}',
      received: ['UNTHROTTLE'],
      throttledMs: 250,
    });
  });

  it('fails with BLOCK_MISMATCH when a block does not verify, keeping the blobs landed before', () => {
    const h = harness();
    h.toMachine({ type: 'ACCEPTED' });
    h.toMachine({ type: 'BLOB_DONE', index: 0, bytes: 10, blocks: 1 });
    h.toMachine({ type: 'FAILED', error: { code: 'BLOCK_MISMATCH', message: 'block 0 does not verify' } });
    expect({ status: output(h)?.status, code: output(h)?.error?.code, done: output(h)?.done }).toEqual({ status: 'failed', code: 'BLOCK_MISMATCH', done: [0] });
  });

  it('ends failed ABORTED on ABORT', () => {
    const h = harness();
    h.toMachine({ type: 'ACCEPTED' });
    h.actor.send({ type: 'ABORT', error: { code: 'ABORTED', message: 'batch aborted' } });
    expect({ status: output(h)?.status, code: output(h)?.error?.code }).toEqual({ status: 'failed', code: 'ABORTED' });
  });
});
