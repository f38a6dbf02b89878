/**
 * Supervision: the node actor restarts crashed children with
 * exponential backoff and escalates past its restart intensity (OTP intensity/period).
 * Time is XState's SimulatedClock; nothing here waits on real timers.
 */
import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise, SimulatedClock, type AnyActorRef } from 'xstate';
import { childInfos, supervisedChild, supervisorMachine, type SupervisorInput } from '../../machines/node.js';
import { OctopiiError } from '../../src/errors.js';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A child whose every start is recorded; the test decides when each instance crashes or ends. */
function controlledChild(clock: SimulatedClock) {
  const instances: Array<{ startedAt: number; crash(e: unknown): void; finish(output: unknown): void; stopped: boolean }> = [];
  const logic = fromPromise<unknown, unknown>(({ signal }) => {
    return new Promise((resolve, reject) => {
      const inst = { startedAt: clock.now(), crash: reject, finish: resolve, stopped: false };
      signal.addEventListener('abort', () => (inst.stopped = true));
      instances.push(inst);
    });
  });
  return { logic, instances };
}

/** A child that runs until stopped; records its cleanup. */
function longRunningChild() {
  const state = { starts: 0, stops: 0 };
  const logic = fromCallback(() => {
    state.starts++;
    return () => {
      state.stops++;
    };
  });
  return { logic, state };
}

function startSupervisor(clock: SimulatedClock, input: SupervisorInput) {
  const actor = createActor(supervisorMachine, { clock, input });
  actor.start();
  return actor;
}

/** Advances the simulated clock, letting promise callbacks run in between. */
async function advance(clock: SimulatedClock, ms: number) {
  clock.increment(ms);
  await flush();
}

