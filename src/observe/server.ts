/**
 * The observe endpoint of a node (node:http): the inspector page, Prometheus metrics, health,
 * machine charts and the live event stream.
 *
 *   const obs = await startObserveServer(node, { address: '127.0.0.1:9101' });
 *   obs.url  // http://127.0.0.1:9101/
 *   await obs.close();
 *
 * | route          | answer                                                                  |
 * | -------------- | ----------------------------------------------------------------------- |
 * | `GET /`        | the inspector page (page/index.html, app.js, style.css; no external requests) |
 * | `GET /metrics` | Prometheus text (prom-client, this node's own registry)                 |
 * | `GET /health`  | `{ status, mode, nodeId, address, transport, uptimeMs, peers: { up, down, total } }`, and `raft: { id, role, term, lead, commit, applied }` on a Raft member |
 * | `GET /machines`| `{ machines: [{ chart, layout }], skipped }` (catalogue.ts)             |
 * | `GET /events`  | SSE: `init`, then one record per inspection event (hub.ts), `dropped` if too slow |
 * | `GET /tree`    | `node.inspect()`                                                        |
 *
 * Security: only a loopback address (127.0.0.0/8, ::1, localhost) may be bound without a
 * token; with `token`, every request for node data (all routes but the page's own static files,
 * which a browser loads without headers) needs `Authorization: Bearer <token>` or
 * `?token=<token>` (EventSource cannot set headers; the page passes on the `?token=` it was
 * opened with). CORS: loopback origins may read every route, so one page
 * can merge several nodes' streams (`/?nodes=http://127.0.0.1:9101,http://127.0.0.1:9102`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { InspectionEvent } from 'xstate';
import { OctopiiError } from '../errors.js';
import type { ActorNode } from '../node/inspect.js';
import { formatAddress, isLoopbackHost, parseAddress } from '../transport/address.js';
import { createNodeMetrics, type NodeMetrics } from '../metrics/node.js';
import { registerRaftMetrics, type RaftMetricsSource } from '../metrics/raft.js';
import { MachineCatalogue } from './catalogue.js';
import { EventHub, type HubOptions } from './hub.js';
import { isPageFile, listenHttp, servePageFile } from './static.js';

/** What the observe server needs of a node (OctopiiNode fits). */
export interface ObservedNode {
  readonly nodeId: string;
  readonly address: string;
  readonly transportKind: string;
  /** Wall-clock ms the node started (uptime is counted from the server's start without it). */
  readonly startedAt?: number;
  onInspect(listener: (e: InspectionEvent) => void): () => void;
  onPeer(listener: (e: { type: 'peer.up' | 'peer.lost' | 'peer.unreachable'; peer: string }) => void): () => void;
  peers(): Array<{ id: string; state: string; connected: boolean }>;
  inspect(): { tree: ActorNode };
}

export interface ObserveServerOptions {
  /** `host:port` to listen on (default `127.0.0.1:0`: loopback, any free port). */
  address?: string;
  /** Required for a non-loopback address; then every request must carry it. */
  token?: string;
  /** Live stream limits (hub.ts). */
  stream?: Pick<HubOptions, 'maxBufferedBytes' | 'dropGraceMs' | 'history' | 'heartbeatMs'>;
  /** Use these metrics instead of creating the node's own. */
  metrics?: NodeMetrics;
  /** The node's Raft member (a RaftHost): its metrics (src/metrics/raft.ts) and its status in /health. */
  raft?: ObservedRaft;
}

/** What the observe server reads of a Raft member (RaftHost fits). */
export interface ObservedRaft extends RaftMetricsSource {
  status(): { id: number; role: string; term: number; lead: number; commit: number; applied: number; lastIndex: number };
}

export interface ObserveServer {
  /** `http://host:port/` of the page. */
  readonly url: string;
  /** Bound `host:port`. */
  readonly address: string;
  readonly hub: EventHub;
  readonly metrics: Registry;
  /** Stops listening, ends every stream, stops the metrics it created. Idempotent. */
  close(): Promise<void>;
}

const LOOPBACK_ORIGIN = /^https?:\/\/(127(?:\.\d{1,3}){3}|localhost|\[::1\])(?::\d+)?$/;

