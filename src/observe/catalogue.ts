/**
 * The machines the inspector can draw: the built-in charts (node supervisor, peer, laneSend,
 * laneReceive, admission, rpcCall, breaker, blobFetch, blobProvide, blobBatch, blobMulti and its
 * blobMultiProvider, raft — each imported on its own, so one that fails to load is skipped and
 * reported, not fatal) plus any other machine seen running on the node (its logic arrives with
 * the `@xstate.actor` inspection event). Charts come from the definitions (chart.ts); layouts
 * are computed once per distinct chart per process (layout.ts, in a worker).
 */
import type { AnyStateMachine } from 'xstate';
import { chartOf, type MachineChart } from './chart.js';
import { layoutCharts, type ChartLayout } from './layout.js';

/** A built-in machine's loader, by name. */
export const BUILTIN_MACHINES: ReadonlyArray<{ name: string; load: () => Promise<AnyStateMachine> }> = [
  { name: 'node', load: async () => (await import('../../machines/node.js')).supervisorMachine as AnyStateMachine },
  { name: 'peer', load: async () => (await import('../../machines/peer.js')).peerMachine as AnyStateMachine },
  { name: 'laneSend', load: async () => (await import('../../machines/laneSend.js')).laneSendMachine as AnyStateMachine },
  { name: 'laneReceive', load: async () => (await import('../../machines/laneReceive.js')).laneReceiveMachine as AnyStateMachine },
  { name: 'admission', load: async () => (await import('../../machines/admission.js')).admissionMachine as AnyStateMachine },
  { name: 'rpcCall', load: async () => (await import('../../machines/rpcCall.js')).rpcCallMachine as AnyStateMachine },
  { name: 'breaker', load: async () => (await import('../../machines/breaker.js')).breakerMachine as AnyStateMachine },
  { name: 'blobFetch', load: async () => (await import('../../machines/blobFetch.js')).blobFetchMachine as AnyStateMachine },
  { name: 'blobProvide', load: async () => (await import('../../machines/blobProvide.js')).blobProvideMachine as AnyStateMachine },
  { name: 'blobBatch', load: async () => (await import('../../machines/blobBatch.js')).blobBatchMachine as AnyStateMachine },
  { name: 'blobMulti', load: async () => (await import('../../machines/blobMulti.js')).blobMultiMachine as AnyStateMachine },
  { name: 'blobMultiProvider', load: async () => (await import('../../machines/blobMulti.js')).blobMultiProviderMachine as AnyStateMachine },
  { name: 'raft', load: async () => (await import('../../machines/raft.js')).raftMachine as AnyStateMachine },
];

/** A machine that could not be loaded, and why. */
export interface SkippedMachine {
  name: string;
  error: string;
}

/** Loads every built-in machine, skipping (and listing) those whose import or chart fails. */
export async function loadBuiltinCharts(): Promise<{ charts: MachineChart[]; skipped: SkippedMachine[] }> {
  const charts: MachineChart[] = [];
  const skipped: SkippedMachine[] = [];
  for (const m of BUILTIN_MACHINES) {
    try {
      charts.push(chartOf(await m.load()));
    } catch (e) {
      skipped.push({ name: m.name, error: e instanceof Error ? e.message : String(e) });
    }
  }
  return { charts, skipped };
}

/** What `GET /machines` serves. */
export interface MachinesDocument {
  machines: Array<{ chart: MachineChart; layout: ChartLayout | null }>;
  skipped: SkippedMachine[];
}

const layoutCache = new Map<string, Promise<ChartLayout | null>>();

/** Layouts of `charts` (cached by chart content; null for a chart ELK could not lay out). */
async function layoutsOf(charts: readonly MachineChart[]): Promise<Array<ChartLayout | null>> {
  const keys = charts.map((c) => JSON.stringify(c));
  const missing = charts.filter((_, i) => !layoutCache.has(keys[i]!));
  if (missing.length > 0) {
    const batch = layoutCharts(missing).catch(() => missing.map(() => null));
    missing.forEach((c, i) => layoutCache.set(JSON.stringify(c), batch.then((all) => all[i] ?? null)));
  }
  return Promise.all(keys.map((k) => layoutCache.get(k)!));
}

/** Built-in charts plus machines added at run time; `document()` lays them out (cached). */
export class MachineCatalogue {
  readonly #charts = new Map<string, MachineChart>();
  #skipped: SkippedMachine[] = [];
  #ready: Promise<void>;

  constructor(charts?: readonly MachineChart[]) {
    if (charts) {
      for (const c of charts) this.#charts.set(c.id, c);
      this.#ready = Promise.resolve();
    } else {
      this.#ready = loadBuiltinCharts().then(({ charts: cs, skipped }) => {
        for (const c of cs) if (!this.#charts.has(c.id)) this.#charts.set(c.id, c);
        this.#skipped = skipped;
      });
    }
  }

  /** Adds `machine` unless a machine with its id is known. Never throws. */
  add(machine: AnyStateMachine): void {
    if (this.#charts.has(machine.id)) return;
    try {
      this.#charts.set(machine.id, chartOf(machine));
    } catch {
      // A machine whose definition cannot be read is shown without a chart.
    }
  }

  has(id: string): boolean {
    return this.#charts.has(id);
  }

  async charts(): Promise<MachineChart[]> {
    await this.#ready;
    return [...this.#charts.values()];
  }

  /** Every chart with its layout. */
  async document(): Promise<MachinesDocument> {
    const charts = await this.charts();
    const layouts = await layoutsOf(charts);
    return { machines: charts.map((chart, i) => ({ chart, layout: layouts[i] ?? null })), skipped: this.#skipped };
  }
}
