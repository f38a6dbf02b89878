/**
 * The command-line side of the observe endpoint, for src/cli.ts to wire:
 *
 *   octopii serve … --observe [host:port] [--observe-token T]
 *       → `const obs = await serveObserve(node, { address, token })` after the node started;
 *         prints `{"event":"observing","url":"http://127.0.0.1:9101/"}`; `await obs.close()` before `node.stop()`.
 *   octopii observe --nodes http://127.0.0.1:9101,http://127.0.0.1:9102 [--listen 127.0.0.1:0]
 *       → `observeCommand({ nodes, address })`: the cluster view — a page server of its own whose
 *         `/` opens the inspector merging every node's stream (the nodes answer CORS for
 *         loopback origins); runs until SIGINT/SIGTERM.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OctopiiError } from '../errors.js';
import { startObserveServer, type ObserveServer, type ObservedNode, type ObservedRaft } from '../observe/server.js';
import { servePageFile } from '../observe/static.js';
import { formatAddress, isLoopbackHost, parseAddress } from '../transport/address.js';

const line = (obj: unknown) => `${JSON.stringify(obj)}\n`;

/** `serve --observe` (and `cluster run --observe`, with `raft`): starts the node's observe endpoint and prints where it is (`write: null`: prints nothing). */
export async function serveObserve(
  node: ObservedNode,
  options: { address?: string; token?: string; raft?: ObservedRaft; write?: ((line: string) => void) | null } = {},
): Promise<ObserveServer> {
  const write = options.write === undefined ? (l: string) => void process.stdout.write(l) : options.write;
  const server = await startObserveServer(node, {
    address: options.address ?? '127.0.0.1:0',
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.raft ? { raft: options.raft } : {}),
  });
  write?.(line({ event: 'observing', url: server.url, nodeId: node.nodeId }));
  return server;
}

export interface ObserveCommandOptions {
  /** Base URLs of the nodes' observe endpoints (`http://127.0.0.1:9101`). */
  nodes: string[];
  /** Loopback `host:port` for the page (default `127.0.0.1:0`). */
  address?: string;
  /** Resolve once serving instead of waiting for a signal. */
  detach?: boolean;
  write?: (line: string) => void;
}

/**
 * `octopii observe --nodes …`: serves the inspector page for several nodes. Resolves with the
 * page's URL and a `close` (when `detach`), or after a signal. Throws INVALID_ARGUMENT for no
 * nodes, a node URL that is not http(s), or a non-loopback listen address.
 */
export async function observeCommand(options: ObserveCommandOptions): Promise<{ url: string; close(): Promise<void> }> {
  const write = options.write ?? ((l: string) => void process.stdout.write(l));
  if (options.nodes.length === 0) throw new OctopiiError('INVALID_ARGUMENT', 'observe needs at least one --nodes URL');
  for (const n of options.nodes) {
    let u: URL;
    try {
      u = new URL(n);
    } catch {
      throw new OctopiiError('INVALID_ARGUMENT', `not a URL: "${n}"`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new OctopiiError('INVALID_ARGUMENT', `node URL must be http(s): "${n}"`);
  }
  const { host, port } = parseAddress(options.address ?? '127.0.0.1:0');
  if (!isLoopbackHost(host)) throw new OctopiiError('INVALID_ARGUMENT', `observe serves loopback addresses only, not ${formatAddress(host, port)}`);
  const query = `?nodes=${options.nodes.map((n) => encodeURIComponent(n.replace(/\/+$/, ''))).join(',')}`;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://observe');
    if (url.pathname === '/' && !url.searchParams.has('nodes')) {
      res.writeHead(302, { location: `/${query}` });
      return void res.end();
    }
    servePageFile(url.pathname, res).then(
      (served) => {
        if (!served) res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'NOT_FOUND' }));
      },
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  const url = `http://${formatAddress(bound.address, bound.port)}/${query}`;
  write(line({ event: 'observing', url, nodes: options.nodes }));
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  if (!options.detach) {
    await new Promise<void>((done) => {
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    await close();
  }
  return { url, close };
}
