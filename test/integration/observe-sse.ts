/**
 * A small SSE client for the observe tests (node:http): collects `init`, records and `dropped`
 * notices of `GET /events`, and waits for a record matching a predicate.
 */
import { request, type IncomingMessage } from 'node:http';
import type { ObserveEvent } from '../../src/observe/events.js';
import type { InitMessage } from '../../src/observe/hub.js';

export class SseClient {
  init: InitMessage | undefined;
  readonly records: ObserveEvent[] = [];
  readonly notices: Array<{ event: string; data: unknown }> = [];
  ended = false;
  #buf = '';
  #res: IncomingMessage | undefined;
  #waiters: Array<() => void> = [];

  private constructor() {}

  /** Connects to `url` (the server's /events) and resolves once `init` arrived. */
  static async connect(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const c = new SseClient();
    await new Promise<void>((resolve, reject) => {
      const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        c.#res = res;
        if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          c.#feed(chunk);
          if (c.init) resolve();
        });
        res.on('end', () => {
          c.ended = true;
          c.#wake();
        });
        res.on('error', () => undefined);
      });
      req.on('error', reject);
      req.end();
    });
    return c;
  }

  /** Resolves with the first record (past or future) matching `pred`; rejects after `timeoutMs`. */
  async waitFor(pred: (r: ObserveEvent) => boolean, timeoutMs = 30_000): Promise<ObserveEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.records.find(pred);
      if (hit) return hit;
      if (this.ended) throw new Error('stream ended');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a record');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.#res?.destroy();
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  #feed(chunk: string): void {
    this.#buf += chunk;
    let i: number;
    while ((i = this.#buf.indexOf('\n\n')) >= 0) {
      const block = this.#buf.slice(0, i);
      this.#buf = this.#buf.slice(i + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length === 0) continue;
      const parsed = JSON.parse(data.join('\n'));
      if (event === 'init') this.init = parsed as InitMessage;
      else if (event === 'message') this.records.push(parsed as ObserveEvent);
      else this.notices.push({ event, data: parsed });
    }
    this.#wake();
  }
}

/** Prometheus text → `name{labels}` → value (labels as printed, sorted by prom-client). */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+?(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** GET `url` → status, headers and body text. */
export function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
