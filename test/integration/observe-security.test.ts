/**
 * Who may reach the observe endpoint: loopback only without a token; with a token, every
 * request carries it; CORS for loopback origins only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startObserveServer, type ObserveServer } from '../../src/observe/server.js';
import { fakeNode } from './observe-fake-node.js';
import { get } from './observe-sse.js';

describe('observe endpoint access', () => {
  const node = fakeNode();
  let open: ObserveServer;
  let guarded: ObserveServer;
  let guardedUrl: string;

  beforeAll(async () => {
    open = await startObserveServer(node);
    guarded = await startObserveServer(node, { address: '0.0.0.0:0', token: 's3cret' });
    guardedUrl = `http://127.0.0.1:${guarded.address.split(':').pop()}/`;
  });

  afterAll(async () => {
    await open?.close();
    await guarded?.close();
    node.stop();
  });

  it('refuses a non-loopback address without a token', async () => {
    await expect(startObserveServer(node, { address: '0.0.0.0:0' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('refuses an empty token', async () => {
    await expect(startObserveServer(node, { address: '0.0.0.0:0', token: '' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('binds loopback by default', () => {
    expect(open.address).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('answers 401 without the token', async () => {
    const res = await get(`${guardedUrl}health`);
    expect([res.status, res.headers['www-authenticate']]).toEqual([401, 'Bearer']);
  });

  it('answers 401 with a wrong token', async () => {
    expect((await get(`${guardedUrl}health`, { authorization: 'Bearer s3creT' })).status).toBe(401);
  });

  it('answers with the bearer token', async () => {
    expect((await get(`${guardedUrl}health`, { authorization: 'Bearer s3cret' })).status).toBe(200);
  });

  it('answers with the token as a query parameter (EventSource cannot send headers)', async () => {
    expect((await get(`${guardedUrl}metrics?token=s3cret`)).status).toBe(200);
  });

  it('asks no token for the page itself (it holds no node data)', async () => {
    expect((await get(guardedUrl)).status).toBe(200);
  });

  it('asks the token for the event stream', async () => {
    expect((await get(`${guardedUrl}events`)).status).toBe(401);
  });

  it('lets a loopback origin read a route (cluster view)', async () => {
    const res = await get(`${open.url}health`, { origin: 'http://127.0.0.1:9102' });
    expect(res.headers['access-control-allow-origin']).toBe('http://127.0.0.1:9102');
  });

  it('gives other origins no CORS header', async () => {
    const res = await get(`${open.url}health`, { origin: 'http://example.com' });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers 404 for an unknown path', async () => {
    expect((await get(`${open.url}etc/passwd`)).status).toBe(404);
  });
});
