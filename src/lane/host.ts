/**
 * Where a lane machine runs. By default a lane actor is a root actor of its own; a node passes
 * `spawn` so the actor runs as a child of its supervisor (machines/node.ts) and shows up in
 * `node.inspect()` (DESIGN.md §1: "transfer actors — one per send / receive").
 */
import { createActor, toPromise, type AnyActorLogic, type AnyActorRef, type Actor, type OutputFrom, type StateValue } from 'xstate';
import type { Clock } from '../runtime/clock.js';
import { stateString } from './util.js';

/** Spawns `logic` (with `input`) somewhere and returns the started actor. */
export type LaneSpawn = (logic: AnyActorLogic, input?: unknown) => AnyActorRef;

/**
 * An actor for `logic`: spawned through `spawn` (already started; timers on its system's
 * clock), or a new root actor on `clock` (default: the system clock) that the caller must `start()`.
 */
export function hostLaneActor<L extends AnyActorLogic>(logic: L, input: unknown, options: { spawn?: LaneSpawn; clock?: Clock }): Actor<L> {
  if (options.spawn) return options.spawn(logic, input) as unknown as Actor<L>;
  return createActor(logic, { input, ...(options.clock ? { clock: options.clock } : {}) } as never) as Actor<L>;
}

/**
 * Reports `actor`'s phase changes to `onState` (dotted state value, once per change) and its
 * `context.bytes` changes to `onProgress`, starts it unless `spawn` already did, sends it
 * START, and returns the promise of its output (undefined if it was stopped from outside).
 */
export function startLaneActor<L extends AnyActorLogic>(
  actor: Actor<L>,
  options: { spawn?: LaneSpawn; onState?: (state: string) => void; onProgress?: (bytes: number) => void },
): Promise<OutputFrom<L> | undefined> {
  const { onState, onProgress } = options;
  if (onState || onProgress) {
    let last = '';
    let bytes = 0;
    actor.subscribe({
      next: (snap) => {
        const s = stateString((snap as { value: StateValue }).value);
        if (onState && s !== last) {
          last = s;
          onState(s);
        }
        const b = (snap as { context?: { bytes?: number } }).context?.bytes ?? 0;
        if (onProgress && b !== bytes) {
          bytes = b;
          onProgress(b);
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
