/**
 * A {@link MachineChart} as text: Mermaid `stateDiagram-v2` (what docs/machines/ holds, rendered
 * by GitHub and most Markdown viewers) or Graphviz DOT (compound states as clusters). Pure
 * functions of the chart, so the same definition always gives the same bytes.
 */
import type { ChartState, MachineChart } from './chart.js';

/** Mermaid ids: letters, digits and `_` only (`laneSend.sending.header` → `laneSend_sending_header`). */
const mid = (id: string): string => id.replace(/[^A-Za-z0-9_]/g, '_');
/** Mermaid labels may not hold `:` `;` `#` or quotes. */
const mlabel = (s: string): string => s.replace(/[:;#"]/g, ' ').replace(/\s+/g, ' ').trim();

/** The chart as a Mermaid `stateDiagram-v2`. Root transitions start at a pseudo-state "any state". */
export function toMermaid(chart: MachineChart): string {
  const byId = new Map(chart.states.map((s) => [s.id, s]));
  const root = chart.states[0]!;
  const lines: string[] = [`---`, `title: ${chart.id}`, `---`, 'stateDiagram-v2'];
  const pad = (n: number) => '  '.repeat(n);
  const emit = (state: ChartState, depth: number) => {
    const p = pad(depth);
    if (state.initial) lines.push(`${p}[*] --> ${mid(state.initial)}`);
    for (const childId of state.children) {
      const c = byId.get(childId)!;
      if (c.children.length > 0) {
        lines.push(`${p}state "${mlabel(c.key)}" as ${mid(c.id)} {`);
        emit(c, depth + 1);
        lines.push(`${p}}`);
      } else {
        lines.push(`${p}state "${mlabel(c.key)}" as ${mid(c.id)}`);
      }
      // Mermaid gives composite states no description: their internal transitions go in a note.
      if (c.children.length > 0 && c.internal.length > 0) lines.push(`${p}note right of ${mid(c.id)} : ${c.internal.map((i) => mlabel(i.label)).join(', ')}`);
      else for (const i of c.internal) lines.push(`${p}${mid(c.id)} : ${mlabel(i.label)}`);
      if (c.type === 'final') lines.push(`${p}${mid(c.id)} --> [*]`);
    }
  };
  emit(root, 1);
  const any = `${mid(root.id)}__any`;
  if (chart.transitions.some((t) => t.source === root.id)) lines.push(`  state "any state" as ${any}`);
  for (const t of chart.transitions) {
    const from = t.source === root.id ? any : mid(t.source);
    lines.push(`  ${from} --> ${mid(t.target)} : ${mlabel(t.label)}`);
  }
  return `${lines.join('\n')}\n`;
}

const q = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/**
 * The chart as Graphviz DOT. Compound states are `cluster_` subgraphs; an edge to or from a
 * compound state attaches to its initial leaf (`lhead`/`ltail` clip it to the cluster).
 */
export function toDot(chart: MachineChart): string {
  const byId = new Map(chart.states.map((s) => [s.id, s]));
  const root = chart.states[0]!;
  const leaf = (id: string): string => {
    let s = byId.get(id)!;
    while (s.children.length > 0) s = byId.get(s.initial ?? s.children[0]!)!;
    return s.id;
  };
  const lines: string[] = [`digraph ${q(chart.id)} {`, '  compound=true; rankdir=LR; node [shape=box, style=rounded, fontname="Helvetica"]; edge [fontname="Helvetica", fontsize=10];'];
  const emit = (state: ChartState, depth: number) => {
    const p = '  '.repeat(depth);
    for (const childId of state.children) {
      const c = byId.get(childId)!;
      const internal = c.internal.map((i) => `\\n${i.label}`).join('');
      if (c.children.length > 0) {
        lines.push(`${p}subgraph ${q(`cluster_${c.id}`)} {`, `${p}  label=${q(c.key + internal)}; style=rounded;`);
        emit(c, depth + 1);
        lines.push(`${p}}`);
      } else {
        const shape = c.type === 'final' ? ', peripheries=2' : '';
        lines.push(`${p}${q(c.id)} [label=${q(c.key + internal)}${shape}];`);
      }
    }
  };
  emit(root, 1);
  if (root.initial) lines.push(`  ${q(`${root.id}.__start`)} [shape=point, label=""];`, `  ${q(`${root.id}.__start`)} -> ${q(leaf(root.initial))};`);
  if (chart.transitions.some((t) => t.source === root.id)) lines.push(`  ${q(`${root.id}.__any`)} [label="any state", shape=plaintext];`);
  for (const t of chart.transitions) {
    const from = t.source === root.id ? `${root.id}.__any` : leaf(t.source);
    const attrs = [`label=${q(t.label)}`];
    if (t.source !== root.id && byId.get(t.source)!.children.length > 0) attrs.push(`ltail=${q(`cluster_${t.source}`)}`);
    if (byId.get(t.target)!.children.length > 0) attrs.push(`lhead=${q(`cluster_${t.target}`)}`);
    lines.push(`  ${q(from)} -> ${q(leaf(t.target))} [${attrs.join(', ')}];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