describe('node supervisor', () => {
  it('restarts a crashing child with doubling backoff, then escalates and stops every child', async () => {
    const clock = new SimulatedClock();
    const sup = startSupervisor(clock, { intensity: 3, periodMs: 5_000, backoff: { initialMs: 100, maxMs: 5_000 } });
    const crasher = controlledChild(clock);
    const sibling = longRunningChild();
    sup.send({ type: 'SPAWN', id: 'sibling', logic: sibling.logic });
    sup.send({ type: 'SPAWN', id: 'crasher', logic: crasher.logic, restart: 'permanent' });
    expect(sibling.state.starts).toBe(1);

    const expectedDelays = [100, 200, 400];
    for (const [i, delay] of expectedDelays.entries()) {
      expect(crasher.instances).toHaveLength(i + 1);
      crasher.instances[i]!.crash(new OctopiiError('CONNECTION_REFUSED', `crash ${i + 1}`));
      await flush();
      const child = sup.getSnapshot().context.children.crasher!;
      expect(child).toMatchObject({ status: 'restarting', restarts: i + 1, restartDelayMs: delay });
      expect(child.lastError).toEqual({ code: 'CONNECTION_REFUSED', message: `crash ${i + 1}` });
      // Not a millisecond early …
      await advance(clock, delay - 1);
      expect(crasher.instances).toHaveLength(i + 1);
      // … and on time.
      await advance(clock, 1);
      expect(crasher.instances).toHaveLength(i + 2);
      expect(sup.getSnapshot().context.children.crasher!.status).toBe('running');
    }
    const startTimes = crasher.instances.map((x) => x.startedAt);
    expect(startTimes).toEqual([0, 100, 300, 700]);

    // Fourth crash within 5 s: more than 3 restarts → escalate.
    crasher.instances[3]!.crash(new OctopiiError('CONNECTION_REFUSED', 'crash 4'));
    await flush();
    const snap = sup.getSnapshot();
    expect(snap.value).toBe('escalated');
    expect(snap.status).toBe('done');
    expect(snap.output).toEqual({
      status: 'failed',
      error: expect.objectContaining({ code: 'ESCALATED', childId: 'crasher', restarts: 3 }),
    });
    expect(snap.context.escalation?.message).toMatch(/more than 3 restarts within 5000 ms/);
    expect(sibling.state.stops).toBe(1);
    expect(Object.values(snap.context.children).map((c) => c.status)).toEqual(['stopped', 'stopped']);
    // No restart fires after escalation.
    await advance(clock, 10_000);
    expect(crasher.instances).toHaveLength(4);
  });

  it('caps the backoff at maxMs and forgets restarts older than periodMs', async () => {
    const clock = new SimulatedClock();
    const sup = startSupervisor(clock, { intensity: 2, periodMs: 1_000, backoff: { initialMs: 300, maxMs: 500 } });
    const crasher = controlledChild(clock);
    sup.send({ type: 'SPAWN', id: 'c', logic: crasher.logic });

    crasher.instances[0]!.crash(new Error('one'));
    await flush();
    expect(sup.getSnapshot().context.children.c!.restartDelayMs).toBe(300);
    await advance(clock, 300);
    crasher.instances[1]!.crash(new Error('two'));
    await flush();
    expect(sup.getSnapshot().context.children.c!.restartDelayMs).toBe(500); // 600 capped
    await advance(clock, 500);
    expect(sup.getSnapshot().context.recentRestarts).toBe(2);
    // Let both restarts leave the 1,000 ms window: the next crash starts the count afresh.
    await advance(clock, 1_000);
    expect(sup.getSnapshot().context.recentRestarts).toBe(0);
    crasher.instances[2]!.crash(new Error('three'));
    await flush();
    const snap = sup.getSnapshot();
    expect(snap.value).toBe('supervising');
    expect(snap.context.children.c).toMatchObject({ status: 'restarting', restarts: 3, restartDelayMs: 300 });
    sup.stop();
  });

  it('keeps a child that crashed once and then runs', async () => {
    const clock = new SimulatedClock();
    const sup = startSupervisor(clock, {});
    let starts = 0;
    let running = false;
    const flaky = fromCallback(() => {
      starts++;
      if (starts === 1) throw new OctopiiError('IO_ERROR', 'first start fails');
      running = true;
      return () => {
        running = false;
      };
    });
    sup.send({ type: 'SPAWN', id: 'flaky', logic: flaky, restart: 'transient' });
    await flush();
    expect(sup.getSnapshot().context.children.flaky).toMatchObject({ status: 'restarting', restarts: 1 });
    await advance(clock, 100);
    expect(starts).toBe(2);
    expect(running).toBe(true);
    await advance(clock, 60_000);
    const snap = sup.getSnapshot();
    expect(snap.value).toBe('supervising');
    expect(snap.context.children.flaky).toMatchObject({
      status: 'running',
      restarts: 1,
      recentRestarts: 0,
      lastExit: 'abnormal',
      lastError: { code: 'IO_ERROR', message: 'first start fails' },
    });
    expect(starts).toBe(2);
    sup.stop();
    expect(running).toBe(false);
  });

  it('does not restart a temporary child, nor a transient child that ends normally', async () => {
    const clock = new SimulatedClock();
    const sup = startSupervisor(clock, {});
    const temp = controlledChild(clock);
    const trans = controlledChild(clock);
    const perm = controlledChild(clock);
    sup.send({ type: 'SPAWN', id: 'temp', logic: temp.logic, restart: 'temporary' });
    sup.send({ type: 'SPAWN', id: 'trans', logic: trans.logic, restart: 'transient' });
    sup.send({ type: 'SPAWN', id: 'perm', logic: perm.logic, restart: 'permanent' });
    temp.instances[0]!.crash(new Error('temp crashed'));
    trans.instances[0]!.finish({ status: 'closed' });
    perm.instances[0]!.finish({ status: 'closed' }); // permanent: restarted even after a normal exit
    await flush();
    await advance(clock, 10_000);
    const children = childInfos(sup.getSnapshot().context);
    expect(children.temp).toMatchObject({ status: 'stopped', restarts: 0, lastExit: 'abnormal' });
    expect(children.trans).toMatchObject({ status: 'stopped', restarts: 0, lastExit: 'normal' });
    expect(children.perm).toMatchObject({ status: 'running', restarts: 1, lastExit: 'normal' });
    expect(temp.instances).toHaveLength(1);
    expect(trans.instances).toHaveLength(1);
    expect(perm.instances).toHaveLength(2);
    sup.stop();
  });

  it('restarts a transient child that ends with { status: "failed" }', async () => {
    const clock = new SimulatedClock();
    const sup = startSupervisor(clock, {});
    const child = controlledChild(clock);
    sup.send({ type: 'SPAWN', id: 'conn', logic: child.logic, restart: 'transient' });
    child.instances[0]!.finish({ status: 'failed', error: { code: 'CONNECT_TIMEOUT', message: 'late' } });
    await flush();
    expect(sup.getSnapshot().context.children.conn).toMatchObject({
      status: 'restarting',
      lastError: { code: 'CONNECT_TIMEOUT', message: 'late' },
    });
    await advance(clock, 100);
    expect(child.instances).toHaveLength(2);
    sup.stop();
  });

  it('STOP_CHILD stops one child and cancels its pending restart', async () => {
    const clock = new SimulatedClock();
    const sup = startSupervisor(clock, {});
    const a = longRunningChild();
    const b = controlledChild(clock);
    sup.send({ type: 'SPAWN', id: 'a', logic: a.logic });
    sup.send({ type: 'SPAWN', id: 'b', logic: b.logic });
    sup.send({ type: 'STOP_CHILD', id: 'a' });
    expect(a.state.stops).toBe(1);
    b.instances[0]!.crash(new Error('b'));
    await flush();
    sup.send({ type: 'STOP_CHILD', id: 'b' });
    await advance(clock, 10_000);
    expect(b.instances).toHaveLength(1);
    const { children } = sup.getSnapshot().context;
    expect(children.a!.status).toBe('stopped');
    expect(children.b!.status).toBe('stopped');
    expect(sup.getSnapshot().value).toBe('supervising');
    sup.stop();
  });

  it('STOP stops every child, cancels pending restarts and ends in stopped', async () => {
    const clock = new SimulatedClock();
    const x = longRunningChild();
    const y = longRunningChild();
    const z = controlledChild(clock);
    const sup = startSupervisor(clock, {
      children: [
        { id: 'x', logic: x.logic },
        { id: 'y', logic: y.logic },
      ],
    });
    sup.send({ type: 'SPAWN', id: 'z', logic: z.logic });
    expect([x.state.starts, y.state.starts]).toEqual([1, 1]);
    z.instances[0]!.crash(new Error('z'));
    await flush();
    expect(sup.getSnapshot().context.children.z!.status).toBe('restarting');
    sup.send({ type: 'STOP' });
    const snap = sup.getSnapshot();
    expect(snap.value).toBe('stopped');
    expect(snap.status).toBe('done');
    expect(snap.output).toEqual({ status: 'stopped' });
    expect([x.state.stops, y.state.stops]).toEqual([1, 1]);
    expect(Object.values(snap.context.children).every((c) => c.status === 'stopped')).toBe(true);
    await advance(clock, 10_000);
    expect(z.instances).toHaveLength(1);
  });

  it('nests: a supervisor that escalates is restarted by its own supervisor', async () => {
    const clock = new SimulatedClock();
    const top = startSupervisor(clock, { intensity: 1, periodMs: 60_000, backoff: { initialMs: 1_000, maxMs: 1_000 } });
    const crasher = controlledChild(clock);
    const inner = supervisorMachine.provide({});
    top.send({
      type: 'SPAWN',
      id: 'inner',
      logic: inner,
      input: { intensity: 0, children: [{ id: 'worker', logic: crasher.logic }] } satisfies SupervisorInput,
      restart: 'transient',
    });
    crasher.instances[0]!.crash(new Error('worker down'));
    await flush();
    // inner (intensity 0) escalated at once; top restarts it after 1 s, which restarts the worker.
    expect(top.getSnapshot().context.children.inner).toMatchObject({
      status: 'restarting',
      lastError: expect.objectContaining({ code: 'ESCALATED' }),
    });
    await advance(clock, 1_000);
    expect(crasher.instances).toHaveLength(2);
    const innerRef = supervisedChild(top.getSnapshot(), 'inner') as AnyActorRef;
    expect(innerRef.getSnapshot().value).toBe('supervising');
    crasher.instances[1]!.crash(new Error('worker down again'));
    await flush();
    // Second escalation of inner exceeds top's intensity 1: the escalation climbs up.
    const snap = top.getSnapshot();
    expect(snap.value).toBe('escalated');
    expect(snap.output).toMatchObject({ status: 'failed', error: { code: 'ESCALATED', childId: 'inner', restarts: 1 } });
  });

  it('forgets the oldest stopped children beyond keepStopped, so per-transfer actors do not pile up', async () => {
    const clock = new SimulatedClock();
    const sup = startSupervisor(clock, { keepStopped: 2 });
    const running = longRunningChild();
    sup.send({ type: 'SPAWN', id: 'long', logic: running.logic });
    for (let i = 0; i < 5; i++) {
      const child = controlledChild(clock);
      sup.send({ type: 'SPAWN', id: `t${i}`, logic: child.logic, restart: 'temporary' });
      child.instances[0]!.finish({ status: 'acknowledged' });
      await flush();
    }
    const { context } = sup.getSnapshot();
    const all = childInfos(context);
    expect([Object.keys(all), Object.keys(context.children), Object.keys(context.specs)]).toEqual([['t3', 't4', 'long'], ['long'], ['long']]);
    expect([all.long!.status, all.t4!.status]).toEqual(['running', 'stopped']);
    sup.send({ type: 'STOP' });
  });
});

