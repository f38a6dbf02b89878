/**
 * Chart mutation: enumerate the elements of an XState v5 machine config and build the config with
 * exactly one of them removed. Pure functions on plain config objects — no xstate import — so the
 * same code runs in the runner (to list variants) and inside vitest (to apply one).
 *
 * Elements:
 *  - every state node except the root, nested ones included, named by its key path
 *    (`sending.streaming.paused`);
 *  - every transition candidate: each candidate of each `on` event (an array counts per
 *    candidate), of each `after` delay, of `always`, of a state's own `onDone`, and of each
 *    invoke's `onDone` / `onError`. Targetless candidates (actions only, or `{}`) count too:
 *    removing one lets the event through to an ancestor's handler, or drops it.
 *
 * Removing a state keeps the machine buildable:
 *  - the node goes, with its subtree;
 *  - every remaining transition candidate with a target in the removed subtree goes too;
 *  - if it was its parent's `initial`, the next sibling (or, for the last one, the previous) is;
 *  - a compound parent left without children is removed in turn (reported in `notes`).
 * Removing a transition deletes that candidate; an `on` / `after` key with no candidate left is
 * deleted (the event then bubbles to an ancestor's handler, or is ignored).
 *
 * Targets resolve as XState does: `'#id.a.b'` (id = the machine id or a state's explicit `id`,
 * then a child path), `'.a.b'` (a descendant of the transition's own state; on the root, too), and
 * `'a.b'` (a descendant of the parent: a sibling).
 */

/** Where a transition candidate lives in its state node. */
export type Section = 'on' | 'after' | 'always' | 'onDone' | 'invoke.onDone' | 'invoke.onError';

export type Mutant =
  /** No change: the baseline run, proving the hook is in place and the tests pass unmutated. */
  | { machine: string; kind: 'none' }
  | { machine: string; kind: 'state'; path: string }
  | {
      machine: string;
      kind: 'transition';
      /** Key path of the state that holds it; '' for the root. */
      state: string;
      section: Section;
      /** Event type (`on`) or delay (`after`). */
      key?: string;
      /** Index of the invoke (for `invoke.*`), 0 for a single invoke object. */
      invoke?: number;
      /** Index of the candidate, 0 for a single (non-array) candidate. */
      index: number;
    };

export interface Variant {
  mutant: Mutant;
  /** Human-readable name, e.g. `verifying on STATUS[0] (statusOk) → acknowledged`. */
  name: string;
}

export interface Applied {
  config: Record<string, unknown>;
  /** Collateral changes made to keep the machine buildable. */
  notes: string[];
}

type Obj = Record<string, unknown>;

