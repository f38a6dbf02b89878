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

  it("each member's raft actor runs under its node's supervisor as raft:<id>, its state the member's role", async () => {
    sim = await KvSim.create(3, 1);
    const s = sim;
    await s.until(() => s.leader() !== undefined, 10_000);
    const roles = [...s.running.entries()].map(([id, m]) => {
      const node = s.world.node(m.name).inspect().tree.children.find((c) => c.id === `raft:${id}`);
      return [node?.machine, node?.state === m.host.raw.status().role];
    });
    expect(roles).toEqual([
      ['raft', true],
      ['raft', true],
      ['raft', true],
    ]);
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

  it('a client that times out and retries has its write applied once, with the first answer', async () => {
    sim = await KvSim.create(3, 3);
    const s = sim;
    await s.until(() => s.leader() !== undefined, 10_000);
    const client = await s.client('c1', { timeoutMs: 5000, attemptMs: 200 });
    await s.drive(client.put('warm', 'up'));
    const leader = s.leader()!;
    // Answers from the leader now take 300 ms: the first attempt times out, the request still lands.
    s.world.network.setDelay(s.world.ref('c1').address, s.world.ref(s.name(leader)).address, 300);
    const pending = client.cas('x', null, '1');
    await s.advance(700);
    s.world.network.setDelay(s.world.ref('c1').address, s.world.ref(s.name(leader)).address, 0);
    const r = await s.drive(pending);
    const sm = s.running.get(leader)!.sm;
    expect([r, sm.get('x'), sm.counts.duplicates >= 1, client.retries >= 1]).toEqual([{ ok: true, prev: null }, '1', true, true]);
  });

  it('a member whose disk refuses writes stops taking writes with DISK_FULL, then recovers', async () => {
    sim = await KvSim.create(3, 4);
    const s = sim;
    await s.until(() => s.leader() !== undefined, 10_000);
    const leader = s.leader()!;
    const m = s.running.get(leader)!;
    m.fs.failWrites = 'ENOSPC';
    const p = m.host.propose(new TextEncoder().encode('x'), { timeoutMs: 1000 });
    const err = await s.drive(p.then(() => null, (e) => e as { code: string }));
    const refused = (() => {
      try {
        m.host.propose(new TextEncoder().encode('y'));
        return null;
      } catch (e) {
        return (e as { code: string }).code;
      }
    })();
    m.fs.failWrites = null;
    const recovered = await s.until(() => m.host.diskError === null, 5000);
    expect([err?.code, refused, recovered]).toEqual(['DISK_FULL', 'DISK_FULL', true]);
  });

  it('writes go on through another member while one member\'s disk is full', async () => {
    sim = await KvSim.create(3, 5);
    const s = sim;
    await s.until(() => s.leader() !== undefined, 10_000);
    s.running.get(s.leader()!)!.fs.failWrites = 'ENOSPC';
    const client = await s.client('c1', { timeoutMs: 8000, attemptMs: 300 });
    expect(await s.drive(client.put('k', 'v'))).toEqual({ ok: true, prev: null });
  });
});
