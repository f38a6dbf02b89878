/**
 * The inspector page over a flight recording (recorder.ts) instead of a live node: the same page,
 * which sees `mode: 'replay'` in `/health` and steps through `/recording` itself (play, pause,
 * step, seek, speed). Loopback only: a recording can hold peer IDs and sizes, and needs no token.
 *
 * | route           | answer                                                     |
 * | --------------- | ---------------------------------------------------------- |
 * | `GET /`         | the inspector page                                         |
 * | `GET /health`   | `{ status, mode: 'replay', nodeId, events, dropped, startedAt, writtenAt }` |
 * | `GET /machines` | the recording's charts, laid out                           |
 * | `GET /recording`| `{ header, events }` as JSON                               |
 */
import { createServer, type Server } from 'node:http';
import { OctopiiError } from '../errors.js';
import { formatAddress, isLoopbackHost, parseAddress } from '../transport/address.js';
import { MachineCatalogue } from './catalogue.js';
import type { Recording } from './recorder.js';
import { cors } from './server.js';
import { listenHttp, servePageFile } from './static.js';

export interface ReplayServer {
  readonly url: string;
  readonly address: string;
  close(): Promise<void>;
}

/** Serves `recording` on `address` (default `127.0.0.1:0`). Throws INVALID_ARGUMENT for a non-loopback address. */
export async function startReplayServer(recording: Recording, options: { address?: string } = {}): Promise<ReplayServer> {
  const { host, port } = parseAddress(options.address ?? '127.0.0.1:0');
  if (!isLoopbackHost(host)) throw new OctopiiError('INVALID_ARGUMENT', `replay serves loopback addresses only, not ${formatAddress(host, port)}`);
  const catalogue = new MachineCatalogue(recording.header.machines);
  const body = JSON.stringify(recording);
  const { header } = recording;
  const send = (res: import('node:http').ServerResponse, status: number, json: string) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(json);
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://replay');
    cors(req, res);
    const route = async () => {
      switch (url.pathname) {
        case '/health':
          return send(res, 200, JSON.stringify({ status: 'ok', mode: 'replay', nodeId: header.nodeId, events: recording.events.length, dropped: header.dropped, startedAt: header.startedAt, writtenAt: header.writtenAt }));
        case '/machines':
          return send(res, 200, JSON.stringify(await catalogue.document()));
        case '/recording':
          return send(res, 200, body);
        default:
          if (!(await servePageFile(url.pathname, res))) send(res, 404, JSON.stringify({ error: 'NOT_FOUND', path: url.pathname }));
      }
    };
    route().catch((e) => (res.headersSent ? res.destroy() : send(res, 500, JSON.stringify({ error: 'INTERNAL', message: String(e) }))));
  });
  const { address, url } = await listenHttp(server, host, port);
  return {
    url,
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
