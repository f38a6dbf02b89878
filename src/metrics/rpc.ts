/**
 * Prometheus metrics of RPC calls (seed 002 "metrics", seed 004 Prometheus roadmap), fed from
 * the client's and the server's call records (src/rpc/callRecord.ts: one per finished call, so
 * nothing runs per message):
 *
 *   octopii_rpc_calls_total{side,method,code}                 counter
 *   octopii_rpc_call_duration_seconds{side,method}            histogram (start to end of the call)
 *
 * `side` is `client` (calls made) or `server` (calls served); `method` is `service.method`
 * (`(unknown)` for requests of methods the server does not serve, so a peer cannot grow the
 * label set); `code` is `OK` or the error code.
 *
 *   const off = registerRpcMetrics(node.rpc, { registry });   // … off() to stop feeding
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { RpcCallListener } from '../rpc/callRecord.js';

/** What the RPC metrics listen to (a node's `rpc` fits). */
export interface RpcMetricsSource {
  onCall(listener: RpcCallListener): () => void;
}

/** Latency buckets, seconds: 0.5 ms to 30 s. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Registers the RPC metrics in `registry` and starts feeding them; returns the unsubscribe. */
export function registerRpcMetrics(source: RpcMetricsSource, options: { registry: Registry; prefix?: string }): () => void {
  const p = options.prefix ?? 'octopii_';
  const registers = [options.registry];
  const calls = new Counter({ name: `${p}rpc_calls_total`, help: 'RPC calls finished, by side (client: made, server: served), method and outcome code', labelNames: ['side', 'method', 'code'], registers });
  const latency = new Histogram({ name: `${p}rpc_call_duration_seconds`, help: 'RPC call duration from its start to its end, by side and method', labelNames: ['side', 'method'], buckets: BUCKETS, registers });
  return source.onCall((r) => {
    calls.inc({ side: r.side, method: r.method, code: r.code });
    latency.observe({ side: r.side, method: r.method }, r.ms / 1000);
  });
}
