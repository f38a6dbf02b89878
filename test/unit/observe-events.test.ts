/** src/observe/events.ts: inspection events as small JSON records. */
import { describe, expect, it } from 'vitest';
import { assign, createActor, fromCallback, setup, type InspectionEvent } from 'xstate';
import { summarize, toObserveEvent, type ObserveEvent } from '../../src/observe/events.js';

class Conn {}

describe('summarize', () => {
  it('keeps primitives', () => {
    expect(summarize({ a: 1, b: 'x', c: true, d: null })).toEqual({ a: 1, b: 'x', c: true, d: null });
  });

  it('gives byte arrays as sizes, never bytes', () => {
    expect(summarize({ data: new Uint8Array(5000), buf: Buffer.alloc(7) })).toEqual({ data: { bytes: 5000 }, buf: { bytes: 7 } });
  });

  it('gives class instances by name', () => {
    expect(summarize({ link: new Conn() })).toEqual({ link: { type: 'Conn' } });
  });

  it('gives long arrays as their length', () => {
    expect(summarize({ xs: Array.from({ length: 100 }, (_, i) => i) })).toEqual({ xs: { items: 100 } });
  });

  it('gives objects past the depth as their key count', () => {
    expect(summarize({ a: { b: { c: 1, d: 2 } } }, 2)).toEqual({ a: { b: { keys: 2 } } });
  });

  it('cuts long strings', () => {
    expect((summarize('y'.repeat(1000)) as string).length).toBe(257);
  });

  it('leaves functions out', () => {
    expect(summarize({ f: () => 1, n: 2 })).toEqual({ n: 2 });
  });
});

describe('toObserveEvent', () => {
  const child = fromCallback(() => undefined);
  const machine = setup({ types: { context: {} as { n: number; blob: Uint8Array }, events: {} as { type: 'GO' } }, actors: { child } }).createMachine({
    id: 'demo',
    context: { n: 0, blob: new Uint8Array(10) },
    initial: 'a',
    states: { a: { on: { GO: { target: 'b', actions: assign({ n: 1 }) } } }, b: { invoke: { src: 'child' } } },
  });

  function run(): ObserveEvent[] {
    const out: ObserveEvent[] = [];
    let seq = 0;
    const inspect = (e: InspectionEvent) => {
      const r = toObserveEvent(e, 'N', ++seq, 0);
      if (r) out.push(r);
    };
    const actor = createActor(machine, { inspect });
    actor.start();
    actor.send({ type: 'GO' });
    actor.stop();
    return out;
  }

  it('keeps the machine actor and leaves out the callback actor it invokes', () => {
    expect([...new Set(run().map((r) => r.actor.machine))]).toEqual(['demo']);
  });

  it('records the root as `node`', () => {
    expect(run()[0]!.actor).toMatchObject({ id: 'node', parent: null, machine: 'demo' });
  });

  it('records snapshots with state, cause and a summarised context', () => {
    const snaps = run().filter((r) => r.kind === 'snapshot');
    expect(snaps.map((s) => (s.kind === 'snapshot' ? [s.state, s.status, s.cause, s.context] : null))).toEqual([
      ['a', 'active', 'xstate.init', { n: 0, blob: { bytes: 10 } }],
      ['b', 'active', 'GO', { n: 1, blob: { bytes: 10 } }],
      ['b', 'stopped', 'xstate.stop', { n: 1, blob: { bytes: 10 } }],
    ]);
  });

  it('records events with their type', () => {
    expect(run().filter((r) => r.kind === 'event').map((r) => (r.kind === 'event' ? r.type : ''))).toEqual(['xstate.init', 'GO']);
  });
});
