/**
 * Where a lane machine runs. By default a lane actor is a root actor of its own; a node passes
 * `spawn` so the actor runs as a child of its supervisor (machines/node.ts) and shows up in
 * `node.inspect()` (DESIGN.md §1: "transfer actors — one per send / receive").
 */
import { createActor, type AnyActorLogic, type AnyActorRef, type Actor } from 'xstate';

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
