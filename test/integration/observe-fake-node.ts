/**
 * A stand-in node for observe tests that need no QUIC: a real XState actor (a counter machine
 * whose context carries a 200-char note) inspected like a node's supervisor.
 */
import { assign, createActor, setup, type InspectionEvent } from 'xstate';
import type { ObservedNode } from '../../src/observe/server.js';

export const tickMachine = setup({
  types: { context: {} as { n: number; note: string }, events: {} as { type: 'TICK' } },
}).createMachine({
  id: 'tick',
  context: { n: 0, note: 'x'.repeat(200) },
  initial: 'even',
  states: {
    even: { on: { TICK: { target: 'odd', actions: assign({ n: ({ context }) => context.n + 1 }) } } },
    odd: { on: { TICK: { target: 'even', actions: assign({ n: ({ context }) => context.n + 1 }) } } },
  },
});

export function fakeNode(): ObservedNode & { tick(times: number): void; stop(): void } {
  const listeners = new Set<(e: InspectionEvent) => void>();
  const actor = createActor(tickMachine, { inspect: (e) => listeners.forEach((l) => l(e)) });
  actor.start();
  return {
    nodeId: '12D3KooWFakeNodeForObserveTestsFakeNodeForObserveTests',
    address: '127.0.0.1:1',
    transportKind: 'memory',
    onInspect: (l) => (listeners.add(l), () => listeners.delete(l)),
    onPeer: () => () => undefined,
    peers: () => [],
    inspect: () => ({ tree: { id: 'node', machine: 'tick', state: 'even', status: 'active', summary: {}, children: [] } }),
    tick(times) {
      for (let i = 0; i < times; i++) actor.send({ type: 'TICK' });
    },
    stop: () => actor.stop(),
  };
}
