/**
 * /metrics beyond transfers, on real QUIC sockets (quinn, 127.0.0.1): RPC calls counted by
 * side, method and code with their latency histogram (src/metrics/rpc.ts), and a Raft member's
 * term, indexes, proposals and WAL syncs after a write (src/metrics/raft.ts), served by the
 * observe endpoint `cluster run --observe` starts (runMember with `observe`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { OctopiiNode } from '../../src/node.js';
import { startObserveServer, type ObserveServer } from '../../src/observe/server.js';
import { clusterClient, clusterInit, runMember, type RunningMember } from '../../src/cli/cluster.js';
import { createPinoLogger } from '../../src/log/pino.js';
import { NodePool, tempDir } from '../helpers/laneFixtures.js';
import { kv, kvHandlers } from '../helpers/rpcFixtures.js';
import { get, parseMetrics } from './observe-sse.js';

describe('RPC metrics after real calls (quinn, 127.0.0.1)', () => {
  let root: string;
  let pool: NodePool;
  let caller: OctopiiNode;
  let callee: OctopiiNode;
  let callerObs: ObserveServer;
  let calleeObs: ObserveServer;

  beforeAll(async () => {
    root = await tempDir('octopii-observe-metrics-');
    pool = new NodePool(root);
    callee = await pool.start({ transport: 'quinn' });
    caller = await pool.start({ transport: 'quinn' });
    callee.serve(kv, kvHandlers(new Map([['k', 'v']])));
    calleeObs = await startObserveServer(callee);
    callerObs = await startObserveServer(caller);
    const c = caller.client(kv, { address: callee.address, nodeId: callee.nodeId });
    expect(await c.get({ key: 'k' })).toEqual({ value: 'v' });
    expect(await c.get({ key: 'nope' })).toEqual({ value: null });
    await expect(c.boom({})).rejects.toMatchObject({ code: 'INTERNAL' });
  });

  afterAll(async () => {
    await callerObs?.close();
    await calleeObs?.close();
    await pool?.stopAll();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('counts the calls the server answered by method and code', async () => {
    const m = parseMetrics((await get(`${calleeObs.url}metrics`)).body);
    expect([
      m.get('octopii_rpc_calls_total{side="server",method="kv.get",code="OK"}'),
      m.get('octopii_rpc_calls_total{side="server",method="kv.boom",code="INTERNAL"}'),
      m.get('octopii_rpc_call_duration_seconds_count{side="server",method="kv.get"}'),
    ]).toEqual([2, 1, 2]);
  });

  it('counts the calls the client made by method and code, with their latency', async () => {
    const m = parseMetrics((await get(`${callerObs.url}metrics`)).body);
    expect([
      m.get('octopii_rpc_calls_total{side="client",method="kv.get",code="OK"}'),
      m.get('octopii_rpc_calls_total{side="client",method="kv.boom",code="INTERNAL"}'),
      m.get('octopii_rpc_call_duration_seconds_count{side="client",method="kv.get"}'),
      m.get('octopii_rpc_call_duration_seconds_bucket{le="+Inf",side="client",method="kv.get"}'),
    ]).toEqual([2, 1, 2, 2]);
    expect(m.get('octopii_rpc_call_duration_seconds_sum{side="client",method="kv.get"}')).toBeGreaterThan(0);
  });

  it('reports the hash pool queue depth', async () => {
    const m = parseMetrics((await get(`${calleeObs.url}metrics`)).body);
    expect(m.get('octopii_hash_pool_queued')).toBe(0);
  });
});

describe('Raft and WAL metrics of a cluster member after a write (quinn, 127.0.0.1)', () => {
  let dir: string;
  let member: RunningMember;
  let health: { raft: { role: string; term: number; commit: number; applied: number; lead: number } };
  let m: Map<string, number>;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    dir = await tempDir('octopii-observe-raft-');
    const [config] = await clusterInit({ nodes: 1, dir: join(dir, 'c'), tickMs: 20, electionTick: 5 });
    const logger = createPinoLogger({ level: 'info', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
    member = await runMember(config!, { observe: '127.0.0.1:0', logger });
    const c = await clusterClient(join(dir, 'c'), { timeoutMs: 10_000 });
    try {
      expect(await c.client.put('x', '1')).toMatchObject({ ok: true });
    } finally {
      await c.close();
    }
    health = JSON.parse((await get(`${member.observe}health`)).body);
    m = parseMetrics((await get(`${member.observe}metrics`)).body);
  });

  afterAll(async () => {
    await member?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('/health carries the member\'s role, term and commit index', () => {
    expect(health.raft).toEqual({ id: 1, role: 'leader', term: member.host.status().term, lead: 1, commit: member.host.status().commit, applied: member.host.applied });
  });

  it('exports the term, commit and applied index and the role', () => {
    expect([m.get('octopii_raft_term'), m.get('octopii_raft_commit_index'), m.get('octopii_raft_applied_index'), m.get('octopii_raft_role{role="leader"}')]).toEqual([
      health.raft.term,
      health.raft.commit,
      health.raft.applied,
      1,
    ]);
    expect(health.raft.commit).toBeGreaterThanOrEqual(2); // the leader's no-op and the put
  });

  it('counts the leader change and the proposal', () => {
    expect([m.get('octopii_raft_leader_changes_total'), m.get('octopii_raft_proposals_total{code="OK"}'), m.get('octopii_raft_proposal_duration_seconds_count')]).toEqual([1, 1, 1]);
  });

  it('logs the new leader once, with its term', () => {
    expect(lines.filter((l) => l.event === 'raft.leader').map(({ id, lead, term, nodeId }) => ({ id, lead, term, nodeId }))).toEqual([
      { id: 1, lead: 1, term: health.raft.term, nodeId: member.node.nodeId },
    ]);
  });

  it('counts WAL syncs with their latency and batch sizes', () => {
    const syncs = m.get('octopii_wal_syncs_total')!;
    expect(syncs).toBeGreaterThanOrEqual(2); // the election's hard state, the put's entry
    expect([m.get('octopii_wal_sync_duration_seconds_count'), m.get('octopii_wal_batch_calls_count'), m.get('octopii_wal_batch_bytes_count')]).toEqual([syncs, syncs, syncs]);
  });
});
