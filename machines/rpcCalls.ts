/**
 * rpcCalls — the parent of a peer's outgoing call actors: one per peer, supervised by the node
 * as `peer:<id>/rpc` (temporary), so each call actor `peer:<id>/call#n` shows in
 * `node.inspect()` under its peer without passing through the supervisor (whose per-child
 * bookkeeping costs O(children) per spawn: measured 2 ms per call at 1,000 calls in flight,
 * bench/rpc-spawncost.ts).
 *
 * Events: `CALL { id, logic, input }` spawns the call actor; a call actor that reaches its final
 * state is stopped and forgotten (so the children are the calls in flight). Pure: no I/O.
 */
import { assign, enqueueActions, setup, stopChild, type AnyActorLogic } from 'xstate';

export type RpcCallsEvent = { type: 'CALL'; id: string; logic: AnyActorLogic; input: unknown } | { type: `xstate.done.actor.${string}`; actorId: string };

export const rpcCallsMachine = setup({
  types: { context: {} as { started: number }, events: {} as RpcCallsEvent },
  actions: {
    spawnCall: enqueueActions(({ event, enqueue }) => {
      if (event.type !== 'CALL') return;
      enqueue.spawnChild(event.logic as never, { id: event.id, input: event.input } as never);
    }),
  },
}).createMachine({
  id: 'rpcCalls',
  context: { started: 0 },
  initial: 'running',
  states: {
    running: {
      on: {
        CALL: { actions: ['spawnCall', assign({ started: ({ context }) => context.started + 1 })] },
        'xstate.done.actor.*': { actions: stopChild(({ event }) => (event as { actorId: string }).actorId) },
      },
    },
  },
});
