/**
 * Prometheus metrics of one node (DESIGN.md §3 "metrics: Prometheus text format"), on prom-client
 * with a registry per node — never prom-client's process-global default registry, so several
 * nodes in one process (tests, simulations) keep separate figures.
 *
 * Fed from the node's public events only (`onInspect`, `onPeer`): a lane actor's
 * `@xstate.actor` is a transfer started; its final snapshot's output says succeeded or failed
 * (reason = the error code), its bytes and its duration. The lane code is not touched. Peer
 * states, live actors, event-loop delay (`perf_hooks.monitorEventLoopDelay`) and the hash pool
 * are read when scraped.
 *
 *   const m = createNodeMetrics(node);  res.end(await m.registry.metrics());  m.close();
 *
 * Names (prefix `octopii_`): transfers_started_total{direction}, transfers_succeeded_total
 * {direction}, transfers_failed_total{direction,reason}, transfer_bytes_total{direction},
 * transfer_duration_seconds{direction,outcome} (histogram), peers{state}, peer_events_total
 * {type}, peer_reconnects_total, actors{machine}, event_loop_delay_seconds{quantile} (over a window
 * of at least 10 s), hash_pool_threads, hash_pool_hashes, hash_pool_queued (jobs waiting for a
 * worker), and the RPC metrics of src/metrics/rpc.ts when the node has `rpc`.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { InspectionEvent } from 'xstate';
import type { ActorNode } from '../node/inspect.js';
import { machineIdOf } from '../observe/events.js';
import { registerRpcMetrics, type RpcMetricsSource } from './rpc.js';

/** What the metrics read from a node (an OctopiiNode fits). */
export interface MetricsSource {
  onInspect(listener: (e: InspectionEvent) => void): () => void;
  onPeer(listener: (e: { type: 'peer.up' | 'peer.lost' | 'peer.unreachable'; peer: string }) => void): () => void;
  peers(): Array<{ id: string; state: string }>;
  inspect(): { tree: ActorNode };
  /** RPC calls (src/metrics/rpc.ts); an OctopiiNode has it. */
  readonly rpc?: RpcMetricsSource;
}

export interface NodeMetrics {
  registry: Registry;
  /** Stops listening to the node and the event-loop monitor. Idempotent. */
  close(): void;
}

export interface NodeMetricsOptions {
  /** Registry to register into (default: a new one). */
  registry?: Registry;
  /** Metric name prefix (default `octopii_`). */
  prefix?: string;
  /** Labels added to every metric (e.g. `{ node: nodeId }`). */
  labels?: Record<string, string>;
}

type Direction = 'send' | 'receive';
const LOOP_WINDOW_MS = 10_000;
const LANE_MACHINES: Record<string, Direction> = { laneSend: 'send', laneReceive: 'receive' };

interface LaneOutput {
  status?: string;
  bytes?: number;
  size?: number | null;
  error?: { code?: string } | null;
}

