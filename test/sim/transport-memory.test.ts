/**
 * MemoryTransport (src/transport/memory.ts): the shared transport contract, its own fault
 * injection and backpressure, and one seeded simulation of nodes whose connection machines
 * reconnect through random partitions and crashes (TigerBeetle VOPR style, small).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createActor, SimulatedClock, type ActorRefFrom } from 'xstate';
import { transportContract, readAll, writeAll, echo, roundTrip } from '../transport/contract.js';
import { MemoryNetwork, type Delivery, type MemoryTransport } from '../../src/transport/memory.js';
import { generateIdentity } from '../../src/identity.js';
import { OctopiiError } from '../../src/errors.js';
import type { PeerConnection } from '../../src/transport/types.js';
import { createConnectionLogic, type ConnectionLogic } from '../../src/connection.js';
import { supervisedChild, supervisorMachine } from '../../machines/node.js';
import { Random } from './random.js';

const contractNetwork = new MemoryNetwork();
transportContract('memory', {
  create: async (options) => contractNetwork.transport({ identity: generateIdentity(), ...options }),
  listenAddresses: ['127.0.0.1:0', '[::1]:0'],
  deadAddress: () => '127.0.0.1:9',
  protocols: ['octopii', 'lane-v1'],
  serverRefusal: 'dial',
});

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('MemoryTransport faults and backpressure', () => {
  let transports: MemoryTransport[] = [];
  const node = (network: MemoryNetwork, options: { allowPeers?: string[] } = {}) => {
    const t = network.transport({ identity: generateIdentity(), ...options });
    transports.push(t);
    return t;
  };
  afterEach(async () => {
    await Promise.all(transports.map((t) => t.close()));
    transports = [];
  });

  it('bounds buffered bytes per direction: a writer waits until the reader pulls', async () => {
    const network = new MemoryNetwork({ highWaterMark: 1024 });
    const a = node(network);
    const b = node(network);
    const accepted: Array<ReadableStream<Uint8Array>> = [];
    b.onConnection((c) => c.onStream((s) => accepted.push(s.readable)));
    const { address } = await b.listen({ address: '127.0.0.1:0' });
    const conn = await a.dial(address, { expectedNodeId: b.nodeId });
    const s = await conn.openStream();
    const writer = s.writable.getWriter();
    let delivered = 0;
    network.onDeliver((d) => (delivered += d.bytes));
    const writes: Array<Promise<void>> = [];
    for (let i = 0; i < 10; i++) writes.push(writer.write(new Uint8Array(512).fill(i)));
    const settled = Promise.allSettled(writes);
    await flush();
    // Reader queue (1 KiB) full; the writer's queue (1 KiB) full: writer.ready is pending.
    expect(delivered).toBe(1024);
    expect(writer.desiredSize).toBeLessThanOrEqual(0);
    let ready = false;
    void writer.ready.then(() => (ready = true));
    await flush();
    expect(ready).toBe(false);
    // The reader drains: everything arrives in order.
    const reader = accepted[0]!.getReader();
    const got: number[] = [];
    while (got.length < 10 * 512) {
      const { value } = await reader.read();
      got.push(...value!);
    }
    await settled;
    expect(ready).toBe(true);
    expect(got.filter((_, i) => i % 512 === 0)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(delivered).toBe(10 * 512);
  });

  it('partition closes connections on both sides, dials time out on the clock, heal restores', async () => {
    const clock = new SimulatedClock();
    const network = new MemoryNetwork({ clock });
    const a = node(network);
    const b = node(network);
    const inbound: PeerConnection[] = [];
    b.onConnection((c) => {
      inbound.push(c);
      c.onStream(echo);
    });
    const { address } = await b.listen({ address: '127.0.0.1:0' });
    const conn = await a.dial(address, { expectedNodeId: b.nodeId });
    const errors: Array<Error | undefined> = [];
    conn.onClose((e) => errors.push(e));
    inbound[0]!.onClose((e) => errors.push(e));
    network.partition(a.nodeId, address);
    expect(network.isPartitioned(address, b.nodeId)).toBe(false);
    expect(network.isPartitioned(b.nodeId, a.nodeId)).toBe(true);
    await flush();
    expect(errors).toHaveLength(2);
    for (const e of errors) expect((e as OctopiiError).code).toBe('CONNECTION_CLOSED');
    expect(network.links()).toHaveLength(0);

    let outcome: unknown;
    const dial = a.dial(address, { expectedNodeId: b.nodeId, timeoutMs: 777 }).then(
      () => (outcome = 'connected'),
      (e: unknown) => (outcome = e),
    );
    await flush();
    clock.increment(776);
    await flush();
    expect(outcome).toBeUndefined();
    clock.increment(1);
    await dial;
    expect(outcome).toMatchObject({ code: 'CONNECT_TIMEOUT' });

    network.heal();
    const again = await a.dial(address, { expectedNodeId: b.nodeId });
    expect(await roundTrip(again, Uint8Array.of(9, 9))).toEqual(Uint8Array.of(9, 9));
  });

  it('crash drops every connection of a node, refuses dials until restart', async () => {
    const network = new MemoryNetwork();
    const server = node(network);
    const c1 = node(network);
    const c2 = node(network);
    server.onConnection((c) => c.onStream(echo));
    const { address } = await server.listen({ address: '[::1]:0' });
    const k1 = await c1.dial(address);
    const k2 = await c2.dial(address);
    const s = await k1.openStream();
    const reading = readAll(s.readable);
    reading.catch(() => {});
    const lost: Array<Error | undefined> = [];
    k1.onClose((e) => lost.push(e));
    k2.onClose((e) => lost.push(e));
    network.crash(address);
    await flush();
    expect(lost.map((e) => (e as OctopiiError).code)).toEqual(['CONNECTION_CLOSED', 'CONNECTION_CLOSED']);
    await expect(reading).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    await expect(c1.dial(address)).rejects.toMatchObject({ code: 'CONNECTION_REFUSED' });
    expect(network.isDown(address)).toBe(true);
    network.restart(address);
    const k3 = await c1.dial(address, { expectedNodeId: server.nodeId });
    expect(await roundTrip(k3, Uint8Array.of(1))).toEqual(Uint8Array.of(1));
  });

  it('numbers streams like QUIC and delivers them in a defined order', async () => {
    const network = new MemoryNetwork();
    const a = node(network);
    const b = node(network);
    const seen: Array<string | number> = [];
    b.onConnection((c) => c.onStream((s) => {
      seen.push(s.id);
      void readAll(s.readable).then((bytes) => seen.push(`${s.id}:${bytes.length}`));
    }));
    const { address } = await b.listen({ address: '127.0.0.1:0' });
    const conn = await a.dial(address);
    const streams = await Promise.all([conn.openStream(), conn.openStream(), conn.openStream()]);
    expect(streams.map((s) => s.id)).toEqual([0, 4, 8]);
    await Promise.all(streams.map((s, i) => writeAll(s.writable, new Uint8Array(10 * (i + 1)))));
    await flush();
    expect(seen).toEqual([0, 4, 8, '0:10', '4:20', '8:30']);
  });

  it('waits at the stream limit and fails with STREAM_LIMIT after timeoutMs', async () => {
    const clock = new SimulatedClock();
    const network = new MemoryNetwork({ maxStreams: 2, clock });
    const a = node(network);
    const b = node(network);
    b.onConnection((c) => c.onStream(echo));
    const { address } = await b.listen({ address: '127.0.0.1:0' });
    const conn = await a.dial(address);
    const first = await conn.openStream();
    await conn.openStream();
    const third = conn.openStream({ timeoutMs: 50 });
    await flush();
    // A finished stream frees a slot: the third open proceeds.
    const back = readAll(first.readable);
    await writeAll(first.writable, Uint8Array.of(5));
    await back;
    expect((await third).id).toBe(8);
    let outcome: unknown;
    const fourth = conn.openStream({ timeoutMs: 50 }).then(
      () => (outcome = 'opened'),
      (e: unknown) => (outcome = e),
    );
    await flush();
    clock.increment(49);
    await flush();
    expect(outcome).toBeUndefined();
    clock.increment(1);
    await fourth;
    expect(outcome).toMatchObject({ code: 'STREAM_LIMIT' });
  });

  it('delays delivery per link on the clock, in write order, the end of the stream last', async () => {
    const clock = new SimulatedClock();
    const network = new MemoryNetwork({ clock });
    const a = node(network);
    const b = node(network);
    const c = node(network);
    const readers = new Map<string, ReadableStreamDefaultReader<Uint8Array>>();
    for (const t of [b, c]) t.onConnection((conn) => conn.onStream((s) => readers.set(t.nodeId, s.readable.getReader())));
    const { address: bAddr } = await b.listen({ address: '127.0.0.1:0' });
    const { address: cAddr } = await c.listen({ address: '127.0.0.1:0' });
    network.setDelay(a.nodeId, bAddr, 30);
    const delivered: Array<{ to: string; at: number; bytes: number }> = [];
    network.onDeliver((d) => delivered.push({ to: d.toNodeId, at: clock.now(), bytes: d.bytes }));

    const toB = await (await a.dial(bAddr)).openStream();
    const toC = await (await a.dial(cAddr)).openStream();
    const wb = toB.writable.getWriter();
    const wc = toC.writable.getWriter();
    await wc.write(Uint8Array.of(7)); // no delay on a–c: at once
    await wb.write(Uint8Array.of(1, 1));
    clock.increment(10);
    network.setDelay(bAddr, a.nodeId, 5); // shorter now: may not overtake what is in transit
    await wb.write(Uint8Array.of(2));
    await wb.close();
    expect(delivered).toEqual([{ to: c.nodeId, at: 0, bytes: 1 }]);

    clock.increment(19);
    expect(delivered).toHaveLength(1);
    clock.increment(1); // t = 30: the first chunk and the one queued behind it (due 15 → 30)
    expect(delivered.slice(1)).toEqual([
      { to: b.nodeId, at: 30, bytes: 2 },
      { to: b.nodeId, at: 30, bytes: 1 },
    ]);
    const r = readers.get(b.nodeId)!;
    expect(Array.from((await r.read()).value!)).toEqual([1, 1]);
    expect(Array.from((await r.read()).value!)).toEqual([2]);
    expect((await r.read()).done).toBe(true);
    expect(Array.from((await readers.get(c.nodeId)!.read()).value!)).toEqual([7]);
  });

  it('counts bytes in transit against the reader buffer: a delayed writer still waits', async () => {
    const clock = new SimulatedClock();
    const network = new MemoryNetwork({ clock, highWaterMark: 1024, delayMs: 100 });
    const a = node(network);
    const b = node(network);
    const accepted: Array<ReadableStreamDefaultReader<Uint8Array>> = [];
    b.onConnection((conn) => conn.onStream((s) => accepted.push(s.readable.getReader())));
    const { address } = await b.listen({ address: '127.0.0.1:0' });
    const s = await (await a.dial(address)).openStream();
    const writer = s.writable.getWriter();
    let written = 0;
    const writes = Array.from({ length: 4 }, () => writer.write(new Uint8Array(512)).then(() => (written += 512)));
    await flush();
    expect(written).toBe(512); // the second 512 fills the reader's 1 KiB (all of it in transit)
    clock.increment(100);
    await flush();
    expect(written).toBe(512); // arrived, but unread
    const got = await accepted[0]!.read();
    expect(got.value!.byteLength).toBe(512);
    await flush();
    expect(written).toBeGreaterThan(512);
    for (let t = 0; t < 5; t++) {
      clock.increment(100);
      while ((await Promise.race([accepted[0]!.read(), flush().then(() => null)])) !== null) {
        /* drain what arrived */
      }
    }
    await Promise.all(writes);
    expect(written).toBe(2048);
  });

  it('dropConnection loses every connection between two nodes at once; new dials work', async () => {
    const clock = new SimulatedClock();
    const network = new MemoryNetwork({ clock, delayMs: 10 });
    const a = node(network);
    const b = node(network);
    const c = node(network);
    const inbound: PeerConnection[] = [];
    b.onConnection((conn) => {
      inbound.push(conn);
      conn.onStream(echo);
    });
    c.onConnection((conn) => conn.onStream(echo));
    const { address: bAddr } = await b.listen({ address: '127.0.0.1:0' });
    const { address: cAddr } = await c.listen({ address: '127.0.0.1:0' });
    const ab1 = await a.dial(bAddr);
    const ab2 = await a.dial(bAddr);
    const ac = await a.dial(cAddr);
    let delivered = 0;
    network.onDeliver((d) => (delivered += d.toNodeId === b.nodeId ? d.bytes : 0));
    const inTransit = (await ab1.openStream()).writable.getWriter();
    await inTransit.write(Uint8Array.of(1, 2, 3));
    const errors: Array<Error | undefined> = [];
    for (const conn of [ab1, ab2, ...inbound]) conn.onClose((e) => errors.push(e));

    expect(network.dropConnection(b.nodeId, a.nodeId)).toBe(2);
    await flush();
    expect(errors).toHaveLength(4);
    for (const e of errors) expect((e as OctopiiError).code).toBe('CONNECTION_CLOSED');
    clock.increment(100);
    expect(delivered).toBe(0); // lost in transit
    expect(ac.closed).toBe(false);
    expect(network.links()).toHaveLength(1);
    const again = await a.dial(bAddr);
    const echoed = roundTrip(again, Uint8Array.of(4));
    for (let i = 0; i < 4; i++) {
      await flush();
      clock.increment(10);
    }
    expect(await echoed).toEqual(Uint8Array.of(4));
  });

  it('sets no global timer when given a simulated clock', async () => {
    const spy = vi.spyOn(globalThis, 'setTimeout');
    try {
      const clock = new SimulatedClock();
      const network = new MemoryNetwork({ clock, delayMs: 5 });
      const a = node(network);
      const b = node(network);
      b.onConnection((conn) => conn.onStream(echo));
      const { address } = await b.listen({ address: '127.0.0.1:0' });
      const conn = await a.dial(address);
      const echoed = roundTrip(conn, Uint8Array.of(1, 2));
      for (let i = 0; i < 6; i++) {
        await flush();
        clock.increment(5);
      }
      expect(await echoed).toEqual(Uint8Array.of(1, 2));
      network.partition(a.nodeId, b.nodeId);
      const timedOut = a.dial(address, { timeoutMs: 50 }).catch((e: unknown) => e);
      await flush();
      clock.increment(50);
      expect(await timedOut).toMatchObject({ code: 'CONNECT_TIMEOUT' });
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Seeded simulation: 4 nodes, each supervising connection actors to the nodes after it; random
// partitions, heals, crashes, restarts and traffic from a seeded PRNG; then everything heals.
// Invariants: no chunk is ever delivered across a partition or to/from a crashed node; an actor
// in `open` holds a live connection; every stream that completes arrives byte-exact; after the
// heal every connection actor is open again and carries traffic.

/** FNV-1a 32-bit, to compare payloads without keeping them. */
function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

async function simulate(seed: number) {
  const rng = new Random(seed);
  const clock = new SimulatedClock();
  const network = new MemoryNetwork({ clock, highWaterMark: 4096 });
  const N = 4;
  const addresses = Array.from({ length: N }, (_, i) => `10.0.0.${i + 1}:4000`);
  const transports: MemoryTransport[] = [];
  const received = new Map<string, number>(); // "connId/streamId" → fnv of complete payloads
  const violations: string[] = [];
  const stats = { partitions: 0, heals: 0, crashes: 0, restarts: 0, drops: 0, delays: 0, streamsSent: 0, streamsFailed: 0, streamsReceived: 0, deliveries: 0 };

  network.onDeliver((d: Delivery) => {
    stats.deliveries++;
    if (network.isPartitioned(d.from, d.to)) violations.push(`delivered across a partition: ${d.from} → ${d.to}`);
    if (network.isDown(d.from) || network.isDown(d.to)) violations.push(`delivered to/from a crashed node: ${d.from} → ${d.to}`);
  });

  for (const address of addresses) {
    const t = network.transport({ identity: generateIdentity() });
    // A slow reader: one chunk per 10 ms of simulated time, so faults hit streams mid-flight.
    t.onConnection((conn) =>
      conn.onStream((s) => {
        const reader = s.readable.getReader();
        const parts: Uint8Array[] = [];
        const pump = (): void => {
          reader.read().then(
            ({ done, value }) => {
              if (done) {
                received.set(`${(conn as { id?: number }).id}/${s.id}`, fnv1a(Buffer.concat(parts)));
                return;
              }
              parts.push(value);
              clock.setTimeout(pump, 10);
            },
            () => {},
          );
        };
        pump();
      }),
    );
    await t.listen({ address });
    transports.push(t);
  }

  // Each node runs a supervisor; node i supervises connection actors to every node j > i.
  const supervisors = transports.map((t) =>
    createActor(supervisorMachine, { clock, input: { intensity: 100, periodMs: 1_000 } }),
  );
  const logics: ConnectionLogic[] = transports.map((t) => createConnectionLogic(t));
  type Conn = { from: number; to: number; ref: () => ActorRefFrom<ConnectionLogic> };
  const conns: Conn[] = [];
  supervisors.forEach((sup, i) => {
    sup.start();
    for (let j = i + 1; j < N; j++) {
      const id = `conn:${j}`;
      sup.send({
        type: 'SPAWN',
        id,
        logic: logics[i]!,
        restart: 'transient',
        input: {
          address: addresses[j]!,
          expectedNodeId: transports[j]!.nodeId,
          dialTimeoutMs: 1_000,
          retry: { maxRetries: Infinity, initialMs: 50, maxMs: 800 },
          connectOnStart: true,
        },
      });
      conns.push({ from: i, to: j, ref: () => supervisedChild(sup.getSnapshot(), id) as ActorRefFrom<ConnectionLogic> });
    }
  });

  const traffic: Array<Promise<void>> = [];
  const sent = new Map<string, number>(); // "connId/streamId" → fnv of the payload
  const sendOne = (c: Conn, size: number, keys?: string[]) => {
    const snap = c.ref().getSnapshot();
    if (!snap.matches('open')) return;
    const conn = snap.context.connection as PeerConnection & { id: number };
    const payload = rng.bytes(size);
    stats.streamsSent++;
    traffic.push(
      (async () => {
        const s = await conn.openStream();
        const key = `${conn.id}/${s.id}`;
        sent.set(key, fnv1a(payload));
        keys?.push(key);
        await writeAll(s.writable, payload, 1000);
      })().catch((e) => {
        stats.streamsFailed++;
        if (!(e instanceof OctopiiError)) violations.push(`untyped error: ${String(e)}`);
      }),
    );
  };

  const advance = async (ms: number) => {
    for (let t = 0; t < ms; t += 10) {
      clock.increment(10);
      await flush();
    }
  };

  const checkOpenActors = () => {
    for (const c of conns) {
      const snap = c.ref().getSnapshot();
      if (snap.matches('open') && (snap.context.connection as PeerConnection).closed) {
        violations.push(`actor ${c.from}→${c.to} is open on a closed connection`);
      }
    }
  };

  for (let step = 0; step < 150; step++) {
    const a = rng.int(0, N - 1);
    let b = rng.int(0, N - 2);
    if (b >= a) b++;
    const roll = rng.next();
    if (roll < 0.15) {
      network.partition(addresses[a]!, addresses[b]!);
      stats.partitions++;
    } else if (roll < 0.3) {
      network.heal(addresses[a]!, addresses[b]!);
      stats.heals++;
    } else if (roll < 0.36) {
      if (!network.isDown(addresses[a]!)) {
        network.crash(addresses[a]!);
        stats.crashes++;
      }
    } else if (roll < 0.45) {
      if (network.isDown(addresses[a]!)) {
        network.restart(addresses[a]!);
        stats.restarts++;
      }
    } else if (roll < 0.5) {
      stats.drops += network.dropConnection(addresses[a]!, addresses[b]!);
    } else if (roll < 0.55) {
      network.setDelay(addresses[a]!, addresses[b]!, rng.int(0, 5) * 10);
      stats.delays++;
    } else {
      sendOne(rng.pick(conns), rng.int(1, 64_000));
    }
    await advance(rng.int(0, 30) * 10);
    checkOpenActors();
  }

  // Heal everything; within a few backoff periods every actor must be open again.
  network.heal();
  for (const address of addresses) network.restart(address);
  await advance(5_000);
  const finalStates = conns.map((c) => `${c.from}→${c.to}:${String(c.ref().getSnapshot().value)}`);
  const afterHeal: string[] = [];
  for (const c of conns) sendOne(c, 5_000, afterHeal);
  await advance(500);
  await Promise.all(traffic);
  // Every stream that arrived complete arrived exactly as sent.
  for (const [key, hash] of received) {
    if (sent.get(key) !== hash) violations.push(`stream ${key} arrived altered or was never sent`);
  }
  stats.streamsReceived = received.size;
  const verifiedAfterHeal = afterHeal.filter((k) => received.has(k)).length;

  const supervisorsRunning = supervisors.map((s) => s.getSnapshot().value);
  for (const s of supervisors) s.send({ type: 'STOP' });
  await Promise.all(transports.map((t) => t.close()));
  return { stats, violations, finalStates, verifiedAfterHeal, supervisorsRunning, links: network.links().length };
}

describe('seeded simulation: connection actors over a faulty memory network', () => {
  const seeds = process.env.OCTOPII_SIM_SEED ? [Number(process.env.OCTOPII_SIM_SEED)] : [1, 2, 3, 0xc0ffee];
  for (const seed of seeds) {
    it(`seed ${seed}: no bytes cross a partition, everyone reconnects after the heal`, async () => {
      const r = await simulate(seed);
      if (process.env.OCTOPII_SIM_VERBOSE) console.log(seed, JSON.stringify(r.stats), r.finalStates.join(" "));
      const replay = `replay: OCTOPII_SIM_SEED=${seed} OCTOPII_SIM_VERBOSE=1 npx vitest run test/sim/transport-memory.test.ts`;
      expect(r.violations, replay).toEqual([]);
      // The run was not vacuous.
      expect(r.stats.partitions + r.stats.crashes).toBeGreaterThan(5);
      expect(r.stats.deliveries).toBeGreaterThan(0);
      expect(r.stats.streamsReceived).toBeGreaterThan(0);
      // Faults did cut streams mid-flight (sent but never received complete).
      expect(r.stats.streamsSent).toBeGreaterThan(r.stats.streamsReceived);
      // Liveness after the heal.
      expect(r.stats.drops + r.stats.delays, replay).toBeGreaterThan(0);
      expect(r.finalStates.every((s) => s.endsWith(':open')), `${replay}\n${r.finalStates.join(' ')}`).toBe(true);
      expect(r.verifiedAfterHeal).toBe(6);
      expect(r.supervisorsRunning).toEqual(['supervising', 'supervising', 'supervising', 'supervising']);
      expect(r.links).toBe(0);
    });
  }

  it('is deterministic: the same seed gives the same run', async () => {
    const a = await simulate(7);
    const b = await simulate(7);
    expect(a.stats).toEqual(b.stats);
    expect(a.finalStates).toEqual(b.finalStates);
  });
});
