/**
 * The node actor as an OTP-style supervisor (DESIGN.md §1).
 *
 * It spawns children (connection, transfer, rpc-call … actors: any XState ActorLogic), watches
 * them, and restarts a child that crashes — one_for_one: only that child — after an
 * exponential backoff (see ./backoff.ts). When more than `intensity` restarts happen within
 * `periodMs` it gives up: it stops every child and ends in the final state `escalated` with
 * output `{ status: 'failed', error: { code: 'ESCALATED', childId, restarts, message } }`, which
 * its own supervisor reads as an abnormal exit.
 *
 * Source of the ideas: Erlang/OTP `supervisor` (restart strategies, `permanent | transient |
 * temporary` children, restart intensity/period — https://www.erlang.org/doc/system/sup_princ),
 * with the per-restart backoff that OTP leaves to the child added here.
 *
 * What counts as a crash ("abnormal exit"):
 *  - the child errors (the parent receives `xstate.error.actor.<id>`), or
 *  - the child completes (`xstate.done.actor.<id>`) with output `{ status: 'failed' }` — the
 *    convention of our machines' final `failed` states (connection, lane, a nested supervisor).
 * Any other completion is a normal exit.
 *
 * Restart policies (OTP): `permanent` children are always restarted, `transient` ones only
 * after an abnormal exit, `temporary` ones never.
 *
 * Time: restart windows are kept with delayed events (`supervisor.expire` after `periodMs`), so
 * the machine stays pure and runs under XState's SimulatedClock.
 *
 * State chart:
 *
 *   supervising ──STOP──────────────────────────────▶ stopped   (final, children stopped)
 *        │ child exits, restart intensity exceeded
 *        └─────────────────────────────────────────▶ escalated (final, children stopped)
 *
 * Inside `supervising`, each child's own status (running | restarting | stopped) lives in
 * `context.children`, because the set of children is dynamic. A `temporary` child that has
 * ended (it is never restarted: OTP deletes such a child from the supervisor) moves to
 * `context.finished`, the last `keepStopped` kept for inspection: `children` stays as small as
 * what is alive, so a node running an actor per transfer, call or fetched blob copies a handful
 * of records per event rather than a hundred (with 100 kept in `children`, spawning and ending a
 * temporary child cost ~1 ms of object copies; {@link childInfos} gives both as one record).
 */
import { assign, enqueueActions, not, raise, setup, type AnyActorLogic, type AnyActorRef, type DoneActorEvent, type ErrorActorEvent } from 'xstate';
import { toErrorInfo, type ErrorInfo } from '../src/errors.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffConfig } from './backoff.js';

export type RestartPolicy = 'permanent' | 'transient' | 'temporary';
export type ChildStatus = 'running' | 'restarting' | 'stopped';

/** What to run under supervision. `input` is passed to the logic at every (re)start. */
export interface ChildSpec {
  id: string;
  logic: AnyActorLogic;
  input?: unknown;
  /** Default `permanent` (OTP's default). */
  restart?: RestartPolicy;
}

/** Inspectable state of one child. */
export interface ChildInfo {
  id: string;
  restart: RestartPolicy;
  status: ChildStatus;
  /** Restarts since the child was first spawned. */
  restarts: number;
  /** Restarts of this child within the last `periodMs` (drives its backoff). */
  recentRestarts: number;
  /** Delay of the pending restart in ms, while `status` is `restarting`. */
  restartDelayMs: number | null;
  lastError: ErrorInfo | null;
  /** How the child last ended, if it did. */
  lastExit: 'normal' | 'abnormal' | null;
}

export interface EscalationInfo extends ErrorInfo {
  code: 'ESCALATED';
  childId: string;
  restarts: number;
}

export interface SupervisorInput {
  /** Most restarts allowed within `periodMs` (default 3); one more escalates. */
  intensity?: number;
  /** Window of the restart intensity in ms (default 5,000). */
  periodMs?: number;
  /** Backoff between a crash and the restart (default 100 ms doubling up to 5,000 ms). */
  backoff?: Partial<BackoffConfig>;
  /** Children spawned at start, in order. */
  children?: ChildSpec[];
  /**
   * Stopped children kept for inspection (default 100); older ones are forgotten, so a node
   * that runs a transfer actor per transfer does not grow without bound.
   */
  keepStopped?: number;
}

