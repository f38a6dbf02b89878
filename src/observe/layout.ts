/**
 * Positions for drawing a {@link MachineChart}: ELK's layered algorithm (elkjs, run in Node when
 * the observe server first serves `/machines`, so the page needs no layout code and makes no
 * requests). Compound states contain their children; edges cross hierarchy levels
 * (`hierarchyHandling: INCLUDE_CHILDREN`). Every coordinate is absolute, in px, origin top left.
 *
 * ELK is synchronous Java-to-JS and takes 1–2 s for the four built-in machines on this 2-core
 * machine, so it runs in a worker thread (layoutWorker.mjs) and never stalls the node's loop.
 */
import { Worker } from 'node:worker_threads';
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';
import type { ChartState, MachineChart } from './chart.js';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ChartLayout {
  width: number;
  height: number;
  /** By state id; includes the pseudo-states `<root>.__any` ("any state") and `<state>.__initial` (start dots). */
  states: Record<string, Box>;
  /** By transition id (`t3`), and `init:<state id>` for the start arrow of a compound state. */
  edges: Record<string, { points: Array<{ x: number; y: number }>; label: Box | null }>;
}

const CHAR_W = 7.5;
const LINE_H = 14;
const labelWidth = (s: string): number => Math.ceil(s.length * CHAR_W) + 8;

/** ELK's layout of `chart`. */
export async function layoutChart(chart: MachineChart): Promise<ChartLayout> {
  return (await layoutCharts([chart]))[0]!;
}

/** ELK's layouts of `charts`, in order, computed in one worker. */
export async function layoutCharts(charts: readonly MachineChart[]): Promise<ChartLayout[]> {
  if (charts.length === 0) return [];
  const outs = await runElk(charts.map(elkGraph));
  return outs.map(fromElk);
}

/** The ELK graph of `chart`. */
function elkGraph(chart: MachineChart): ElkNode {
  const byId = new Map(chart.states.map((s) => [s.id, s]));
  const root = chart.states[0]!;
  const edges: ElkExtendedEdge[] = [];

  const node = (s: ChartState): ElkNode => {
    const lines = [s.key, ...s.internal.map((i) => i.label)];
    if (s.children.length === 0) {
      return { id: s.id, width: Math.max(70, ...lines.map(labelWidth)) + 8, height: 16 + lines.length * LINE_H };
    }
    const children = s.children.map((c) => node(byId.get(c)!));
    if (s.initial) {
      children.unshift({ id: `${s.id}.__initial`, width: 10, height: 10 });
      edges.push({ id: `init:${s.id}`, sources: [`${s.id}.__initial`], targets: [s.initial] });
    }
    return {
      id: s.id,
      children,
      layoutOptions: {
        'elk.padding': `[top=${14 + lines.length * LINE_H},left=12,bottom=12,right=12]`,
        'elk.nodeSize.minimum': `(${Math.max(...lines.map(labelWidth)) + 24}, 40)`,
        'elk.nodeSize.constraints': 'MINIMUM_SIZE',
      },
    };
  };

  const top = root.children.map((c) => node(byId.get(c)!));
  if (root.initial) {
    top.unshift({ id: `${root.id}.__initial`, width: 10, height: 10 });
    edges.push({ id: `init:${root.id}`, sources: [`${root.id}.__initial`], targets: [root.initial] });
  }
  if (chart.transitions.some((t) => t.source === root.id)) top.push({ id: `${root.id}.__any`, width: 80, height: 24 });
  for (const t of chart.transitions) {
    edges.push({
      id: t.id,
      sources: [t.source === root.id ? `${root.id}.__any` : t.source],
      targets: [t.target],
      labels: [{ text: t.label, width: labelWidth(t.label), height: LINE_H }],
    });
  }

  const graph: ElkNode = {
    id: '__graph',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'DOWN',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.layered.spacing.nodeNodeBetweenLayers': '40',
      'elk.spacing.nodeNode': '24',
      'elk.spacing.edgeLabel': '4',
      'elk.edgeLabels.inline': 'false',
      'elk.json.shapeCoords': 'ROOT',
      'elk.json.edgeCoords': 'ROOT',
      'elk.padding': '[top=8,left=8,bottom=8,right=8]',
    },
    children: top,
    edges,
  };
  return graph;
}

function fromElk(out: ElkNode): ChartLayout {
  const layout: ChartLayout = { width: out.width ?? 0, height: out.height ?? 0, states: {}, edges: {} };
  const walk = (n: ElkNode) => {
    for (const c of n.children ?? []) {
      layout.states[c.id] = { x: c.x ?? 0, y: c.y ?? 0, width: c.width ?? 0, height: c.height ?? 0 };
      walk(c);
    }
  };
  walk(out);
  const collect = (n: ElkNode) => {
    for (const e of n.edges ?? []) {
      const points = (e.sections ?? []).flatMap((s) => [s.startPoint, ...(s.bendPoints ?? []), s.endPoint]);
      const l = e.labels?.[0];
      layout.edges[e.id] = { points, label: l ? { x: l.x ?? 0, y: l.y ?? 0, width: l.width ?? 0, height: l.height ?? 0 } : null };
    }
    for (const c of n.children ?? []) collect(c);
  };
  collect(out);
  return layout;
}

/** Lays `graphs` out in a short-lived worker thread (unref'd: it never holds the process open). */
function runElk(graphs: ElkNode[]): Promise<ElkNode[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./layoutWorker.mjs', import.meta.url));
    worker.unref();
    worker.once('message', (m: { outs?: ElkNode[]; error?: string }) => {
      void worker.terminate();
      if (m.outs) resolve(m.outs);
      else reject(new Error(`layout failed: ${m.error}`));
    });
    worker.once('error', (e) => reject(e));
    worker.postMessage({ graphs });
  });
}
