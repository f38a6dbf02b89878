/**
 * The observe endpoint over a real transfer: two nodes on 127.0.0.1 over QUIC (quinn), an
 * observe server on each, an SSE client attached before the transfer. The lane machines' states
 * arrive in order, /metrics counts the transfer, /health tells the peers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { OctopiiNode } from '../../src/node.js';
import { startObserveServer, type ObserveServer } from '../../src/observe/server.js';
import type { ObserveEvent } from '../../src/observe/events.js';
import { NodePool, tempDir } from '../helpers/laneFixtures.js';
import { SseClient, get, parseMetrics } from './observe-sse.js';

const SIZE = 3 * 1024 * 1024 + 17;

/** The phases (two levels deep: `receiving.streaming`) of `machine`'s snapshots, consecutive repeats collapsed. */
function phases(records: ObserveEvent[], machine: string): string[] {
  const out: string[] = [];
  for (const r of records) {
    if (r.kind !== 'snapshot' || r.actor.machine !== machine) continue;
    const top = r.state.split('.').slice(0, 2).join('.');
    if (out[out.length - 1] !== top) out.push(top);
  }
  return out;
}

describe('observe endpoint during a real transfer (quinn, 127.0.0.1)', () => {
  let root: string;
  let pool: NodePool;
  let sender: OctopiiNode;
  let receiver: OctopiiNode;
  let senderObs: ObserveServer;
  let receiverObs: ObserveServer;
  let senderStream: SseClient;
  let receiverStream: SseClient;

  beforeAll(async () => {
    root = await tempDir('octopii-observe-');
    pool = new NodePool(root);
    receiver = await pool.start({ transport: 'quinn' });
    sender = await pool.start({ transport: 'quinn' });
    receiverObs = await startObserveServer(receiver);
    senderObs = await startObserveServer(sender);
    receiverStream = await SseClient.connect(`${receiverObs.url}events`);
    senderStream = await SseClient.connect(`${senderObs.url}events`);
    const r = await sender.send({ address: receiver.address, nodeId: receiver.nodeId }, { kind: 'memory', data: randomBytes(SIZE) });
    expect(r.success).toBe(true);
    await receiverStream.waitFor((e) => e.kind === 'snapshot' && e.actor.machine === 'laneReceive' && e.status === 'done');
    await senderStream.waitFor((e) => e.kind === 'snapshot' && e.actor.machine === 'laneSend' && e.status === 'done');
  });

  afterAll(async () => {
    receiverStream?.close();
    senderStream?.close();
    await receiverObs?.close();
    await senderObs?.close();
    await pool?.stopAll();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('streams the receiving lane machine through its states in order', () => {
    expect(phases(receiverStream.records, 'laneReceive')).toEqual(['idle', 'receiving.header', 'receiving.streaming', 'receiving.draining', 'receiving.committing', 'acknowledging', 'closing', 'acknowledged']);
  });

  it('streams the sending lane machine through its states in order', () => {
    expect(phases(senderStream.records, 'laneSend')).toEqual(['idle', 'working.opening', 'working.sending', 'working.verifying', 'closing', 'acknowledged']);
  });

  it('names the lane actor under its peer', () => {
    const snap = receiverStream.records.find((e) => e.kind === 'snapshot' && e.actor.machine === 'laneReceive')!;
    expect(snap.actor.id).toMatch(new RegExp(`^peer:${sender.nodeId}/receive#\\d+$`));
  });

  it('summarises contexts: sizes, never bytes', () => {
    const done = receiverStream.records.find((e) => e.kind === 'snapshot' && e.actor.machine === 'laneReceive' && e.status === 'done');
    expect(done).toMatchObject({ context: { size: SIZE, laneStatus: 0 }, output: { status: 'acknowledged' } });
  });

  it('starts a new client with the live actors', async () => {
    const late = await SseClient.connect(`${receiverObs.url}events`);
    late.close();
    expect(late.init!.actors.map((a) => a.actor.id)).toContain(`peer:${sender.nodeId}`);
  });

  it('counts the received transfer in /metrics', async () => {
    const res = await get(`${receiverObs.url}metrics`);
    const m = parseMetrics(res.body);
    expect({
      started: m.get('octopii_transfers_started_total{direction="receive"}'),
      succeeded: m.get('octopii_transfers_succeeded_total{direction="receive"}'),
      bytes: m.get('octopii_transfer_bytes_total{direction="receive"}'),
      durations: m.get('octopii_transfer_duration_seconds_count{direction="receive",outcome="succeeded"}'),
      peersConnected: m.get('octopii_peers{state="connected"}'),
    }).toEqual({ started: 1, succeeded: 1, bytes: SIZE, durations: 1, peersConnected: 1 });
  });

  it('counts the sent transfer in /metrics', async () => {
    const m = parseMetrics((await get(`${senderObs.url}metrics`)).body);
    expect([m.get('octopii_transfers_succeeded_total{direction="send"}'), m.get('octopii_transfer_bytes_total{direction="send"}')]).toEqual([1, SIZE]);
  });

  it('serves Prometheus text with its content type', async () => {
    const res = await get(`${receiverObs.url}metrics`);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('reports the event-loop delay', async () => {
    const m = parseMetrics((await get(`${receiverObs.url}metrics`)).body);
    expect(m.get('octopii_event_loop_delay_seconds{quantile="max"}')).toBeGreaterThan(0);
  });

  it('reports the hash pool the transfer used', async () => {
    const m = parseMetrics((await get(`${receiverObs.url}metrics`)).body);
    expect(m.get('octopii_hash_pool_threads')).toBeGreaterThan(0);
  });

  it('counts live actors by machine', async () => {
    const m = parseMetrics((await get(`${receiverObs.url}metrics`)).body);
    expect([m.get('octopii_actors{machine="node"}'), m.get('octopii_actors{machine="peer"}')]).toEqual([1, 1]);
  });

  it('answers /health with the node ID, uptime and peers', async () => {
    const res = await get(`${receiverObs.url}health`);
    const h = JSON.parse(res.body);
    expect({ ...h, uptimeMs: typeof h.uptimeMs }).toEqual({
      status: 'ok',
      mode: 'live',
      nodeId: receiver.nodeId,
      address: receiver.address,
      transport: 'quinn',
      uptimeMs: 'number',
      peers: { up: 1, down: 0, total: 1 },
    });
  });

  it('serves every built-in machine chart with a layout', async () => {
    const doc = JSON.parse((await get(`${receiverObs.url}machines`)).body);
    // Built-in charts and the machines seen running, in the order they were first needed.
    const served = doc.machines.map((m: { chart: { id: string }; layout: unknown }) => [m.chart.id, m.layout !== null]) as Array<[string, boolean]>;
    expect(served.sort(([a], [b]) => a.localeCompare(b))).toEqual(
      ['admission', 'blobBatch', 'blobFetch', 'blobMulti', 'blobMultiProvider', 'blobProvide', 'breaker', 'laneReceive', 'laneSend', 'node', 'peer', 'raft', 'rpcCall'].map((id) => [id, true]),
    );
  });

  it('serves the page without external references', async () => {
    const pages = await Promise.all(['', 'app.js', 'chart.js', 'model.js', 'views.js', 'sources.js', 'raft.js', 'style.css'].map((p) => get(`${receiverObs.url}${p}`)));
    expect(pages.map((p) => [p.status, /https?:\/\/(?!127\.0\.0\.1|localhost)[a-z]/i.test(p.body.replace(/http:\/\/www\.w3\.org\/2000\/svg/g, ''))])).toEqual(pages.map(() => [200, false]));
  });
});
