// The Raft strip of the cluster view: every watched node's /health polled (every 500 ms) and,
// for Raft members, a card per member side by side — role, term, commit index — with the
// leader lit, a member that stops answering marked down, and each election seen (a new term
// with its leader) listed as it happens.
import { getJson } from './sources.js';
import { h, shortId } from './views.js';

const POLL_MS = 500;

/** Polls `bases` and renders into `el` (hidden while no node is a Raft member). Returns a stop. */
export function watchRaft(el, bases) {
  const last = new Map(); // base → { ok, nodeId, raft }
  const elections = []; // { term, leader } in the order seen
  let stopped = false;

  const noteElection = () => {
    const leaders = [...last.values()].filter((m) => m.ok && m.raft?.role === 'leader');
    for (const m of leaders) {
      const seen = elections[elections.length - 1];
      if (!seen || seen.term !== m.raft.term || seen.leader !== m.raft.id) elections.push({ term: m.raft.term, leader: m.raft.id });
    }
  };

  const render = () => {
    const members = [...last.entries()].filter(([, m]) => m.raft || m.wasRaft);
    el.hidden = members.length === 0;
    if (el.hidden) return;
    const cards = members
      .sort(([, a], [, b]) => (a.raft?.id ?? a.wasRaft) - (b.raft?.id ?? b.wasRaft))
      .map(([base, m]) => {
        const id = m.raft?.id ?? m.wasRaft;
        const role = m.ok ? m.raft.role : 'down';
        return h(
          'div',
          { class: `member ${role}${role === 'leader' ? ' lit' : ''}`, 'data-member': id, 'data-role': role, 'data-base': base, title: `${base}\n${m.nodeId ?? ''}` },
          h('b', {}, `m${id}`),
          ' ',
          h('span', { class: 'role' }, role),
          m.ok ? h('span', { class: 'muted' }, ` term ${m.raft.term} · commit ${m.raft.commit}`) : null,
          m.nodeId ? h('div', { class: 'muted small' }, shortId(m.nodeId)) : null,
        );
      });
    const history = elections.slice(-6).map((e) => h('li', { 'data-term': e.term, 'data-leader': e.leader }, `term ${e.term}: m${e.leader}`));
    el.replaceChildren(h('h2', {}, 'Raft'), h('div', { class: 'members' }, cards), h('ol', { class: 'elections', title: 'leaders seen, oldest first' }, history));
  };

  const poll = async () => {
    await Promise.all(
      bases.map(async (base) => {
        const prev = last.get(base);
        try {
          const health = await getJson(base, 'health');
          last.set(base, { ok: true, nodeId: health.nodeId, raft: health.raft, wasRaft: health.raft?.id ?? prev?.wasRaft });
        } catch {
          last.set(base, { ok: false, nodeId: prev?.nodeId, raft: undefined, wasRaft: prev?.raft?.id ?? prev?.wasRaft });
        }
      }),
    );
    noteElection();
    render();
    if (!stopped) setTimeout(poll, POLL_MS);
  };
  void poll();
  return () => {
    stopped = true;
  };
}
