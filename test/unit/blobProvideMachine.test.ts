/** machines/blobProvide.ts on its own, pure: stub actors, a SimulatedClock for the deadlines. */
import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise, SimulatedClock, type EventObject } from 'xstate';
import { blobProvideMachine, type BlobProvideEvent, type ProvideRequest } from '../../machines/blobProvide.js';
import type { ErrorInfo } from '../../src/errors.js';

function harness(request: Promise<ProvideRequest>) {
  const clock = new SimulatedClock();
  const refused: ErrorInfo[] = [];
  let send: ((e: BlobProvideEvent) => void) | undefined;
  const resumes: number[] = [];
  const logic = blobProvideMachine.provide({
    actors: {
      readRequest: fromPromise<ProvideRequest, { handles: unknown }>(() => request),
      pump: fromCallback<EventObject, { handles: unknown; request: ProvideRequest }>(({ sendBack, receive }) => {
        send = sendBack as (e: BlobProvideEvent) => void;
        receive((e) => {
          if (e.type === 'RESUME') resumes.push(clock.now());
        });
      }),
      refuse: fromPromise<void, { handles: unknown; error: ErrorInfo }>(async ({ input }) => {
        refused.push(input.error);
      }),
    },
    actions: { abortStream: () => undefined },
  });
  const actor = createActor(logic, { input: { handles: null, idleMs: 1000 }, clock });
  actor.start();
  return { actor, clock, refused, resumes, send: (e: BlobProvideEvent) => send!(e), flush: () => new Promise((r) => setTimeout(r, 0)) };
}

const REQ: ProvideRequest = { root: 'ab'.repeat(32), ranges: [[0, 2]], size: 2 * 1048576 };

describe('blobProvide machine', () => {
  it('refuses with TIMEOUT a fetcher that sends no request within the deadline', async () => {
    const h = harness(new Promise(() => undefined));
    h.clock.increment(1000);
    await h.flush();
    expect(h.refused.map((e) => e.code)).toEqual(['TIMEOUT']);
  });

  it('answers an unknown root with its error frame', async () => {
    const h = harness(Promise.reject(Object.assign(new Error('no blob'), { code: 'BLOB_NOT_FOUND' })));
    await h.flush();
    expect([h.refused.map((e) => e.code), h.actor.getSnapshot().output?.status]).toEqual([['BLOB_NOT_FOUND'], 'failed']);
  });

  it('keeps streaming while blocks go out within the deadline', async () => {
    const h = harness(Promise.resolve(REQ));
    await h.flush();
    h.clock.increment(900);
    h.send({ type: 'SENT', index: 0, bytes: 1048576 });
    h.clock.increment(900);
    expect(JSON.stringify(h.actor.getSnapshot().value)).toBe('{"streaming":"sending"}');
  });

  it('gives up on a fetcher that stops reading', async () => {
    const h = harness(Promise.resolve(REQ));
    await h.flush();
    h.clock.increment(1000);
    await h.flush();
    expect(h.refused.map((e) => e.code)).toEqual(['TIMEOUT']);
  });

  it('resets the stream when even the error frame is not read in time', async () => {
    const slow = blobProvideMachine.provide({
      actors: {
        readRequest: fromPromise<ProvideRequest, { handles: unknown }>(() => new Promise(() => undefined)),
        refuse: fromPromise<void, { handles: unknown; error: ErrorInfo }>(() => new Promise(() => undefined)),
      },
      actions: { abortStream: () => void aborted++ },
    });
    let aborted = 0;
    const clock = new SimulatedClock();
    const a = createActor(slow, { input: { handles: null, idleMs: 1000 }, clock });
    a.start();
    clock.increment(1000);
    clock.increment(1000);
    expect([aborted, a.getSnapshot().output?.status]).toEqual([1, 'failed']);
  });

  it('ends done after the pump reports DONE, counting what it sent', async () => {
    const h = harness(Promise.resolve(REQ));
    await h.flush();
    h.send({ type: 'SENT', index: 0, bytes: 1048576 });
    h.send({ type: 'SENT', index: 1, bytes: 1048576 });
    h.send({ type: 'DONE' });
    expect(h.actor.getSnapshot().output).toEqual({ status: 'done', blocks: 2, bytes: 2 * 1048576, throttledMs: 0, error: null });
  });

  it('waits in streaming.throttled for the wait THROTTLE names, then tells the pump RESUME', async () => {
    const h = harness(Promise.resolve(REQ));
    await h.flush();
    h.send({ type: 'THROTTLE', waitMs: 5000 });
    const during = JSON.stringify(h.actor.getSnapshot().value);
    h.clock.increment(4999);
    const before = h.resumes.length;
    h.clock.increment(1);
    expect({ during, before, resumes: h.resumes, after: JSON.stringify(h.actor.getSnapshot().value) }).toEqual({
      during: '{"streaming":"throttled"}',
      before: 0,
      resumes: [5000],
      after: '{"streaming":"sending"}',
    });
  });

  it('adds every throttle wait to throttledMs in the output', async () => {
    const h = harness(Promise.resolve(REQ));
    await h.flush();
    h.send({ type: 'THROTTLE', waitMs: 300 });
    h.clock.increment(300);
    h.send({ type: 'SENT', index: 0, bytes: 1048576 });
    h.send({ type: 'THROTTLE', waitMs: 200 });
    h.clock.increment(200);
    h.send({ type: 'DONE' });
    expect(h.actor.getSnapshot().output?.throttledMs).toBe(500);
  });
});
