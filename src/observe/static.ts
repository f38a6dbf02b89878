/**
 * The inspector page's files (src/observe/page/), served from the package itself: no CDN, no
 * external request. Only the listed files are served; everything is read once and cached.
 */
import { readFile } from 'node:fs/promises';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatAddress } from '../transport/address.js';

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/model.js': { file: 'model.js', type: 'text/javascript; charset=utf-8' },
  '/chart.js': { file: 'chart.js', type: 'text/javascript; charset=utf-8' },
  '/views.js': { file: 'views.js', type: 'text/javascript; charset=utf-8' },
  '/sources.js': { file: 'sources.js', type: 'text/javascript; charset=utf-8' },
  '/raft.js': { file: 'raft.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

const cache = new Map<string, Promise<Buffer>>();

/** True for the page's own files (code and style, no node data: served without the token). */
export const isPageFile = (pathname: string): boolean => pathname in FILES;

/** Writes the page file for `pathname` to `res`; false when there is none. */
export async function servePageFile(pathname: string, res: ServerResponse): Promise<boolean> {
  const entry = FILES[pathname];
  if (!entry) return false;
  let body = cache.get(entry.file);
  if (!body) {
    body = readFile(new URL(`./page/${entry.file}`, import.meta.url));
    cache.set(entry.file, body);
    body.catch(() => cache.delete(entry.file));
  }
  const bytes = await body;
  res.writeHead(200, {
    'content-type': entry.type,
    'cache-control': 'no-cache',
    'content-security-policy': "default-src 'self'; connect-src 'self' http://127.0.0.1:* http://localhost:*; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
  });
  res.end(bytes);
  return true;
}

/**
 * Starts `server` listening on `host:port` (port 0: any free one) and resolves with the bound
 * address (`host:port`, IPv6 in brackets) and its `http://…/` URL; rejects with the listen error
 * (EADDRINUSE, EACCES …).
 */
export async function listenHttp(server: Server, host: string, port: number): Promise<{ address: string; url: string }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const address = formatAddress(bound.address, bound.port);
  return { address, url: `http://${address}/` };
}
