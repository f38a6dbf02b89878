/**
 * Inspection events as the inspector sees them: XState's `@xstate.actor`, `@xstate.snapshot`
 * and `@xstate.event` (xstate `packages/core/src/inspection.ts`) turned into small JSON records
 * — contexts and event payloads summarised server-side (sizes, never bytes; class instances by
 * their name), so a transfer's buffers or a connection object never cross the stream.
 *
 * Only machine actors are kept: the callback and promise actors a machine invokes are its
 * effects, not actors of the tree (the same rule as `node.inspect()`). `@xstate.action` and
 * `@xstate.microstep` are dropped.
 *
 *   node.onInspect((e) => { const r = toObserveEvent(e, node.nodeId, seq++); if (r) send(r); });
 */
import type { InspectionEvent, StateValue } from 'xstate';
import { stateString } from '../node/inspect.js';

/** Who an event is about. */
export interface ObservedActor {
  /** XState session id, unique within the node (`x:12`). */
  sid: string;
  /** The actor's id under its parent (`peer:12D3…/send#3`); the root supervisor is `node`. */
  id: string;
  /** Parent's id (`node` for the supervisor's children; null for the root). */
  parent: string | null;
  /** Machine id (`node`, `peer`, `laneSend`, `laneReceive`, …). */
  machine: string;
}

/** One record of the live stream (and of a flight recording). */
export type ObserveEvent =
  | { kind: 'actor'; seq: number; t: number; node: string; actor: ObservedActor }
  | {
      kind: 'snapshot';
      seq: number;
      t: number;
      node: string;
      actor: ObservedActor;
      /** Dotted state (`sending.streaming.flowing`; parallel regions joined with `,`). */
      state: string;
      status: 'active' | 'done' | 'error' | 'stopped';
      /** Type of the event that caused this snapshot. */
      cause: string;
      context: Record<string, unknown>;
      /** Final output, summarised (done actors only). */
      output?: unknown;
    }
  | {
      kind: 'event';
      seq: number;
      t: number;
      node: string;
      actor: ObservedActor;
      /** Session id of the sender (null when sent from outside any actor). */
      source: string | null;
      type: string;
      /** The event, summarised. */
      event: unknown;
    };

/** Limits of {@link summarize}. */
const MAX_STRING = 256;
const MAX_ITEMS = 8;
const MAX_KEYS = 16;

/**
 * A JSON-safe summary of `value`: primitives as they are (strings cut at 256 chars), byte
 * arrays as `{ bytes: n }`, arrays of more than 8 items as `{ items: n }`, objects of more than
 * 16 keys as `{ keys: n }`, class instances as `{ type: 'ClassName' }`, functions left out;
 * nesting deeper than `depth` levels is summarised the same way.
 */
export function summarize(value: unknown, depth = 2): unknown {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
      return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (ArrayBuffer.isView(value)) return { bytes: value.byteLength };
  if (value instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer)) return { bytes: value.byteLength };
  if (Array.isArray(value)) {
    if (depth <= 0 || value.length > MAX_ITEMS) return { items: value.length };
    return value.map((v) => summarize(v, depth - 1) ?? null);
  }
  const proto = Object.getPrototypeOf(value);
  if (value instanceof Error) return { type: value.name, message: summarize(value.message) };
  if (proto !== Object.prototype && proto !== null) {
    if (value instanceof Map || value instanceof Set) return { type: proto.constructor?.name ?? 'object', size: value.size };
    return { type: proto?.constructor?.name ?? 'object' };
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (depth <= 0 || entries.length > MAX_KEYS) return { keys: entries.length };
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) {
    const s = summarize(v, depth - 1);
    if (s !== undefined) out[k] = s;
  }
  return out;
}

interface RefInternals {
  sessionId: string;
  id: string;
  logic?: { id?: string; root?: unknown };
  _parent?: { id: string; _parent?: unknown };
}

/** The machine id of an actor's logic, or null when its logic is not a state machine. */
export function machineIdOf(ref: object): string | null {
  const logic = (ref as unknown as RefInternals).logic;
  return logic && logic.root !== undefined && typeof logic.id === 'string' ? logic.id : null;
}

/** Who `ref` is (null for non-machine actors). */
export function observedActor(ref: object): ObservedActor | null {
  const machine = machineIdOf(ref);
  if (machine === null) return null;
  const r = ref as unknown as RefInternals;
  const p = r._parent;
  if (!p) return { sid: r.sessionId, id: 'node', parent: null, machine };
  return { sid: r.sessionId, id: r.id, parent: p._parent ? p.id : 'node', machine };
}

/**
 * The record for one inspection event, or null for events the inspector does not show
 * (non-machine actors, actions, microsteps). `t` is wall-clock ms (Date.now()).
 */
export function toObserveEvent(e: InspectionEvent, node: string, seq: number, t = Date.now()): ObserveEvent | null {
  if (e.type !== '@xstate.actor' && e.type !== '@xstate.snapshot' && e.type !== '@xstate.event') return null;
  const actor = observedActor(e.actorRef);
  if (!actor) return null;
  if (e.type === '@xstate.actor') return { kind: 'actor', seq, t, node, actor };
  if (e.type === '@xstate.event') {
    const source = e.sourceRef ? ((e.sourceRef as unknown as RefInternals).sessionId ?? null) : null;
    return { kind: 'event', seq, t, node, actor, source, type: e.event.type, event: summarize(e.event, 2) };
  }
  const snap = e.snapshot as { value?: StateValue; status: 'active' | 'done' | 'error' | 'stopped'; context?: unknown; output?: unknown };
  const rec: ObserveEvent = {
    kind: 'snapshot',
    seq,
    t,
    node,
    actor,
    state: snap.value !== undefined ? stateString(snap.value) : snap.status,
    status: snap.status,
    cause: e.event.type,
    context: (summarize(snap.context ?? {}, 2) ?? {}) as Record<string, unknown>,
  };
  if (snap.status === 'done' && snap.output !== undefined) rec.output = summarize(snap.output, 2);
  return rec;
}
