// Where records come from: one or more live nodes (`/events`, SSE; `?nodes=` merges several),
// or a flight recording (replay mode: `/recording`, stepped by the page's controls).

/** `?token=` of the page, passed on to its own node (EventSource cannot send headers). */
function withToken(base, path) {
  const u = new URL(path, base);
  const own = new URLSearchParams(location.search).get('token');
  const given = new URL(base).searchParams.get('token') ?? own;
  if (given) u.searchParams.set('token', given);
  return u.toString();
}

/** The nodes to watch: `?nodes=a,b` or this page's own origin. */
export function nodeBases() {
  const list = new URLSearchParams(location.search).get('nodes');
  if (!list) return [location.origin + '/'];
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => (s.endsWith('/') ? s : `${s}/`));
}

export async function getJson(base, path) {
  const res = await fetch(withToken(base, path));
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

/**
 * Follows the live stream of every base; `onStatus(base, text)` reports connection changes,
 * `onDropped(base, info)` a drop for slowness (EventSource then reconnects and re-inits).
 */
export function connectLive(model, bases, { onStatus, onDropped }) {
  const sources = [];
  for (const base of bases) {
    const es = new EventSource(withToken(base, 'events'));
    es.addEventListener('init', (m) => {
      model.applyInit(JSON.parse(m.data), base);
      onStatus(base, 'live');
    });
    es.addEventListener('dropped', (m) => onDropped(base, JSON.parse(m.data)));
    es.onmessage = (m) => model.apply(JSON.parse(m.data));
    es.onerror = () => onStatus(base, es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
    sources.push(es);
  }
  return () => sources.forEach((s) => s.close());
}

/**
 * A recording (src/observe/recorder.ts) played into `model`: `seek(i)` rebuilds the model from
 * the start up to record i; `play()` steps at the recorded pace times `speed`.
 */
export class Replay {
  constructor(model, recording, onPosition) {
    this.model = model;
    this.header = recording.header;
    this.events = recording.events;
    this.pos = 0;
    this.speed = 1;
    this.timer = null;
    this.onPosition = onPosition;
    this.model.applyInit({ node: this.header.nodeId, actors: this.header.actors ?? [], recent: [] }, null);
  }

  get playing() {
    return this.timer !== null;
  }

  step() {
    if (this.pos >= this.events.length) return this.pause();
    this.model.apply(this.events[this.pos++]);
    this.onPosition(this.pos);
  }

  seek(i) {
    this.pause();
    this.model.reset();
    this.model.applyInit({ node: this.header.nodeId, actors: this.header.actors ?? [], recent: [] }, null);
    const end = Math.max(0, Math.min(i, this.events.length));
    for (let k = 0; k < end; k++) this.model.apply(this.events[k], { quiet: k < end - 1 });
    this.pos = end;
    this.model.changed({ kind: 'seek' });
    this.onPosition(this.pos);
  }

  play() {
    if (this.timer !== null) return;
    const next = () => {
      if (this.pos >= this.events.length) return this.pause();
      const prev = this.pos > 0 ? this.events[this.pos - 1].t : this.events[0].t;
      const wait = Math.min(1000, Math.max(0, (this.events[this.pos].t - prev) / this.speed));
      this.timer = setTimeout(() => {
        this.step();
        if (this.timer !== null) next();
      }, wait);
    };
    this.timer = 0;
    next();
    this.onPosition(this.pos);
  }

  pause() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.onPosition(this.pos);
  }
}