export interface SupervisorContext {
  intensity: number;
  periodMs: number;
  backoff: BackoffConfig;
  children: Record<string, ChildInfo>;
  /** Ended `temporary` children, oldest first, at most `keepStopped`. */
  finished: ChildInfo[];
  /** The logic and input of each child in `children`, for restarts. */
  specs: Record<string, ChildSpec>;
  /** Restarts of all children within the last `periodMs`. */
  recentRestarts: number;
  escalation: EscalationInfo | null;
  keepStopped: number;
}

export type SupervisorEvent =
  | ({ type: 'SPAWN' } & ChildSpec)
  | { type: 'STOP_CHILD'; id: string }
  | { type: 'STOP' }
  | { type: 'supervisor.restart'; id: string }
  | { type: 'supervisor.expire'; id: string }
  | ErrorActorEvent
  | DoneActorEvent;

export type SupervisorOutput = { status: 'stopped' } | { status: 'failed'; error: EscalationInfo };

type ExitEvent = ErrorActorEvent | DoneActorEvent;

const isErrorEvent = (e: ExitEvent): e is ErrorActorEvent => e.type.startsWith('xstate.error.actor.');

/** An exit is abnormal when the child errored or completed with `{ status: 'failed' }`. */
export function isAbnormalExit(e: ExitEvent): boolean {
  if (isErrorEvent(e)) return true;
  const out = (e as DoneActorEvent).output as { status?: unknown } | undefined;
  return !!out && typeof out === 'object' && out.status === 'failed';
}

function exitError(e: ExitEvent): ErrorInfo | null {
  if (isErrorEvent(e)) return toErrorInfo(e.error);
  const out = (e as DoneActorEvent).output as { status?: unknown; error?: unknown } | undefined;
  if (out && typeof out === 'object' && out.status === 'failed') {
    return out.error ? toErrorInfo(out.error) : { code: 'UNKNOWN', message: 'child ended in failed' };
  }
  return null;
}

/**
 * Options for `spawnChild` with a dynamic logic. XState's types only allow an `id` with logic
 * declared in `setup({ actors })`; at run time the id is honoured for any logic, and the
 * supervisor needs exactly that (children arrive at run time), hence the cast.
 */
const spawnOptions = (spec: ChildSpec) => ({ id: spec.id, input: spec.input }) as { input?: unknown };

/**
 * The running actor of child `id` in a supervisor snapshot, or undefined (stopped, restarting,
 * unknown). Children are spawned at run time, so XState's snapshot type does not list them.
 */
export function supervisedChild(snapshot: { children: object }, id: string): AnyActorRef | undefined {
  return (snapshot.children as Record<string, AnyActorRef | undefined>)[id];
}

const restartTimerId = (id: string) => `supervisor.restart:${id}`;

/** Every child a supervisor context knows — alive, stopped, and the kept finished temporary ones — by id. */
export function childInfos(context: Pick<SupervisorContext, 'children' | 'finished'>): Record<string, ChildInfo> {
  const out: Record<string, ChildInfo> = {};
  for (const c of context.finished) out[c.id] = c;
  return Object.assign(out, context.children);
}

/**
 * `info` (now stopped) recorded: a temporary child leaves `children` and `specs` for
 * `finished` (the last `keepStopped`), any other stays in `children`.
 */
function retire(context: SupervisorContext, info: ChildInfo): Pick<SupervisorContext, 'children' | 'specs' | 'finished'> {
  if (info.restart !== 'temporary') return { children: { ...context.children, [info.id]: info }, specs: context.specs, finished: context.finished };
  const children = { ...context.children };
  const specs = { ...context.specs };
  delete children[info.id];
  delete specs[info.id];
  const finished = context.finished.length >= context.keepStopped ? context.finished.slice(context.finished.length - context.keepStopped + 1) : context.finished.slice();
  if (context.keepStopped > 0) finished.push(info);
  return { children, specs, finished };
}