describe('node supervisor: finished children', () => {
  it('releases the actors of children that completed or crashed without a restart (XState would keep them listed)', async () => {
    const clock = new SimulatedClock();
    const sup = startSupervisor(clock, { intensity: 3, periodMs: 5_000 });
    const running = longRunningChild();
    sup.send({ type: 'SPAWN', id: 'long', logic: running.logic });
    for (let i = 0; i < 20; i++) {
      const child = controlledChild(clock);
      sup.send({ type: 'SPAWN', id: `t${i}`, logic: child.logic, restart: 'temporary' });
      if (i % 2 === 0) child.instances[0]!.finish({ status: 'acknowledged' });
      else child.instances[0]!.crash(new OctopiiError('IO_ERROR', 'disk'));
      await flush();
    }
    expect(Object.keys(sup.getSnapshot().children)).toEqual(['long']);
    sup.send({ type: 'STOP' });
  });
});

describe('node supervisor: exits it must ignore', () => {
  it.each(['xstate.done.actor', 'xstate.error.actor'])('ignores a late %s event of a child stopped on purpose (no restart)', async (prefix) => {
    const clock = new SimulatedClock();
    const sup = startSupervisor(clock, { intensity: 3, periodMs: 5_000 });
    const child = longRunningChild();
    sup.send({ type: 'SPAWN', id: 'worker', logic: child.logic, restart: 'permanent' });
    sup.send({ type: 'STOP_CHILD', id: 'worker' });
    // An exit that arrives after the stop (a stray or late event) must not look like a crash.
    sup.send({ type: `${prefix}.worker`, actorId: 'worker', output: { status: 'failed' }, error: new Error('late') } as never);
    await advance(clock, 10_000);
    expect(child.state.starts).toBe(1);
    expect(sup.getSnapshot().value).toBe('supervising');
    expect(sup.getSnapshot().context.children.worker).toMatchObject({ status: 'stopped', restarts: 0, lastExit: null });
  });

  it.each(['xstate.done.actor', 'xstate.error.actor'])('ignores a %s event of an actor it never spawned', async (prefix) => {
    const clock = new SimulatedClock();
    const sup = startSupervisor(clock, { intensity: 3, periodMs: 5_000 });
    sup.send({ type: `${prefix}.ghost`, actorId: 'ghost', output: { status: 'failed' }, error: new Error('stray') } as never);
    await advance(clock, 1_000);
    expect(sup.getSnapshot().status).toBe('active');
    expect(sup.getSnapshot().context.children).toEqual({});
  });
});
