// Draws a machine chart (src/observe/chart.ts) at its ELK layout (src/observe/layout.ts) as
// SVG, lights the active states and flashes the transitions an event took.
import { activeIds } from './model.js';

const SVG = 'http://www.w3.org/2000/svg';

function el(name, attrs = {}, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

/** A drawn chart: `light(state)` marks the active states, `fire(prev, state, cause)` flashes edges. */
export class ChartView {
  constructor(container, entry) {
    this.chart = entry.chart;
    this.layout = entry.layout;
    this.stateEls = new Map();
    this.edgeEls = new Map();
    this.internalEls = new Map();
    container.replaceChildren();
    if (!this.layout) {
      container.textContent = `No layout for ${this.chart.id}.`;
      return;
    }
    const L = this.layout;
    const svg = el('svg', { viewBox: `0 0 ${Math.ceil(L.width)} ${Math.ceil(L.height)}`, class: 'chart', 'data-machine': this.chart.id, preserveAspectRatio: 'xMidYMin meet' });
    svg.style.width = `${Math.ceil(L.width)}px`;
    svg.style.height = `${Math.ceil(L.height)}px`;
    const defs = el('defs', {}, svg);
    const marker = el('marker', { id: `arrow-${this.chart.id}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, defs);
    el('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }, marker);
    const gStates = el('g', {}, svg);
    const gEdges = el('g', {}, svg);
    const gLabels = el('g', {}, svg);
    const root = this.chart.states[0];
    for (const s of this.chart.states) {
      if (s.id === root.id) continue;
      const b = L.states[s.id];
      if (!b) continue;
      const compound = s.children.length > 0;
      const g = el('g', { class: `state ${compound ? 'compound' : 'atomic'} ${s.type === 'final' ? 'final' : ''}`, 'data-state': s.id }, gStates);
      el('rect', { x: b.x, y: b.y, width: b.width, height: b.height, rx: 8 }, g);
      if (s.type === 'final') el('rect', { x: b.x + 3, y: b.y + 3, width: b.width - 6, height: b.height - 6, rx: 6, class: 'inner' }, g);
      const title = el('text', { x: compound ? b.x + 10 : b.x + b.width / 2, y: b.y + 17, class: 'title', 'text-anchor': compound ? 'start' : 'middle' }, g);
      title.textContent = s.key;
      s.internal.forEach((i, n) => {
        const t = el('text', { x: compound ? b.x + 10 : b.x + b.width / 2, y: b.y + 31 + n * 14, class: 'internal', 'text-anchor': compound ? 'start' : 'middle' }, g);
        t.textContent = i.label;
        if (!this.internalEls.has(s.id)) this.internalEls.set(s.id, []);
        this.internalEls.get(s.id).push({ event: i.event, el: t });
      });
      this.stateEls.set(s.id, g);
    }
    for (const [id, b] of Object.entries(L.states)) {
      if (id.endsWith('.__initial')) el('circle', { cx: b.x + b.width / 2, cy: b.y + b.height / 2, r: b.width / 2, class: 'initial' }, gStates);
      if (id.endsWith('.__any')) {
        const g = el('g', { class: 'any' }, gStates);
        el('rect', { x: b.x, y: b.y, width: b.width, height: b.height, rx: 12 }, g);
        el('text', { x: b.x + b.width / 2, y: b.y + b.height / 2 + 4, 'text-anchor': 'middle' }, g).textContent = 'any state';
      }
    }
    const edges = [...this.chart.transitions.map((t) => ({ id: t.id, t })), ...Object.keys(L.edges).filter((k) => k.startsWith('init:')).map((id) => ({ id, t: null }))];
    for (const { id, t } of edges) {
      const e = L.edges[id];
      if (!e || e.points.length === 0) continue;
      const d = e.points.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
      const g = el('g', { class: t ? 'edge' : 'edge init', 'data-edge': id }, gEdges);
      el('path', { d, 'marker-end': `url(#arrow-${this.chart.id})` }, g);
      if (t && e.label) {
        const lg = el('g', { class: 'edge-label', 'data-edge': id }, gLabels);
        el('rect', { x: e.label.x - 2, y: e.label.y - 1, width: e.label.width, height: e.label.height + 2, rx: 3 }, lg);
        el('text', { x: e.label.x + 2, y: e.label.y + 11 }, lg).textContent = t.label;
        this.edgeEls.set(id, [g, lg]);
      }
    }
    container.appendChild(svg);
    this.svg = svg;
  }

  /** Marks the states of `state` (dotted, see model.js activeIds) active. */
  light(state, status) {
    const ids = activeIds(this.chart.id, state);
    for (const [id, g] of this.stateEls) {
      g.classList.toggle('active', ids.has(id));
      g.classList.toggle('done', ids.has(id) && status === 'done');
      const key = id.slice(id.lastIndexOf('.') + 1);
      g.classList.toggle('failed', ids.has(id) && (status === 'error' || (status === 'done' && /^(failed|rejected|escalated)$/.test(key))));
    }
  }

  /** Flashes the transitions from `prev` that `cause` took to reach `state`. */
  fire(prev, state, cause) {
    const before = activeIds(this.chart.id, prev);
    const after = activeIds(this.chart.id, state);
    for (const t of this.chart.transitions) {
      if (!before.has(t.source) || !after.has(t.target)) continue;
      if (t.event !== cause && t.event !== '') continue;
      for (const e of this.edgeEls.get(t.id) ?? []) flash(e);
      const target = this.stateEls.get(t.target);
      if (target) flash(target, 'entered');
    }
    for (const id of before) {
      for (const i of this.internalEls.get(id) ?? []) if (i.event === cause || (i.event.endsWith('*') && cause.startsWith(i.event.slice(0, -1)))) flash(i.el);
    }
  }
}

function flash(e, cls = 'fired') {
  e.classList.remove(cls);
  // Restart the CSS animation.
  void e.getBoundingClientRect();
  e.classList.add(cls);
  clearTimeout(e.__flash);
  e.__flash = setTimeout(() => e.classList.remove(cls), 1500);
}
