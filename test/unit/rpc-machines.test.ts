/**
 * The RPC machines on XState's SimulatedClock: rpcCall (phases, deadline, retries), breaker
 * (closed → open → halfOpen), admission (open ↔ saturated, bounded queue).
 */
import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import { rpcCallMachine, type RpcCallOutput } from '../../machines/rpcCall.js';
import { breakerMachine, canPass } from '../../machines/breaker.js';
import { admissionMachine } from '../../machines/admission.js';

function call(input: { idempotent?: boolean; deadlineMs?: number; maxAttempts?: number } = {}) {
  const clock = new SimulatedClock();
  const attempts: number[] = [];
  const settled: RpcCallOutput[] = [];
  let aborted = 0;
  const logic = rpcCallMachine.provide({
    actions: {
      startAttempt: (_, p) => attempts.push(p.attempt),
      abortAttempt: () => aborted++,
      settle: (_, o) => settled.push(o),
    },
  });
  const actor = createActor(logic, { clock, input: { method: 'kv.get', idempotent: input.idempotent ?? false, deadlineMs: input.deadlineMs ?? 1_000, maxAttempts: input.maxAttempts ?? 3, backoff: { initialMs: 100, maxMs: 1_000 } } });
  actor.start();
  return { clock, actor, attempts, settled, aborted: () => aborted };
}
const unavailable = { code: 'UNAVAILABLE' as const, message: 'lost' };

describe('rpcCall machine', () => {
  it('goes sending → awaiting → streaming → done', () => {
    const c = call();
    const seen: string[] = [];
    c.actor.subscribe((s) => seen.push(JSON.stringify(s.value)));
    c.actor.send({ type: 'SENT' });
    c.actor.send({ type: 'FIRST' });
    c.actor.send({ type: 'DONE' });
    expect(seen).toEqual(['{"active":"awaiting"}', '{"active":"streaming"}', '"done"']);
  });

  it('fires deadlineExceeded at the deadline and aborts the attempt', () => {
    const c = call({ deadlineMs: 500 });
    c.actor.send({ type: 'SENT' });
    c.clock.increment(499);
    const before = c.actor.getSnapshot().value;
    c.clock.increment(1);
    expect([before, c.actor.getSnapshot().value, c.aborted(), c.settled[0]?.error?.code]).toEqual([{ active: 'awaiting' }, 'deadlineExceeded', 1, 'DEADLINE_EXCEEDED']);
  });

  it('does not retry a method that is not idempotent', () => {
    const c = call({ idempotent: false });
    c.actor.send({ type: 'FAILED', error: unavailable });
    expect([c.actor.getSnapshot().value, c.attempts]).toEqual(['failed', [1]]);
  });

  it('retries an idempotent method after the backoff', () => {
    const c = call({ idempotent: true });
    c.actor.send({ type: 'FAILED', error: unavailable });
    c.clock.increment(99);
    const before = [...c.attempts];
    c.clock.increment(1);
    expect([before, c.attempts]).toEqual([[1], [1, 2]]);
  });

  it('stops retrying when the attempt budget is spent', () => {
    const c = call({ idempotent: true, maxAttempts: 2, deadlineMs: 10_000 });
    c.actor.send({ type: 'FAILED', error: unavailable });
    c.clock.increment(100);
    c.actor.send({ type: 'FAILED', error: unavailable });
    expect([c.actor.getSnapshot().value, c.settled[0]?.attempts]).toEqual(['failed', 2]);
  });

  it('does not retry an error the table marks not retryable', () => {
    const c = call({ idempotent: true });
    c.actor.send({ type: 'FAILED', error: { code: 'BAD_INPUT', message: 'x' } });
    expect(c.actor.getSnapshot().value).toBe('failed');
  });

  it('does not retry once the reply started streaming', () => {
    const c = call({ idempotent: true });
    c.actor.send({ type: 'FIRST' });
    c.actor.send({ type: 'FAILED', error: unavailable });
    expect(c.actor.getSnapshot().value).toBe('failed');
  });

  it('CANCEL ends the call cancelled and aborts the attempt', () => {
    const c = call();
    c.actor.send({ type: 'CANCEL' });
    expect([c.actor.getSnapshot().value, c.aborted(), c.settled[0]?.error?.code]).toEqual(['cancelled', 1, 'CANCELLED']);
  });

  it('its output never says status failed (a failed call is no crash for the supervisor)', () => {
    const c = call();
    c.actor.send({ type: 'FAILED', error: unavailable });
    expect(c.actor.getSnapshot().output).toEqual({ outcome: 'failed', attempts: 1, error: unavailable });
  });

  it('its output names the final state reached: done, cancelled, deadlineExceeded', () => {
    const done = call();
    done.actor.send({ type: 'DONE' });
    const cancelled = call();
    cancelled.actor.send({ type: 'CANCEL' });
    const late = call({ deadlineMs: 50 });
    late.clock.increment(50);
    expect([done.actor.getSnapshot().output, cancelled.actor.getSnapshot().output, late.actor.getSnapshot().output]).toEqual([
      { outcome: 'done', attempts: 1 },
      { outcome: 'cancelled', attempts: 1, error: { code: 'CANCELLED', message: 'call cancelled' } },
      { outcome: 'deadlineExceeded', attempts: 1, error: { code: 'DEADLINE_EXCEEDED', message: 'kv.get: deadline of 50 ms exceeded' } },
    ]);
  });
});

