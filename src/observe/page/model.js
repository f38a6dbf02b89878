// The inspector's state: actors by node and id, their state history and events, one global
// log. Records come from /events (live) or a recording (replay); see src/observe/events.ts.

const MAX_LOG = 5000;
const MAX_ACTOR_EVENTS = 500;

/** `a.b,c.d` → the ids of every active state node of `machineId` (`m.a`, `m.a.b`, …). */
export function activeIds(machineId, state) {
  const ids = new Set([machineId]);
  if (!state) return ids;
  for (const part of String(state).split(',')) {
    let id = machineId;
    for (const key of part.split('.')) {
      id = `${id}.${key}`;
      ids.add(id);
    }
  }
  return ids;
}

export class Model {
  constructor() {
    /** node id → { nodeId, base, connected, health } */
    this.nodes = new Map();
    /** `${node}|${id}` → actor */
    this.actors = new Map();
    this.log = [];
    this.listeners = new Set();
  }

  key(node, id) {
    return `${node}|${id}`;
  }

  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed(what) {
    for (const l of this.listeners) l(what);
  }

  reset() {
    this.actors.clear();
    this.log = [];
    this.changed({ kind: 'reset' });
  }

  #ensure(node, a) {
    const key = this.key(node, a.id);
    let actor = this.actors.get(key);
    if (!actor) {
      actor = { key, node, id: a.id, parent: a.parent, machine: a.machine, sid: a.sid, state: '', status: 'active', context: {}, t: 0, started: 0, history: [], events: [] };
      this.actors.set(key, actor);
    } else if (a.sid && a.sid !== actor.sid) {
      // Same id, new session: a restarted child or a new actor reusing the id.
      actor.sid = a.sid;
      actor.parent = a.parent;
      actor.machine = a.machine;
      actor.history = [];
    }
    return actor;
  }

  /** The `init` message of a stream (hub.ts InitMessage). */
  applyInit(init, base) {
    const n = this.nodes.get(init.node) ?? { nodeId: init.node };
    n.base = base;
    n.connected = true;
    this.nodes.set(init.node, n);
    // Recent records first (they build each actor's history), then the current states.
    for (const r of init.recent) this.apply(r, { quiet: true });
    for (const s of init.actors) {
      const actor = this.#ensure(init.node, s.actor);
      const last = actor.history[actor.history.length - 1];
      if (!last || last.state !== s.state || last.status !== s.status) actor.history.push({ state: s.state, status: s.status, t: s.t, cause: '(init)' });
      actor.state = s.state;
      actor.status = s.status;
      actor.context = s.context;
      actor.t = s.t;
    }
    this.changed({ kind: 'init', node: init.node });
  }

  /** One record (events.ts ObserveEvent). Returns the actor it touched. */
  apply(r, { quiet = false } = {}) {
    if (!this.nodes.has(r.node)) this.nodes.set(r.node, { nodeId: r.node, connected: true });
    const actor = this.#ensure(r.node, r.actor);
    if (r.kind === 'actor') {
      actor.started = r.t;
      actor.status = 'active';
    } else if (r.kind === 'snapshot') {
      if (actor.seq !== undefined && r.seq <= actor.seq) return actor; // already applied (init + recent)
      actor.seq = r.seq;
      const prev = actor.state;
      const last = actor.history[actor.history.length - 1];
      if (!last || last.state !== r.state || last.status !== r.status) actor.history.push({ state: r.state, status: r.status, t: r.t, cause: r.cause });
      actor.state = r.state;
      actor.status = r.status;
      actor.context = r.output ? { ...r.context, output: r.output } : r.context;
      actor.t = r.t;
      if (!quiet) this.changed({ kind: 'transition', actor, prev, cause: r.cause });
    } else if (r.kind === 'event') {
      actor.events.push(r);
      if (actor.events.length > MAX_ACTOR_EVENTS) actor.events.splice(0, actor.events.length - MAX_ACTOR_EVENTS);
    }
    if (!this.log.length || this.log[this.log.length - 1] !== r) this.log.push(r);
    if (this.log.length > MAX_LOG) this.log.splice(0, this.log.length - MAX_LOG);
    if (!quiet) this.changed({ kind: 'record', record: r, actor });
    return actor;
  }

  /**
   * Actors as a forest: node roots, peers under the node, transfers (`<peer id>/<name>`) under
   * their peer, anything else under its parent.
   */
  tree() {
    const roots = [];
    const children = new Map();
    for (const a of this.actors.values()) {
      const slash = a.id.indexOf('/');
      const peerKey = slash > 0 ? this.key(a.node, a.id.slice(0, slash)) : null;
      const parentKey = peerKey && this.actors.has(peerKey) ? peerKey : a.parent ? this.key(a.node, a.parent) : null;
      if (!parentKey || !this.actors.has(parentKey)) roots.push(a);
      else {
        if (!children.has(parentKey)) children.set(parentKey, []);
        children.get(parentKey).push(a);
      }
    }
    const build = (a) => ({ actor: a, children: (children.get(a.key) ?? []).map(build) });
    return roots.map(build);
  }
}
