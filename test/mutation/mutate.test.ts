/**
 * The mutation tool's own rules (./mutate.ts) on a small chart that uses every target form:
 * what is enumerated, what removing a state or a transition leaves, and that it still builds.
 */
import { createMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import { applyMutant, checkInitials, enumerate, resolveTarget, type Mutant } from './mutate.js';

const config = {
  id: 'm',
  initial: 'a',
  on: { RESET: '.a' },
  states: {
    a: { on: { GO: 'b', DEEP: '.inner', DONE_: '#m.d' }, initial: 'inner', states: { inner: { on: { X: 'other' } }, other: {} } },
    b: {
      id: 'bee',
      initial: 'only',
      states: { only: { after: { 100: '#m.a', 200: [{ guard: 'g', target: '#m.d' }, { target: '#m.a' }] } } },
      always: [{ guard: 'g', target: 'c' }],
      invoke: { src: 'work', onDone: 'c', onError: [{ guard: 'g', target: '#bee' }, { target: 'd' }] },
    },
    c: { on: { BACK: { target: '#bee.only' }, NOP: {} } },
    d: { type: 'final' },
  },
};
const guards = { g: () => false };
const build = (c: object) => createMachine(c as never, { guards, actors: { work: { transition: (s: unknown) => s } } } as never);
const m = (x: Omit<Mutant & { kind: 'state' }, 'machine' | 'kind'>): Mutant => ({ machine: 'm', kind: 'state', ...x });

describe('mutation rules', () => {
  it('enumerates every non-root state and every transition candidate', () => {
    const names = enumerate('m', config).map((v) => v.name);
    expect(names.filter((n) => n.startsWith('state '))).toEqual([
      'state a', 'state a.inner', 'state a.other', 'state b', 'state b.only', 'state c', 'state d',
    ]);
    expect(names.filter((n) => !n.startsWith('state '))).toEqual([
      '(root) on RESET → .a',
      'a on GO → b',
      'a on DEEP → .inner',
      'a on DONE_ → #m.d',
      'a.inner on X → other',
      'b always[0] (g) → c',
      'b invoke work onDone → c',
      'b invoke work onError[0] (g) → #bee',
      'b invoke work onError[1] → d',
      'b.only after 100 → #m.a',
      'b.only after 200[0] (g) → #m.d',
      'b.only after 200[1] → #m.a',
      'c on BACK → #bee.only',
      'c on NOP (no target)',
    ]);
  });

  it('resolves #id.path, .child and sibling targets', () => {
    const ids = new Map([['m', []], ['bee', ['b']]]);
    expect(resolveTarget('#bee.only', ['c'], ids)).toEqual(['b', 'only']);
    expect(resolveTarget('#m.d', ['b', 'only'], ids)).toEqual(['d']);
    expect(resolveTarget('.inner', ['a'], ids)).toEqual(['a', 'inner']);
    expect(resolveTarget('.a', [], ids)).toEqual(['a']);
    expect(resolveTarget('other', ['a', 'inner'], ids)).toEqual(['a', 'other']);
  });

  it('removing a state drops the transitions into it (all target forms) and moves initial', () => {
    const { config: c, notes } = applyMutant(config, m({ path: 'a' }));
    expect(Object.keys(c.states as object)).toEqual(['b', 'c', 'd']);
    expect(c.initial).toBe('b');
    expect(c.on).toEqual({}); // RESET → .a is gone
    const b = (c.states as Record<string, any>).b;
    expect(b.states.only.after).toEqual({ 200: [{ guard: 'g', target: '#m.d' }] });
    expect(notes).toEqual(['initial of (root) is now b', '3 transition(s) into it dropped']);
    expect(checkInitials(c)).toEqual([]);
    expect(() => build(c)).not.toThrow();
    expect(config.states.a).toBeDefined(); // the input is untouched
  });

  it('removing the only child of a compound state removes the parent too', () => {
    const { config: c, notes } = applyMutant(config, m({ path: 'b.only' }));
    expect(Object.keys(c.states as object)).toEqual(['a', 'c', 'd']);
    expect(notes[0]).toBe('parent b left without children: removed too');
    expect((c.states as Record<string, any>).a.on).toEqual({ DEEP: '.inner', DONE_: '#m.d' });
    expect((c.states as Record<string, any>).c.on).toEqual({ NOP: {} });
    expect(() => build(c)).not.toThrow();
  });

  it('removing a transition deletes that candidate, and the key when none is left', () => {
    const t = (x: object): Mutant => ({ machine: 'm', kind: 'transition', index: 0, ...x }) as Mutant;
    const states = (c: Record<string, unknown>) => c.states as Record<string, any>;
    expect(states(applyMutant(config, t({ state: 'a', section: 'on', key: 'GO' })).config).a.on).toEqual({ DEEP: '.inner', DONE_: '#m.d' });
    expect(states(applyMutant(config, t({ state: 'b', section: 'invoke.onError', invoke: 0, index: 1 })).config).b.invoke.onError).toEqual([
      { guard: 'g', target: '#bee' },
    ]);
    expect(states(applyMutant(config, t({ state: 'b', section: 'always' })).config).b.always).toBeUndefined();
    expect(states(applyMutant(config, t({ state: 'b.only', section: 'after', key: '100' })).config).b.states.only.after).toEqual({
      200: config.states.b.states.only.after[200],
    });
    expect(applyMutant(config, t({ state: '', section: 'on', key: 'RESET' })).config.on).toEqual({});
    for (const v of enumerate('m', config)) expect(() => build(applyMutant(config, v.mutant).config)).not.toThrow();
  });
});