describe('breaker machine', () => {
  const mk = () => {
    const clock = new SimulatedClock();
    const a = createActor(breakerMachine, { clock, input: { failureThreshold: 3, openMs: 1_000 } });
    a.start();
    return { clock, a };
  };
  it('opens after the threshold of consecutive failures', () => {
    const { a } = mk();
    for (let i = 0; i < 3; i++) a.send({ type: 'FAILURE' });
    expect([a.getSnapshot().value, canPass(a.getSnapshot())]).toEqual(['open', false]);
  });
  it('a success resets the count', () => {
    const { a } = mk();
    a.send({ type: 'FAILURE' });
    a.send({ type: 'FAILURE' });
    a.send({ type: 'SUCCESS' });
    a.send({ type: 'FAILURE' });
    expect(a.getSnapshot().value).toBe('closed');
  });
  it('half-opens after openMs and lets one trial through', () => {
    const { a, clock } = mk();
    for (let i = 0; i < 3; i++) a.send({ type: 'FAILURE' });
    clock.increment(1_000);
    const first = canPass(a.getSnapshot());
    a.send({ type: 'TRIAL' });
    expect([a.getSnapshot().value, first, canPass(a.getSnapshot())]).toEqual(['halfOpen', true, false]);
  });
  it('a failed trial opens it again; a good one closes it', () => {
    const { a, clock } = mk();
    for (let i = 0; i < 3; i++) a.send({ type: 'FAILURE' });
    clock.increment(1_000);
    a.send({ type: 'FAILURE' });
    const reopened = a.getSnapshot().value;
    clock.increment(1_000);
    a.send({ type: 'SUCCESS' });
    expect([reopened, a.getSnapshot().value]).toEqual(['open', 'closed']);
  });
});

describe('admission machine', () => {
  const mk = (limit: number, queueLimit: number) => {
    const a = createActor(admissionMachine, { input: { limit, queueLimit } });
    const log: string[] = [];
    a.on('admit', (e) => log.push(`admit ${e.ticket}`));
    a.on('reject', (e) => log.push(`reject ${e.ticket}`));
    a.start();
    return { a, log };
  };
  it('admits up to the limit, queues, then rejects', () => {
    const { a, log } = mk(2, 1);
    for (const t of [1, 2, 3, 4]) a.send({ type: 'ACQUIRE', ticket: t });
    expect([log, a.getSnapshot().value]).toEqual([['admit 1', 'admit 2', 'reject 4'], 'saturated']);
  });
  it('a release admits the head of the queue', () => {
    const { a, log } = mk(1, 2);
    for (const t of [1, 2, 3]) a.send({ type: 'ACQUIRE', ticket: t });
    a.send({ type: 'RELEASE' });
    expect(log).toEqual(['admit 1', 'admit 2']);
  });
  it('goes back to open when the queue drains below the limit', () => {
    const { a } = mk(1, 1);
    a.send({ type: 'ACQUIRE', ticket: 1 });
    a.send({ type: 'RELEASE' });
    expect([a.getSnapshot().value, a.getSnapshot().context.inFlight]).toEqual(['open', 0]);
  });
  it('a withdrawn ticket is never admitted', () => {
    const { a, log } = mk(1, 2);
    for (const t of [1, 2, 3]) a.send({ type: 'ACQUIRE', ticket: t });
    a.send({ type: 'WITHDRAW', ticket: 2 });
    a.send({ type: 'RELEASE' });
    expect(log).toEqual(['admit 1', 'admit 3']);
  });
});