const isPlain = (v: unknown): v is Obj => {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/** Deep copy of plain objects and arrays; functions, class instances and other values are shared. */
export function cloneConfig<T>(value: T): T {
  if (Array.isArray(value)) return value.map(cloneConfig) as T;
  if (isPlain(value)) {
    const out: Obj = {};
    for (const [k, v] of Object.entries(value)) out[k] = cloneConfig(v);
    return out as T;
  }
  return value;
}

const states = (node: Obj): Obj | undefined => (isPlain(node.states) ? (node.states as Obj) : undefined);

/** Candidates of one transition slot, as a list (a single candidate is a list of one). */
function candidates(slot: unknown): unknown[] {
  if (slot === undefined) return [];
  return Array.isArray(slot) ? slot : [slot];
}

/** Every transition slot of a node: section, key, invoke index, the slot's value and a setter. */
interface Slot {
  section: Section;
  key?: string;
  invoke?: number;
  value: unknown;
  set(next: unknown[] | undefined): void;
}

function slotsOf(node: Obj): Slot[] {
  const out: Slot[] = [];
  /** Writes back a candidate list, keeping a single candidate in its original (non-array) form. */
  const writer = (holder: Obj, prop: string, wasArray: boolean) => (next: unknown[] | undefined) => {
    if (!next || next.length === 0) delete holder[prop];
    else holder[prop] = wasArray ? next : next[0];
  };
  for (const section of ['on', 'after'] as const) {
    const map = node[section];
    if (!isPlain(map)) continue;
    for (const key of Object.keys(map)) {
      out.push({ section, key, value: map[key], set: writer(map, key, Array.isArray(map[key])) });
    }
  }
  if (node.always !== undefined) out.push({ section: 'always', value: node.always, set: writer(node, 'always', Array.isArray(node.always)) });
  if (node.onDone !== undefined) out.push({ section: 'onDone', value: node.onDone, set: writer(node, 'onDone', Array.isArray(node.onDone)) });
  const invokes = candidates(node.invoke);
  invokes.forEach((inv, i) => {
    if (!isPlain(inv)) return;
    for (const prop of ['onDone', 'onError'] as const) {
      if (inv[prop] === undefined) continue;
      out.push({ section: `invoke.${prop}`, invoke: i, value: inv[prop], set: writer(inv, prop, Array.isArray(inv[prop])) });
    }
  });
  return out;
}

/** The target strings of one candidate ([] when targetless). */
function targetsOf(candidate: unknown): string[] {
  if (typeof candidate === 'string') return [candidate];
  if (isPlain(candidate)) {
    const t = candidate.target;
    if (typeof t === 'string') return [t];
    if (Array.isArray(t)) return t.filter((x): x is string => typeof x === 'string');
  }
  return [];
}

/** Walks every state node, root first, depth-first in key order. */
function walk(root: Obj, visit: (node: Obj, path: string[]) => void, path: string[] = []): void {
  visit(root, path);
  const children = states(root);
  if (!children) return;
  for (const key of Object.keys(children)) {
    const child = children[key];
    if (isPlain(child)) walk(child, visit, [...path, key]);
  }
}

/** Map of state id → key path: the machine id names the root; explicit `id`s name their nodes. */
function idMap(config: Obj): Map<string, string[]> {
  const ids = new Map<string, string[]>();
  walk(config, (node, path) => {
    if (typeof node.id === 'string') ids.set(node.id, path);
  });
  return ids;
}

/** Resolves a target string from the state at `source` to an absolute key path (null if it cannot). */
export function resolveTarget(target: string, source: string[], ids: Map<string, string[]>): string[] | null {
  if (target.startsWith('#')) {
    const [id, ...rest] = target.slice(1).split('.');
    const base = ids.get(id!);
    return base ? [...base, ...rest] : null;
  }
  if (target.startsWith('.')) return [...source, ...target.slice(1).split('.')];
  if (source.length === 0) return null; // the root has no siblings
  return [...source.slice(0, -1), ...target.split('.')];
}

const startsWith = (path: string[], prefix: string[]) => prefix.length <= path.length && prefix.every((k, i) => path[i] === k);

function guardLabel(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const inner = (guard as { guards?: unknown[] }).guards;
    return inner ? `${guard.name}(${inner.map(guardLabel).join(', ')})` : guard.name || 'inline';
  }
  if (isPlain(guard) && typeof guard.type === 'string') return guard.type;
  return 'guard';
}

function candidateLabel(candidate: unknown): string {
  const guard = isPlain(candidate) && candidate.guard !== undefined ? ` (${guardLabel(candidate.guard)})` : '';
  const targets = targetsOf(candidate);
  if (targets.length > 0) return `${guard} → ${targets.join(', ')}`;
  const actions = isPlain(candidate) ? candidates(candidate.actions) : [];
  const names = actions.map((a) => (typeof a === 'string' ? a : isPlain(a) && typeof a.type === 'string' ? a.type : 'inline'));
  return `${guard} (no target${names.length ? `; ${names.join(', ')}` : ''})`;
}

function slotLabel(slot: Slot, node: Obj): string {
  switch (slot.section) {
    case 'on':
      return `on ${slot.key}`;
    case 'after':
      return `after ${slot.key}`;
    case 'always':
      return 'always';
    case 'onDone':
      return 'onDone';
    default: {
      const inv = candidates(node.invoke)[slot.invoke ?? 0] as Obj;
      const name = typeof inv.id === 'string' ? inv.id : typeof inv.src === 'string' ? inv.src : `#${slot.invoke}`;
      return `invoke ${name} ${slot.section.slice('invoke.'.length)}`;
    }
  }
}

/** Every variant of a machine config: the states first, then the transitions, depth-first. */
export function enumerate(machine: string, config: Obj): Variant[] {
  const stateVariants: Variant[] = [];
  const transitionVariants: Variant[] = [];
  walk(config, (node, path) => {
    const where = path.length ? path.join('.') : '(root)';
    if (path.length) stateVariants.push({ mutant: { machine, kind: 'state', path: path.join('.') }, name: `state ${where}` });
    for (const slot of slotsOf(node)) {
      const list = candidates(slot.value);
      list.forEach((candidate, index) => {
        const mutant: Mutant = { machine, kind: 'transition', state: path.join('.'), section: slot.section, index };
        if (slot.key !== undefined) mutant.key = slot.key;
        if (slot.invoke !== undefined) mutant.invoke = slot.invoke;
        const idx = list.length > 1 || Array.isArray(slot.value) ? `[${index}]` : '';
        transitionVariants.push({ mutant, name: `${where} ${slotLabel(slot, node)}${idx}${candidateLabel(candidate)}` });
      });
    }
  });
  return [...stateVariants, ...transitionVariants];
}

