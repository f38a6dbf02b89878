/**
 * MemoryTransport (src/transport/memory.ts): the shared transport contract, its own fault
 * injection and backpressure, and one seeded simulation of nodes whose connection machines
 * reconnect through random partitions and crashes (TigerBeetle VOPR style, small).
 */
import { afterEach, describe, expect, it } from 'vitest';
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
    const timers: Array<{ fn: () => void; ms: number }> = [];
    const clock = {
      setTimeout: (fn: () => void, ms: number) => timers.push({ fn, ms }),
      clearTimeout: () => {},
    };
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

    const dial = a.dial(address, { expectedNodeId: b.nodeId, timeoutMs: 777 });
    dial.catch(() => {});
    await flush();
    expect(timers.map((t) => t.ms)).toEqual([777]);
    timers[0]!.fn();
    await expect(dial).rejects.toMatchObject({ code: 'CONNECT_TIMEOUT' });

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
    const timers: Array<{ fn: () => void; ms: number }> = [];
    const clock = { setTimeout: (fn: () => void, ms: number) => timers.push({ fn, ms }), clearTimeout: () => {} };
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
    const fourth = conn.openStream({ timeoutMs: 50 });
    fourth.catch(() => {});
    await flush();
    timers.at(-1)!.fn();
    await expect(fourth).rejects.toMatchObject({ code: 'STREAM_LIMIT' });
  });
});
