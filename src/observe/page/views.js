// The page's panels: the actor tree, the selected actor's header and context, the event log.

export function h(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}

/** `peer:12D3KooWHziAzHLD…jD7E/send#3` → `peer:12D3Ko…jD7E/send#3`. */
export function shortId(id) {
  return String(id).replace(/([1-9A-HJ-NP-Za-km-z]{6})[1-9A-HJ-NP-Za-km-z]{20,}([1-9A-HJ-NP-Za-km-z]{5})/g, '$1…$2');
}

export function time(t) {
  const d = new Date(t);
  return `${d.toTimeString().slice(0, 8)}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** `xstate.after.keepAlive.peer.connected.alive` → `after keepAlive` (as the charts label it). */
export function eventName(type) {
  const after = /^xstate\.after\.([^.]+)\./.exec(type);
  return after ? `after ${after[1]}` : type;
}

/** One line of text for a record (the log and its filter). */
export function describe(r) {
  if (r.kind === 'actor') return `started ${r.actor.machine}`;
  if (r.kind === 'snapshot') return `→ ${r.state}${r.status !== 'active' ? ` (${r.status})` : ''}  ⟵ ${eventName(r.cause)}`;
  const payload = r.event && typeof r.event === 'object' ? Object.entries(r.event).filter(([k]) => k !== 'type') : [];
  const text = `${eventName(r.type)}${payload.length ? ` ${JSON.stringify(Object.fromEntries(payload))}` : ''}`;
  return text.length > 180 ? `${text.slice(0, 180)}…` : text;
}

export function renderTree(container, forest, selectedKey, onSelect, nodeLabel) {
  const row = (n, depth) => {
    const a = n.actor;
    const li = h(
      'li',
      { class: `actor ${a.status} ${a.key === selectedKey ? 'selected' : ''}`, 'data-key': a.key, 'data-machine': a.machine, 'data-state': a.state, onclick: (e) => (e.stopPropagation(), onSelect(a.key)) },
      h('span', { class: 'indent', style: `width:${depth * 14}px` }),
      h('span', { class: `badge m-${a.machine}` }, a.machine),
      h('span', { class: 'aid', title: a.id }, a.id === 'node' ? nodeLabel(a.node) : shortId(depth > 0 && a.id.includes('/') ? a.id.slice(a.id.lastIndexOf('/') + 1) : a.id)),
      h('span', { class: `pill ${a.status}` }, a.state || a.status),
    );
    return [li, ...n.children.flatMap((c) => row(c, depth + 1))];
  };
  container.replaceChildren(h('ul', { class: 'tree' }, forest.flatMap((n) => row(n, 0))));
}

export function renderContext(container, actor) {
  if (!actor) return container.replaceChildren(h('p', { class: 'muted' }, 'Select an actor.'));
  const rows = Object.entries(actor.context ?? {}).map(([k, v]) =>
    h('tr', {}, h('th', {}, k), h('td', {}, shortId(v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v)))),
  );
  const history = actor.history.map((s, i) => h('li', { class: s.status }, h('span', { class: 'ts' }, time(s.t)), ` ${i === 0 ? '' : '→ '}${s.state}`));
  container.replaceChildren(
    h('h3', {}, 'Context'),
    h('table', { class: 'ctx' }, rows.length ? rows : h('tr', {}, h('td', { class: 'muted' }, '(empty)'))),
    h('h3', {}, 'States'),
    h('ol', { class: 'history', 'data-actor': actor.key }, history),
  );
}

export function renderLog(container, records, filter, nodeLabel) {
  const f = filter.trim().toLowerCase();
  const rows = [];
  for (let i = records.length - 1; i >= 0 && rows.length < 400; i--) {
    const r = records[i];
    const text = describe(r);
    const who = shortId(r.actor.id);
    if (f && !`${r.kind} ${r.actor.machine} ${r.actor.id} ${text}`.toLowerCase().includes(f)) continue;
    rows.push(
      h(
        'tr',
        { class: `rec ${r.kind}` },
        h('td', { class: 'ts' }, time(r.t)),
        h('td', { class: 'who', title: `${nodeLabel(r.node)} ${r.actor.id}` }, who),
        h('td', { class: 'kind' }, r.kind),
        h('td', { class: 'what' }, shortId(text)),
      ),
    );
  }
  container.replaceChildren(h('table', { class: 'log' }, h('tbody', {}, rows)));
}
