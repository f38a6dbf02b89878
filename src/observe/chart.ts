/**
 * A machine's state chart as plain JSON — the one model behind the inspector's drawings
 * (`GET /machines`), the Mermaid/DOT export (`octopii machines`) and `docs/machines/`.
 * Read from the machine's own definition (`machine.root`, XState v5 StateNode), so a chart can
 * never drift from the code.
 *
 * Transitions with a target are edges; targetless ones (actions only, e.g. the supervisor's
 * SPAWN) are listed on their state as `internal` — the statechart habit of writing internal
 * transitions inside the state box. Delayed events read `after <delay>`, done/error events of
 * invoked actors `done(<id>)` / `error(<id>)`.
 */
import type { AnyStateMachine } from 'xstate';

export interface ChartState {
  /** Full state id (`laneSend.sending.streaming`); the root is the machine id. */
  id: string;
  /** Key under its parent (`streaming`); the root's key is the machine id. */
  key: string;
  parent: string | null;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** Initial child's id (compound states). */
  initial: string | null;
  children: string[];
  /** Ids of the actors the state invokes. */
  invokes: string[];
  /** Labels of targetless transitions handled here. */
  internal: ChartInternal[];
}

export interface ChartInternal {
  /** Event type as XState names it (`SPAWN`, `xstate.error.actor.*`). */
  event: string;
  /** Short label (`SPAWN [isNewOrStoppedChild]`). */
  label: string;
}

export interface ChartTransition {
  /** Unique within the chart (`t3`). */
  id: string;
  source: string;
  target: string;
  /** Event type as XState names it (matches the `cause` of a snapshot). */
  event: string;
  /** Short label (`STATUS [statusOk]`, `after keepAlive`, `done(dial)`, `always`). */
  label: string;
}

export interface MachineChart {
  /** Machine id (`laneSend`). */
  id: string;
  /** States, parents before children, in definition order. */
  states: ChartState[];
  transitions: ChartTransition[];
}

interface StateNodeLike {
  id: string;
  key: string;
  type: ChartState['type'];
  parent?: StateNodeLike;
  states: Record<string, StateNodeLike>;
  initial?: { target: readonly StateNodeLike[] };
  transitions: Map<string, readonly TransitionLike[]>;
  always?: readonly TransitionLike[];
  invoke: readonly { id: string }[];
}

interface TransitionLike {
  eventType: string;
  target?: readonly StateNodeLike[];
  guard?: unknown;
}

/** Readable name of a guard (`statusOk`, `!hasControl`, `inline`). */
export function guardName(guard: unknown): string | null {
  if (guard === undefined || guard === null) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const g = guard as { check?: unknown; guards?: unknown[]; name?: string };
    // xstate's not()/and()/or() are functions carrying their parts.
    const parts = (g as { guards?: unknown[] }).guards;
    const kind = (g as { check?: { name?: string } }).check?.name ?? '';
    if (Array.isArray(parts) && parts.length > 0) {
      const names = parts.map((p) => guardName(p) ?? '?');
      if (/not/i.test(kind) || names.length === 1) return `!${names[0]}`;
      return names.join(/or/i.test(kind) ? ' || ' : ' && ');
    }
    return g.name && g.name !== 'guard' ? g.name : 'inline';
  }
  if (typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') return (guard as { type: string }).type;
  return 'inline';
}

/** `xstate.after.keepAlive.peer.connected.alive` → `after keepAlive`; `xstate.done.actor.dial` → `done(dial)`. */
export function eventLabel(eventType: string, sourceId: string): string {
  if (eventType === '') return 'always';
  const after = /^xstate\.after\.(.+)$/.exec(eventType);
  if (after) {
    const rest = after[1]!;
    const delay = rest.endsWith(`.${sourceId}`) ? rest.slice(0, -sourceId.length - 1) : rest.split('.')[0]!;
    return `after ${/^\d+$/.test(delay) ? `${delay}ms` : delay}`;
  }
  const done = /^xstate\.(done|error)\.actor\.(.+)$/.exec(eventType);
  if (done) return `${done[1]}(${done[2]})`;
  const doneState = /^xstate\.done\.state\./.exec(eventType);
  if (doneState) return 'done';
  return eventType;
}

/** The chart of `machine`. */
export function chartOf(machine: AnyStateMachine): MachineChart {
  const states: ChartState[] = [];
  const transitions: ChartTransition[] = [];
  const visit = (node: StateNodeLike) => {
    const children = Object.values(node.states ?? {});
    const state: ChartState = {
      id: node.id,
      key: node.parent ? node.key : node.id,
      parent: node.parent?.id ?? null,
      type: node.type,
      initial: node.initial?.target[0]?.id ?? null,
      children: children.map((c) => c.id),
      invokes: (node.invoke ?? []).map((i) => i.id),
      internal: [],
    };
    states.push(state);
    const all: TransitionLike[] = [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
    // Same source, event and target: one edge whose label lists the guards.
    const merged = new Map<string, { event: string; target: string | null; guards: string[] }>();
    for (const t of all) {
      const targets = t.target?.length ? t.target.map((s) => s.id) : [null];
      for (const target of targets) {
        const key = `${t.eventType}\u0000${target ?? ''}`;
        let m = merged.get(key);
        if (!m) merged.set(key, (m = { event: t.eventType, target, guards: [] }));
        const g = guardName(t.guard);
        if (g && !m.guards.includes(g)) m.guards.push(g);
      }
    }
    for (const m of merged.values()) {
      const label = eventLabel(m.event, node.id) + (m.guards.length ? ` [${m.guards.join(' | ')}]` : '');
      if (m.target === null) state.internal.push({ event: m.event, label });
      else transitions.push({ id: `t${transitions.length}`, source: node.id, target: m.target, event: m.event, label });
    }
    for (const c of children) visit(c);
  };
  visit((machine as unknown as { root: StateNodeLike }).root);
  return { id: machine.id, states, transitions };
}
