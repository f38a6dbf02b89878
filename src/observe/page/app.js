// The octopii inspector: live actor tree, machine charts lit by state, context and event log.
// Loads /machines for the charts and follows /events (or a recording in replay mode).
import { Model } from './model.js';
import { ChartView } from './chart.js';
import { connectLive, getJson, nodeBases, Replay } from './sources.js';
import { watchRaft } from './raft.js';
import { renderContext, renderLog, renderTree, shortId, h } from './views.js';

const $ = (id) => document.getElementById(id);
const model = new Model();
const ui = { selected: null, follow: true, charts: new Map(), chartsLoaded: false, view: null, viewKey: null, dirty: new Set(['tree', 'detail', 'log']), logAll: true };
const nodeLabel = (nodeId) => `node ${shortId(nodeId)}`;

/** Test and console hook: `octopiiInspector.history(actorId)` → states in order. */
window.octopiiInspector = {
  model,
  history: (id) => [...model.actors.values()].filter((a) => a.id === id || a.id.endsWith(id)).flatMap((a) => a.history.map((s) => s.state)),
  actors: () => [...model.actors.values()].map((a) => ({ node: a.node, id: a.id, machine: a.machine, state: a.state, status: a.status, states: a.history.map((s) => s.state) })),
};

function select(key) {
  ui.selected = key;
  ui.follow = false;
  $('follow').checked = false;
  ui.dirty.add('tree').add('detail').add('log');
}

function selectedActor() {
  return ui.selected ? model.actors.get(ui.selected) : undefined;
}

model.onChange((c) => {
  if (c.kind === 'reset') {
    ui.view = null;
    ui.viewKey = null;
  }
  if (c.kind === 'record' && c.record.kind === 'actor' && ui.follow && /^lane/.test(c.record.actor.machine)) {
    ui.selected = c.actor.key;
    ui.dirty.add('detail');
  }
  if (c.kind === 'transition' && c.actor.key === ui.selected) {
    ui.dirty.add('title');
    if (ui.view) {
      ui.view.light(c.actor.state, c.actor.status);
      ui.view.fire(c.prev, c.actor.state, c.cause);
    }
  }
  ui.dirty.add('tree').add('log');
  if (c.kind !== 'record' || c.actor?.key === ui.selected) ui.dirty.add('context');
  if (c.kind === 'init' || c.kind === 'seek' || c.kind === 'reset') ui.dirty.add('detail');
});

function render() {
  const d = ui.dirty;
  if (d.has('tree')) renderTree($('tree'), model.tree(), ui.selected, select, nodeLabel);
  if (d.has('detail')) renderDetail();
  else {
    if (d.has('title')) renderTitle();
    if (d.has('context')) renderContext($('context'), selectedActor());
  }
  if (d.has('log')) {
    const a = selectedActor();
    renderLog($('log'), ui.logAll || !a ? model.log : model.log.filter((r) => r.node === a.node && r.actor.id === a.id), $('filter').value, nodeLabel);
  }
  d.clear();
  requestAnimationFrame(render);
}

function renderTitle() {
  const a = selectedActor();
  $('title').replaceChildren(a ? h('span', {}, h('span', { class: `badge m-${a.machine}` }, a.machine), ' ', h('span', { title: a.id }, a.id === 'node' ? nodeLabel(a.node) : shortId(a.id)), ' ', h('span', { class: `pill ${a.status}` }, a.state)) : 'No actor selected');
}

function renderDetail() {
  const a = selectedActor();
  renderTitle();
  if (a && ui.viewKey !== `${a.key}@${a.machine}`) {
    const entry = ui.charts.get(a.machine);
    ui.viewKey = `${a.key}@${a.machine}`;
    ui.view = entry ? new ChartView($('chart'), entry) : null;
    if (!entry) $('chart').replaceChildren(h('p', { class: 'muted' }, ui.chartsLoaded ? `No chart for machine "${a.machine}".` : 'Laying out the state charts…'));
  }
  if (a && ui.view) ui.view.light(a.state, a.status);
  renderContext($('context'), a);
}

async function main() {
  $('follow').addEventListener('change', (e) => {
    ui.follow = e.target.checked;
  });
  $('filter').addEventListener('input', () => ui.dirty.add('log'));
  $('chart').addEventListener('click', () => $('chart').classList.toggle('fit'));
  $('logall').addEventListener('change', (e) => {
    ui.logAll = e.target.checked;
    ui.dirty.add('log');
  });
  const bases = nodeBases();
  const health = await getJson(bases[0], 'health').catch(() => ({ mode: 'live' }));
  // Charts arrive when laid out (the first request after a server start takes a few seconds);
  // a node that goes away meanwhile (a killed cluster member) hands over to the next.
  const loadCharts = async () => {
    for (const base of bases) {
      try {
        return await getJson(base, 'machines');
      } catch {
        /* next node */
      }
    }
    return { machines: [] };
  };
  void loadCharts().then((machines) => {
    for (const m of machines.machines) ui.charts.set(m.chart.id, m);
    ui.chartsLoaded = true;
    ui.viewKey = null;
    ui.dirty.add('detail');
  });
  ui.selected = model.key(health.nodeId ?? '', 'node');
  requestAnimationFrame(render);
  if (health.mode === 'replay') return startReplay(bases[0]);
  watchRaft($('raft'), bases);
  const status = new Map();
  const showStatus = () => $('status').replaceChildren(...[...status].map(([base, s]) => h('span', { class: `conn ${s}`, title: base }, `${new URL(base).host} ${s}`)));
  connectLive(model, bases, {
    onStatus: (base, s) => {
      status.set(base, s);
      showStatus();
      if (!selectedActor() && model.nodes.size) ui.selected = model.key([...model.nodes.keys()][0], 'node');
      ui.dirty.add('detail');
    },
    onDropped: (base, info) => {
      status.set(base, `dropped (${info.reason})`);
      showStatus();
    },
  });
}

async function startReplay(base) {
  document.body.classList.add('replay');
  const recording = await getJson(base, 'recording');
  const pos = $('seek');
  pos.max = String(recording.events.length);
  const replay = new Replay(model, recording, (i) => {
    pos.value = String(i);
    $('position').textContent = `${i} / ${recording.events.length}`;
    $('play').textContent = replay.playing ? 'Pause' : 'Play';
  });
  ui.selected = model.key(recording.header.nodeId, 'node');
  $('status').replaceChildren(h('span', { class: 'conn replay' }, `replay of ${shortId(recording.header.nodeId)}`));
  $('play').addEventListener('click', () => (replay.playing ? replay.pause() : replay.play()));
  $('step').addEventListener('click', () => replay.step());
  $('speed').addEventListener('change', (e) => (replay.speed = Number(e.target.value)));
  pos.addEventListener('input', () => replay.seek(Number(pos.value)));
  replay.seek(0);
}

main().catch((e) => {
  $('status').replaceChildren(h('span', { class: 'conn closed' }, `error: ${e.message}`));
});