/** Registers the node's metrics and starts feeding them. */
export function createNodeMetrics(node: MetricsSource, options: NodeMetricsOptions = {}): NodeMetrics {
  const registry = options.registry ?? new Registry();
  if (options.labels) registry.setDefaultLabels(options.labels);
  const p = options.prefix ?? 'octopii_';
  const registers = [registry];

  const started = new Counter({ name: `${p}transfers_started_total`, help: 'Lane transfers started', labelNames: ['direction'], registers });
  const succeeded = new Counter({ name: `${p}transfers_succeeded_total`, help: 'Lane transfers acknowledged (status 0)', labelNames: ['direction'], registers });
  const failed = new Counter({
    name: `${p}transfers_failed_total`,
    help: 'Lane transfers that did not succeed, by error code (REJECTED: over the size cap; STOPPED: stopped before the end)',
    labelNames: ['direction', 'reason'],
    registers,
  });
  const bytes = new Counter({ name: `${p}transfer_bytes_total`, help: 'Data bytes of acknowledged transfers', labelNames: ['direction'], registers });
  const duration = new Histogram({
    name: `${p}transfer_duration_seconds`,
    help: 'Lane transfer duration from actor start to its final state',
    labelNames: ['direction', 'outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers,
  });
  const peerEvents = new Counter({ name: `${p}peer_events_total`, help: 'Peer events (up, lost, unreachable)', labelNames: ['type'], registers });
  const reconnects = new Counter({ name: `${p}peer_reconnects_total`, help: 'Peers that came up again after having been up before', registers });
  // src/hash is loaded lazily (as the node does: simulations bring their own hasher).
  let hashStats = (): { threads: number; pinned: number; queued: number } => ({ threads: 0, pinned: 0, queued: 0 });
  void import('../hash/index.js').then((m) => (hashStats = m.sharedHashPoolStats), () => undefined);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();

  new Gauge({
    name: `${p}peers`,
    help: 'Peers by state of their peer machine (top-level state: connected, connecting, backoff, idle, …)',
    labelNames: ['state'],
    registers,
    collect() {
      this.reset();
      for (const peer of node.peers()) this.inc({ state: peer.state.split('.')[0]! });
    },
  });
  new Gauge({
    name: `${p}actors`,
    help: 'Live actors of the node by machine (supervisor, peers, transfers)',
    labelNames: ['machine'],
    registers,
    collect() {
      this.reset();
      const walk = (n: ActorNode) => {
        if (n.status === 'active') this.inc({ machine: n.machine });
        for (const c of n.children) walk(c);
      };
      walk(node.inspect().tree);
    },
  });
  // Percentiles over windows of at least LOOP_WINDOW_MS: scrapes closer together see the same window.
  let windowStart = performance.now();
  new Gauge({
    name: `${p}event_loop_delay_seconds`,
    help: `Event-loop delay (perf_hooks.monitorEventLoopDelay, 10 ms resolution) over the current window of at least ${LOOP_WINDOW_MS / 1000} s`,
    labelNames: ['quantile'],
    registers,
    collect() {
      if (loop.count === 0) return;
      this.reset();
      for (const q of [0.5, 0.9, 0.99]) this.set({ quantile: String(q) }, loop.percentile(q * 100) / 1e9);
      this.set({ quantile: 'max' }, loop.max / 1e9);
      if (performance.now() - windowStart >= LOOP_WINDOW_MS) {
        loop.reset();
        windowStart = performance.now();
      }
    },
  });
  new Gauge({
    name: `${p}hash_pool_threads`,
    help: 'Worker threads of the shared SHA-256 pool (0 when it is not running)',
    registers,
    collect() {
      this.set(hashStats().threads);
    },
  });
  new Gauge({
    name: `${p}hash_pool_hashes`,
    help: 'Incremental SHA-256 states pinned to pool workers (hashes in progress)',
    registers,
    collect() {
      this.set(hashStats().pinned);
    },
  });

  new Gauge({
    name: `${p}hash_pool_queued`,
    help: 'Hash jobs waiting for a worker of the shared SHA-256 pool (piscina queue size)',
    registers,
    collect() {
      this.set(hashStats().queued);
    },
  });
  const offRpc = node.rpc ? registerRpcMetrics(node.rpc, { registry, prefix: p }) : () => undefined;

  // Lane actors in flight: session id → direction and start time.
  const lanes = new Map<string, { direction: Direction; t0: number }>();
  const upBefore = new Set<string>();

  const offInspect = node.onInspect((e) => {
    if (e.type === '@xstate.actor') {
      const direction = LANE_MACHINES[machineIdOf(e.actorRef) ?? ''];
      if (!direction) return;
      lanes.set(e.actorRef.sessionId, { direction, t0: performance.now() });
      started.inc({ direction });
      return;
    }
    if (e.type !== '@xstate.snapshot') return;
    const snap = e.snapshot as { status: string; output?: LaneOutput };
    if (snap.status === 'active') return;
    const lane = lanes.get(e.actorRef.sessionId);
    if (!lane) return;
    lanes.delete(e.actorRef.sessionId);
    const { direction } = lane;
    const seconds = (performance.now() - lane.t0) / 1000;
    const out = snap.output;
    if (snap.status === 'done' && out?.status === 'acknowledged') {
      succeeded.inc({ direction });
      bytes.inc({ direction }, direction === 'send' ? (out.bytes ?? 0) : (out.size ?? 0));
      duration.observe({ direction, outcome: 'succeeded' }, seconds);
      return;
    }
    const reason =
      snap.status === 'stopped' ? 'STOPPED' : out?.status === 'rejected' ? 'REJECTED' : (out?.error?.code ?? (snap.status === 'error' ? 'INTERNAL' : 'UNKNOWN'));
    failed.inc({ direction, reason });
    duration.observe({ direction, outcome: 'failed' }, seconds);
  });

  const offPeer = node.onPeer((e) => {
    peerEvents.inc({ type: e.type.slice('peer.'.length) });
    if (e.type !== 'peer.up') return;
    if (upBefore.has(e.peer)) reconnects.inc();
    else upBefore.add(e.peer);
  });

  let closed = false;
  return {
    registry,
    close() {
      if (closed) return;
      closed = true;
      offInspect();
      offPeer();
      offRpc();
      loop.disable();
    },
  };
}