/**
 * Starts the observe endpoint of `node`. Throws INVALID_ARGUMENT for a non-loopback address
 * without a token or a malformed address; rejects with the listen error (EADDRINUSE …).
 */
export async function startObserveServer(node: ObservedNode, options: ObserveServerOptions = {}): Promise<ObserveServer> {
  const { host, port } = parseAddress(options.address ?? '127.0.0.1:0');
  const token = options.token;
  if (token !== undefined && token.length === 0) throw new OctopiiError('INVALID_ARGUMENT', 'observe token must not be empty');
  if (!isLoopbackHost(host) && token === undefined) {
    throw new OctopiiError('INVALID_ARGUMENT', `refusing to serve the observe endpoint on non-loopback ${formatAddress(host, port)} without a token`);
  }
  const started = Date.now();
  const ownMetrics = options.metrics ? undefined : createNodeMetrics(node);
  const metrics = (options.metrics ?? ownMetrics)!;
  const catalogue = new MachineCatalogue();
  const hub = new EventHub(node, { ...options.stream, onMachine: (m) => catalogue.add(m) });
  // Lay the charts out now (in a worker), so the page's first /machines is quick.
  void catalogue.document().catch(() => undefined);
  // A registry shared by several servers (options.metrics) gets these once, from the first.
  if (!metrics.registry.getSingleMetric('octopii_observe_clients')) {
    new Gauge({ name: 'octopii_observe_clients', help: 'Live event stream clients', registers: [metrics.registry], collect() { this.set(hub.clients); } });
    const drops = new Counter({ name: 'octopii_observe_dropped_clients_total', help: 'Event stream clients dropped for being slow', registers: [metrics.registry] });
    hub.onDrop(() => drops.inc());
  }

  const raft = options.raft;
  const offRaft = raft ? registerRaftMetrics(raft, { registry: metrics.registry }) : () => undefined;

  const health = () => {
    const peers = node.peers();
    const up = peers.filter((p) => p.connected).length;
    const r = raft?.status();
    return {
      status: 'ok',
      mode: 'live',
      nodeId: node.nodeId,
      address: node.address,
      transport: node.transportKind,
      uptimeMs: Date.now() - (node.startedAt ?? started),
      peers: { up, down: peers.length - up, total: peers.length },
      ...(r ? { raft: { id: r.id, role: r.role, term: r.term, lead: r.lead, commit: r.commit, applied: r.applied } } : {}),
    };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://observe');
    cors(req, res);
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    if (token !== undefined && !isPageFile(url.pathname) && !authorized(req, url, token)) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
      return void res.end(JSON.stringify({ error: 'UNAUTHENTICATED', message: 'missing or wrong bearer token' }));
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'METHOD_NOT_ALLOWED' });
    switch (url.pathname) {
      case '/metrics': {
        const body = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
        return void res.end(body);
      }
      case '/health':
        return json(res, 200, health());
      case '/machines':
        return json(res, 200, await catalogue.document());
      case '/tree':
        return json(res, 200, node.inspect());
      case '/events':
        hub.attach(res);
        return;
      default:
        if (!(await servePageFile(url.pathname, res))) json(res, 404, { error: 'NOT_FOUND', path: url.pathname });
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) json(res, 500, { error: 'INTERNAL', message: e instanceof Error ? e.message : String(e) });
      else res.destroy();
    });
  });
  const { address, url } = await listenHttp(server, host, port);
  let closing: Promise<void> | undefined;
  return {
    url,
    address,
    hub,
    metrics: metrics.registry,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        hub.close();
        offRaft();
        ownMetrics?.close();
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** Lets loopback origins (another node's page) read this node's routes. */
export function cors(req: IncomingMessage, res: ServerResponse): void {
  const origin = req.headers.origin;
  if (!origin || !LOOPBACK_ORIGIN.test(origin)) return;
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('vary', 'Origin');
  res.setHeader('access-control-allow-headers', 'authorization');
  res.setHeader('access-control-allow-methods', 'GET, OPTIONS');
}

function authorized(req: IncomingMessage, url: URL, token: string): boolean {
  const header = req.headers.authorization;
  const given = header?.startsWith('Bearer ') ? header.slice(7) : url.searchParams.get('token');
  if (given === null || given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
