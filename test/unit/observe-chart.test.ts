/** src/observe/chart.ts and render.ts: charts read from the definitions, as Mermaid and DOT. */
import { describe, expect, it } from 'vitest';
import { chartOf, eventLabel } from '../../src/observe/chart.js';
import { toDot, toMermaid } from '../../src/observe/render.js';
import { setup } from 'xstate';
import { supervisorMachine } from '../../machines/node.js';
import { peerMachine } from '../../machines/peer.js';

/**
 * A fixed chart (the shape of an early lane sender) so these tests pin the renderer, not the
 * production machines, which change as they grow (their charts are checked by docs/machines).
 */
const fixture = setup({ guards: { statusOk: () => true } }).createMachine({
  id: 'laneSend',
  initial: 'idle',
  on: { ABORT: '.failed' },
  states: {
    idle: { on: { START: 'opening' } },
    opening: { on: { SOURCE_OPENED: 'sending', SOURCE_FAILED: 'failed' } },
    sending: {
      initial: 'header',
      on: { PUMP_FAILED: 'failed' },
      states: {
        header: { on: { HEADER_SENT: 'streaming' } },
        streaming: {
          initial: 'flowing',
          on: { DATA_SENT: '#laneSend.verifying' },
          states: { flowing: { on: { HIGH_WATER: 'paused' } }, paused: { on: { LOW_WATER: 'flowing' } } },
        },
      },
    },
    verifying: {
      on: {
        STATUS: [{ guard: 'statusOk', target: 'acknowledged' }, { target: 'failed' }],
        STATUS_FAILED: 'failed',
      },
    },
    acknowledged: { type: 'final' },
    failed: { type: 'final' },
  },
});
const send = chartOf(fixture);

describe('machine charts', () => {
  it('lists states parents first, with their types', () => {
    expect(send.states.map((s) => `${s.id}:${s.type}`).slice(0, 5)).toEqual([
      'laneSend:compound',
      'laneSend.idle:atomic',
      'laneSend.opening:atomic',
      'laneSend.sending:compound',
      'laneSend.sending.header:atomic',
    ]);
  });

  it('names the initial child of a compound state', () => {
    expect(send.states.find((s) => s.id === 'laneSend.sending.streaming')!.initial).toBe('laneSend.sending.streaming.flowing');
  });

  it('labels a guarded transition with its guard', () => {
    expect(send.transitions.filter((t) => t.source === 'laneSend.verifying').map((t) => `${t.label} → ${t.target}`)).toEqual([
      'STATUS [statusOk] → laneSend.acknowledged',
      'STATUS → laneSend.failed',
      'STATUS_FAILED → laneSend.failed',
    ]);
  });

  it('keeps the event type a snapshot cause matches', () => {
    expect(chartOf(peerMachine).transitions.find((t) => t.label === 'after keepAlive')!.event).toBe('xstate.after.keepAlive.peer.connected.alive');
  });

  it('lists targetless transitions inside their state', () => {
    expect(chartOf(supervisorMachine).states.find((s) => s.id === 'node.supervising')!.internal.map((i) => i.label)).toContain('SPAWN [isNewOrStoppedChild]');
  });

  it('names negated guards', () => {
    expect(chartOf(peerMachine).transitions.find((t) => t.source === 'peer.connected.alive' && t.event === '')!.label).toBe('always [!hasControl]');
  });

  it.each([
    ['xstate.after.500.m.a', 'm.a', 'after 500ms'],
    ['xstate.done.actor.dial', 'm.a', 'done(dial)'],
    ['xstate.error.actor.*', 'm.a', 'error(*)'],
    ['', 'm.a', 'always'],
    ['PING', 'm.a', 'PING'],
  ])('labels %j as %s', (event, source, label) => {
    expect(eventLabel(event, source)).toBe(label);
  });

  it('draws root transitions from "any state" in Mermaid', () => {
    expect(toMermaid(send)).toContain('laneSend__any --> laneSend_failed : ABORT');
  });

  it('nests compound states in Mermaid', () => {
    expect(toMermaid(send)).toContain('  state "sending" as laneSend_sending {\n    [*] --> laneSend_sending_header');
  });

  it('draws compound states as DOT clusters', () => {
    expect(toDot(send)).toContain('subgraph "cluster_laneSend.sending.streaming" {');
  });

  it('attaches an edge into a compound state to its initial leaf, clipped to the cluster', () => {
    expect(toDot(send)).toContain('"laneSend.opening" -> "laneSend.sending.header" [label="SOURCE_OPENED", lhead="cluster_laneSend.sending"];');
  });
});
