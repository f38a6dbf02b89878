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
import { supervisedChild, supervisorMachine } from '../../machines/node.js';
import { Random } from './random.js';

const contractNetwork = new MemoryNetwork();
transportContract('memory', {
  create: async (options) => contractNetwork.transport({ identity: generateIdentity(), ...options }),
  listenAddresses: ['127.0.0.1:0', '[::1]:0'],
  deadAddress: () => '127.0.0.1:9',
  protocols: ['octopii', 'lane-v1'],
  serverRefusal: 'dial',
  deadAddressCode: 'CONNECTION_REFUSED',
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
