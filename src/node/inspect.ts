/**
 * `node.inspect()`: the tree of every live actor of a node (supervisor → peers → transfers),
 * each with its machine, state value and a small context summary — sizes, never bytes, so a
 * large context stays cheap to show (the live inspector builds on this).
 */
import type { AnyActorRef, StateValue } from 'xstate';
import type { PeerContext } from '../../machines/peer.js';
import type { PeerInfo } from './types.js';

/** One actor in the tree. */
export interface ActorNode {
  /** The actor's id under its parent (e.g. `peer:12D3KooW…`, `peer:12D3KooW…/send#3`). */
  id: string;
  /** Machine id (`node`, `peer`, `laneSend`, `laneReceive`, …) or `actor` for non-machine logic. */
  machine: string;
  /** Dotted state value (`connected.alive`), or the actor status for non-machine logic. */
  state: string;
  status: 'active' | 'done' | 'error' | 'stopped';
  /** Small, serialisable context summary. */
  summary: Record<string, unknown>;
  children: ActorNode[];
}

/** `{ a: { b: 'c' } }` → `a.b.c`; parallel states joined with `,`. */
export function stateString(value: StateValue): string {
  if (typeof value === 'string') return value;
  return Object.entries(value)
    .map(([k, v]) => (v === undefined || (typeof v === 'object' && Object.keys(v).length === 0) ? k : `${k}.${stateString(v as StateValue)}`))
    .join(',');
}

/** Primitive fields as they are; arrays and objects as their size; byte arrays as `{ bytes }`. */
export function summarize(context: unknown, keep?: (key: string, value: unknown) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!context || typeof context !== 'object') return out;
  for (const [k, v] of Object.entries(context)) {
    const kept = keep?.(k, v);
    if (kept !== undefined) {
      out[k] = kept;
      continue;
    }
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (v instanceof Uint8Array) out[k] = { bytes: v.byteLength };
    else if (Array.isArray(v)) out[k] = { items: v.length };
    else if (typeof v === 'object' && isPlain(v)) out[k] = smallObject(v as Record<string, unknown>);
  }
  return out;
}

function isPlain(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function smallObject(o: Record<string, unknown>): unknown {
  const entries = Object.entries(o);
  if (entries.length <= 6 && entries.every(([, x]) => x === null || ['string', 'number', 'boolean'].includes(typeof x))) return o;
  return { keys: entries.length };
}

/** Peer contexts: the link becomes what it says about the peer. */
const peerKeep = (key: string, value: unknown): unknown => {
  if (key === 'link' || key === 'spare') {
    if (!value) return null;
    const l = value as { dialled: boolean; remoteNodeId: string | null; kinds: readonly string[] };
    return { dialled: l.dialled, remoteNodeId: l.remoteNodeId, kinds: [...l.kinds] };
  }
  return undefined;
};

/** The tree under `ref` (its own node included). */
export function actorTree(id: string, ref: AnyActorRef): ActorNode {
  const snap = ref.getSnapshot() as {
    value?: StateValue;
    status: ActorNode['status'];
    context?: unknown;
    children?: Record<string, AnyActorRef | undefined>;
    machine?: { id: string };
  };
  const machine = snap.machine?.id ?? 'actor';
  const node: ActorNode = {
    id,
    machine,
    state: snap.value !== undefined ? stateString(snap.value) : snap.status,
    status: snap.status,
    summary: summarize(snap.context, machine === 'peer' ? peerKeep : machine === 'node' ? () => null : undefined),
    children: [],
  };
  for (const [childId, child] of Object.entries(snap.children ?? {})) {
    // Machines only: invoked promise/callback actors are a machine's effects, not actors of the tree.
    if (child && (child.getSnapshot() as { machine?: unknown }).machine) node.children.push(actorTree(childId, child));
  }
  return node;
}

/**
 * Regroups a supervisor's flat children: an actor whose id is `<peer id>/<name>` goes under
 * that peer (transfers and calls run under the node's supervisor but belong to a peer).
 */
export function groupByPeer(root: ActorNode): ActorNode {
  const byId = new Map(root.children.map((c) => [c.id, c]));
  const top: ActorNode[] = [];
  for (const c of root.children) {
    const slash = c.id.indexOf('/');
    const parent = slash > 0 ? byId.get(c.id.slice(0, slash)) : undefined;
    if (parent) parent.children.push(c);
    else top.push(c);
  }
  return { ...root, children: top };
}

/** Whether a supervisor child id names a peer actor (`peer:<nodeId>`, `addr:<host:port>`, `v1:<host:port>`). */
export const isPeerId = (id: string): boolean => !id.includes('/') && (id.startsWith('peer:') || id.startsWith('addr:') || id.startsWith('v1:'));

/** `node.peers()`: each running peer actor's record, by id; `transfers(id)` counts its transfers in flight. */
export function peerInfos(ids: readonly string[], refOf: (id: string) => AnyActorRef | undefined, transfers: (id: string) => number): PeerInfo[] {
  const out: PeerInfo[] = [];
  for (const id of ids) {
    const ref = refOf(id);
    if (!ref) continue;
    const s = ref.getSnapshot() as { value: Parameters<typeof stateString>[0]; context: PeerContext };
    const c = s.context;
    out.push({
      id,
      nodeId: c.link?.remoteNodeId ?? c.nodeId,
      address: c.address,
      protocol: c.protocol,
      state: stateString(s.value),
      connected: c.link !== null,
      kinds: c.link ? [...c.link.kinds] : [],
      connects: c.connects,
      losses: c.losses,
      lastError: c.lastError,
      transfers: transfers(id),
    });
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}