function nodeAt(config: Obj, path: string[]): Obj | undefined {
  let node: Obj | undefined = config;
  for (const key of path) {
    const child: unknown = node && states(node)?.[key];
    node = isPlain(child) ? child : undefined;
  }
  return node;
}

/** Returns a copy of `config` with the mutant's element removed (the input is not modified). */
export function applyMutant(config: Obj, mutant: Mutant): Applied {
  const copy = cloneConfig(config);
  const notes: string[] = [];
  if (mutant.kind === 'none') return { config: copy, notes };
  if (mutant.kind === 'transition') {
    const path = mutant.state ? mutant.state.split('.') : [];
    const node = nodeAt(copy, path);
    if (!node) throw new Error(`no state "${mutant.state}" in machine ${mutant.machine}`);
    const slot = slotsOf(node).find((s) => s.section === mutant.section && s.key === mutant.key && s.invoke === mutant.invoke);
    const list = slot ? candidates(slot.value) : [];
    if (!slot || mutant.index >= list.length) throw new Error(`no such transition: ${JSON.stringify(mutant)}`);
    slot.set(list.filter((_, i) => i !== mutant.index));
    return { config: copy, notes };
  }

  // kind === 'state': resolve targets against the original shape, remove, then prune.
  const ids = idMap(config);
  const removed: string[][] = [];
  const remove = (path: string[]): void => {
    const parentPath = path.slice(0, -1);
    const key = path[path.length - 1]!;
    const parent = nodeAt(copy, parentPath);
    const siblings = parent && states(parent);
    if (!parent || !siblings || !(key in siblings)) throw new Error(`no state "${path.join('.')}" in machine ${mutant.machine}`);
    const order = Object.keys(siblings);
    const at = order.indexOf(key);
    delete siblings[key];
    removed.push(path);
    const rest = Object.keys(siblings);
    if (rest.length === 0) {
      if (parentPath.length === 0) throw new Error(`removing "${path.join('.')}" leaves machine ${mutant.machine} without states`);
      notes.push(`parent ${parentPath.join('.')} left without children: removed too`);
      remove(parentPath);
      return;
    }
    if (parent.initial === key) {
      const next = order[at + 1] ?? order[at - 1]!;
      parent.initial = next;
      notes.push(`initial of ${parentPath.length ? parentPath.join('.') : '(root)'} is now ${next}`);
    }
  };
  remove(mutant.path.split('.'));

  let dropped = 0;
  walk(copy, (node, path) => {
    for (const slot of slotsOf(node)) {
      const list = candidates(slot.value);
      const kept = list.filter((candidate) =>
        targetsOf(candidate).every((t) => {
          const abs = resolveTarget(t, path, ids);
          return !abs || !removed.some((r) => startsWith(abs, r));
        }),
      );
      if (kept.length !== list.length) {
        dropped += list.length - kept.length;
        slot.set(kept);
      }
    }
  });
  if (dropped) notes.push(`${dropped} transition(s) into it dropped`);
  return { config: copy, notes };
}

/** Checks what createMachine does not: every compound state's `initial` names an existing child. */
export function checkInitials(config: Obj): string[] {
  const problems: string[] = [];
  walk(config, (node, path) => {
    const children = states(node);
    if (children && node.type !== 'parallel' && typeof node.initial === 'string' && !(node.initial in children)) {
      problems.push(`initial "${node.initial}" of ${path.join('.') || '(root)'} does not exist`);
    }
  });
  return problems;
}

export const MUTANT_ENV = 'OCTOPII_MUTANT';
/** File the setup hook appends to each time it builds the mutated machine (proof it was applied). */
export const MUTANT_MARK_ENV = 'OCTOPII_MUTANT_MARK';

export function mutantFromEnv(env: NodeJS.ProcessEnv = process.env): Mutant | null {
  const raw = env[MUTANT_ENV];
  return raw ? (JSON.parse(raw) as Mutant) : null;
}