const newChild = (spec: ChildSpec): ChildInfo => ({
  id: spec.id,
  restart: spec.restart ?? 'permanent',
  status: 'running',
  restarts: 0,
  recentRestarts: 0,
  restartDelayMs: null,
  lastError: null,
  lastExit: null,
});

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    input: {} as SupervisorInput | undefined,
    output: {} as SupervisorOutput,
  },
  guards: {
    /** The exit comes from a child we consider running (not one we stopped on purpose). */
    isRunningChild: ({ context, event }) =>
      context.children[(event as ExitEvent).actorId]?.status === 'running',
    wantsRestart: ({ context, event }) => {
      const e = event as ExitEvent;
      const policy = context.children[e.actorId]!.restart;
      return policy === 'permanent' || (policy === 'transient' && isAbnormalExit(e));
    },
    restartIntensityExceeded: ({ context }) => context.recentRestarts + 1 > context.intensity,
    isNewOrStoppedChild: ({ context, event }) => {
      const id = (event as { id: string }).id;
      return context.children[id] === undefined || context.children[id]!.status === 'stopped';
    },
    isRestarting: ({ context, event }) =>
      context.children[(event as { id: string }).id]?.status === 'restarting',
    isKnownChild: ({ context, event }) => context.children[(event as { id: string }).id] !== undefined,
  },
  actions: {
    spawnInitialChildren: enqueueActions(({ context, enqueue }) => {
      for (const spec of Object.values(context.specs)) {
        enqueue.spawnChild(spec.logic, spawnOptions(spec));
      }
    }),
    spawnNewChild: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'SPAWN') return;
      const spec: ChildSpec = { id: event.id, logic: event.logic, input: event.input, restart: event.restart ?? 'permanent' };
      const previous = context.children[spec.id];
      enqueue.assign({
        specs: { ...context.specs, [spec.id]: spec },
        // A respawned (previously stopped) child keeps its restart history.
        children: { ...context.children, [spec.id]: { ...newChild(spec), restarts: previous?.restarts ?? 0 } },
      });
      enqueue.spawnChild(spec.logic, spawnOptions(spec));
    }),
    /** Records how the child ended; the child is `stopped` until a restart says otherwise. */
    recordExit: assign(({ context, event }) => {
      const e = event as ExitEvent;
      const child = context.children[e.actorId]!;
      const abnormal = isAbnormalExit(e);
      return retire(context, {
        ...child,
        status: 'stopped' as const,
        lastExit: abnormal ? ('abnormal' as const) : ('normal' as const),
        lastError: abnormal ? exitError(e) : child.lastError,
      });
    }),
    /**
     * Drops the exited child's actor from XState's own `children` (XState keeps a completed or
     * crashed child there, with its last snapshot, until it is stopped): without this a node that
     * runs an actor per transfer or per fetched blob held every finished one — memory, and an
     * O(children) copy on every spawn and stop (7,830 blob fetches: RSS 1 GB, 4.6 s of CPU in
     * XState's resolveStop). Our record of it stays in `context.children` until pruned.
     */
    releaseExited: enqueueActions(({ event, enqueue }) => {
      enqueue.stopChild((event as ExitEvent).actorId);
    }),
    /** Forgets the oldest stopped (not temporary: see retire) children beyond `keepStopped` (spawn order). */
    pruneStopped: assign(({ context }) => {
      const stopped = Object.values(context.children).filter((c) => c.status === 'stopped');
      const excess = stopped.length - context.keepStopped;
      if (excess <= 0) return {};
      const children = { ...context.children };
      const specs = { ...context.specs };
      for (const c of stopped.slice(0, excess)) {
        delete children[c.id];
        delete specs[c.id];
      }
      return { children, specs };
    }),
    /** Counts the restart and schedules it after the child's backoff delay. */
    scheduleRestart: enqueueActions(({ context, event, enqueue }) => {
      const id = (event as ExitEvent).actorId;
      const child = context.children[id]!;
      const delay = backoffDelay(child.recentRestarts + 1, context.backoff);
      enqueue.assign({
        recentRestarts: context.recentRestarts + 1,
        children: {
          ...context.children,
          [id]: {
            ...child,
            status: 'restarting',
            restarts: child.restarts + 1,
            recentRestarts: child.recentRestarts + 1,
            restartDelayMs: delay,
          },
        },
      });
      enqueue(raise({ type: 'supervisor.restart', id }, { id: restartTimerId(id), delay }));
      enqueue(raise({ type: 'supervisor.expire', id }, { delay: context.periodMs }));
    }),
    restartChild: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'supervisor.restart') return;
      const spec = context.specs[event.id]!;
      enqueue.stopChild(spec.id); // the crashed instance, if XState still lists it
      enqueue.spawnChild(spec.logic, spawnOptions(spec));
      enqueue.assign({
        children: {
          ...context.children,
          [spec.id]: { ...context.children[spec.id]!, status: 'running', restartDelayMs: null },
        },
      });
    }),
    /** A restart leaves the intensity window `periodMs` after it happened. */
    expireRestart: assign(({ context, event }) => {
      if (event.type !== 'supervisor.expire') return {};
      const child = context.children[event.id];
      return {
        recentRestarts: Math.max(0, context.recentRestarts - 1),
        children: child
          ? { ...context.children, [event.id]: { ...child, recentRestarts: Math.max(0, child.recentRestarts - 1) } }
          : context.children,
      };
    }),
    stopOneChild: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'STOP_CHILD') return;
      const child = context.children[event.id]!;
      enqueue.cancel(restartTimerId(event.id));
      enqueue.stopChild(event.id);
      enqueue.assign(retire(context, { ...child, status: 'stopped', restartDelayMs: null }));
    }),
    stopAllChildren: enqueueActions(({ context, enqueue }) => {
      const children: Record<string, ChildInfo> = {};
      for (const child of Object.values(context.children)) {
        enqueue.cancel(restartTimerId(child.id));
        enqueue.stopChild(child.id);
        children[child.id] = { ...child, status: 'stopped', restartDelayMs: null };
      }
      enqueue.assign({ children });
    }),
    recordEscalation: assign({
      escalation: ({ context, event }) => {
        const id = (event as ExitEvent).actorId;
        const restarts = context.children[id]!.restarts;
        return {
          code: 'ESCALATED' as const,
          childId: id,
          restarts,
          message:
            `child "${id}" exited abnormally after ${restarts} restart(s); more than ${context.intensity} ` +
            `restarts within ${context.periodMs} ms`,
        };
      },
    }),
  },
}).createMachine({
  id: 'node',
  context: ({ input }) => {
    const specs: Record<string, ChildSpec> = {};
    const children: Record<string, ChildInfo> = {};
    for (const spec of input?.children ?? []) {
      specs[spec.id] = spec;
      children[spec.id] = newChild(spec);
    }
    return {
      intensity: input?.intensity ?? 3,
      periodMs: input?.periodMs ?? 5_000,
      backoff: { ...DEFAULT_BACKOFF, ...input?.backoff },
      children,
      finished: [],
      specs,
      recentRestarts: 0,
      escalation: null,
      keepStopped: input?.keepStopped ?? 100,
    };
  },
  initial: 'supervising',
  // Reached in `escalated` or `stopped` (the only final states).
  output: ({ context }): SupervisorOutput =>
    context.escalation ? { status: 'failed', error: context.escalation } : { status: 'stopped' },
  states: {
    supervising: {
      entry: 'spawnInitialChildren',
      on: {
        SPAWN: { guard: 'isNewOrStoppedChild', actions: 'spawnNewChild' },
        STOP_CHILD: { guard: 'isKnownChild', actions: ['stopOneChild', 'pruneStopped'] },
        // A child ended: by crash (error) or by completing. Decide, in order:
        'xstate.error.actor.*': [
          { guard: not('isRunningChild') }, // stopped on purpose, or unknown: ignore
          { guard: not('wantsRestart'), actions: ['recordExit', 'releaseExited', 'pruneStopped'] },
          { guard: 'restartIntensityExceeded', target: 'escalated', actions: ['recordExit', 'recordEscalation'] },
          { actions: ['recordExit', 'scheduleRestart'] },
        ],
        'xstate.done.actor.*': [
          { guard: not('isRunningChild') },
          { guard: not('wantsRestart'), actions: ['recordExit', 'releaseExited', 'pruneStopped'] },
          { guard: 'restartIntensityExceeded', target: 'escalated', actions: ['recordExit', 'recordEscalation'] },
          { actions: ['recordExit', 'scheduleRestart'] },
        ],
        'supervisor.restart': { guard: 'isRestarting', actions: 'restartChild' },
        'supervisor.expire': { actions: 'expireRestart' },
        STOP: 'stopped',
      },
    },
    escalated: {
      type: 'final',
      entry: 'stopAllChildren',
    },
    stopped: {
      type: 'final',
      entry: 'stopAllChildren',
    },
  },
});
