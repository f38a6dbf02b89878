/**
 * A client that stops reading the event stream is dropped once its unsent bytes pass the bound;
 * it gets an `event: dropped` notice after what it already had, and the other clients go on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { setImmediate as tick } from 'node:timers/promises';
import { startObserveServer, type ObserveServer } from '../../src/observe/server.js';
import { fakeNode } from './observe-fake-node.js';
import { SseClient } from './observe-sse.js';

describe('slow event-stream client', () => {
  const node = fakeNode();
  let server: ObserveServer;
  let slow: Socket;
  let fast: SseClient;
  let ticks = 0;
  let dropNotice = '';

  beforeAll(async () => {
    server = await startObserveServer(node, { stream: { maxBufferedBytes: 64 * 1024, dropGraceMs: 60_000 } });
    fast = await SseClient.connect(`${server.url}events`);
    const port = Number(server.address.split(':').pop());
    slow = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => slow.once('connect', () => resolve()));
    slow.write('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
    slow.pause(); // reads nothing from now on
    while (server.hub.clients < 2) await tick();
    // Emit events until the hub drops the slow client (bounded: the kernel buffers a few MB).
    // Small bursts, so the fast client (in this process) reads between them.
    while (server.hub.dropped === 0 && ticks < 400_000) {
      node.tick(20);
      ticks += 20;
      await tick();
    }
    // Now read what the slow client was sent, to its end.
    const chunks: Buffer[] = [];
    slow.on('data', (c: Buffer) => chunks.push(c));
    await new Promise<void>((resolve) => {
      slow.once('end', () => resolve());
      slow.resume();
    });
    dropNotice = Buffer.concat(chunks).toString('utf8').slice(-300);
  });

  afterAll(async () => {
    slow?.destroy();
    fast?.close();
    await server?.close();
    node.stop();
  });

  it('drops the slow client', () => {
    expect(server.hub.dropped).toBe(1);
  });

  it('ends its stream with a dropped notice', () => {
    // The last chunk of the (chunked) response, then its terminator.
    expect(dropNotice).toMatch(/event: dropped\ndata: \{"reason":"slow client","bufferedBytes":\d+,"limit":65536\}\n\n\r\n0\r\n\r\n$/);
  });

  it('keeps the other client', () => {
    expect(server.hub.clients).toBe(1);
  });

  it('keeps delivering to the other client', async () => {
    node.tick(1);
    const n = ticks + 1;
    const last = await fast.waitFor((r) => r.kind === 'snapshot' && r.context.n === n);
    expect(last.kind).toBe('snapshot');
  });
});
