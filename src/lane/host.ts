/**
 * Where a lane machine runs. By default a lane actor is a root actor of its own; a node passes
 * `spawn` so the actor runs as a child of its supervisor (machines/node.ts) and shows up in
 * `node.inspect()` (DESIGN.md §1: "transfer actors — one per send / receive").
 */
import { createActor, toPromise, type AnyActorLogic, type AnyActorRef, type Actor, type OutputFrom, type StateValue } from 'xstate';
import { stateString } from './util.js';

/** Spawns `logic` (with `input`) somewhere and returns the started actor. */
export type LaneSpawn = (logic: AnyActorLogic, input?: unknown) => AnyActorRef;

/**
 * An actor for `logic`: spawned through `spawn` (already started), or a new root actor that the
 * caller must `start()`.
 */
export function hostLaneActor<L extends AnyActorLogic>(logic: L, input: unknown, spawn: LaneSpawn | undefined): Actor<L> {
  if (spawn) return spawn(logic, input) as unknown as Actor<L>;
  return createActor(logic, input === undefined ? undefined : ({ input } as never)) as Actor<L>;
}

/**
 * Reports `actor`'s phase changes to `onState` (dotted state value, once per change), starts it
 * unless `spawn` already did, sends it START, and returns the promise of its output.
 */
export function startLaneActor<L extends AnyActorLogic>(
  actor: Actor<L>,
  options: { spawn?: LaneSpawn; onState?: (state: string) => void },
): Promise<OutputFrom<L>> {
  const { onState } = options;
  if (onState) {
    let last = '';
    actor.subscribe({
      next: (snap) => {
        const s = stateString((snap as { value: StateValue }).value);
        if (s !== last) {
          last = s;
          onState(s);
        }
      },
      error: () => undefined,
    });
  }
  const done = toPromise(actor);
  if (!options.spawn) actor.start();
  actor.send({ type: 'START' } as never);
  return done;
}
