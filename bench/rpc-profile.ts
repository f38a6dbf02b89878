/**
 * Profiling aid: N unary 100-byte calls (`node --cpu-prof --import tsx bench/rpc-profile.ts
 * [supervised|standalone] [N] [memory|quinn|matrixai|grpc] [in flight, default 64]`). Prints
 * calls/s, p50/p99 and the process's CPU µs per call (client and server in this process; CPU per
 * call is steadier than calls/s on a shared machine). `grpc` runs the same loop on @grpc/grpc-js
 * (raw-bytes echo, as in bench/rpc.ts) for a baseline in the same units.
 */
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { OctopiiNode } from '../src/node.js';
import { generateIdentity } from '../src/identity.js';
import { MemoryNetwork } from '../src/transport/memory.js';
import { systemClock } from '../src/runtime/clock.js';
import { defineService } from '../src/rpc/index.js';

const echo = defineService('bench', { echo: { input: z.instanceof(Uint8Array), output: z.instanceof(Uint8Array) } });
const mode = (process.argv[2] ?? 'supervised') as 'supervised' | 'standalone';
const N = Number(process.argv[3] ?? 20000);
const transport = process.argv[4] ?? 'memory';
const inFlight = Number(process.argv[5] ?? 64);
let a: OctopiiNode | null = null, b: OctopiiNode | null = null;
let once: (p: Uint8Array<ArrayBuffer>) => Promise<unknown>;
let closeGrpc = () => {};
if (transport === 'grpc') {
  const id = (x: Buffer) => x;
  const def = { echo: { path: '/bench/echo', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } };
  const server = new grpc.Server();
  server.addService(def as unknown as grpc.ServiceDefinition, { echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request) });
  const port = await new Promise<number>((ok, fail) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))));
  const Client = grpc.makeGenericClientConstructor(def as unknown as grpc.ServiceDefinition, 'bench');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as { echo(b: Uint8Array, cb: (e: Error | null, r: Buffer) => void): void; close(): void };
  once = (p) => new Promise<Buffer>((ok, fail) => client.echo(Buffer.from(p.buffer, p.byteOffset, p.byteLength), (e, r) => (e ? fail(e) : ok(r))));
  closeGrpc = () => {
    client.close();
    server.forceShutdown();
  };
} else if (transport === 'memory') {
  const net = new MemoryNetwork({ clock: systemClock, highWaterMark: 1 << 20 });
  const mk = (i: number) => {
    const identity = generateIdentity();
    return OctopiiNode.start({ identity, listen: `10.0.0.${i}:4000`, runtime: { clock: systemClock, transport: net.transport({ identity }) }, rpc: { callActors: mode } });
  };
  [a, b] = [await mk(1), await mk(2)];
} else {
  const mk = () => OctopiiNode.start({ identity: generateIdentity(), listen: '127.0.0.1:0', transport: transport as 'quinn', rpc: { callActors: mode } });
  [a, b] = [await mk(), await mk()];
}
if (a && b) {
  b.serve(echo, { echo: (x) => x });
  const c = a.client(echo, { address: b.address, nodeId: b.nodeId });
  once = (p) => c.echo(p);
}
const payload = new Uint8Array(100);
for (let i = 0; i < 2000; i++) await once!(payload);
const lat: number[] = [];
const t0 = performance.now();
const cpu0 = process.cpuUsage();
let next = 0;
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (next++ < N) {
      const t = performance.now();
      await once!(payload);
      lat.push(performance.now() - t);
    }
  }),
);
const cpu = process.cpuUsage(cpu0);
lat.sort((x, y) => x - y);
console.log(
  `${transport === 'grpc' ? 'grpc-js' : `${transport} ${mode}`} x${inFlight}: ${Math.round(N / ((performance.now() - t0) / 1000))} calls/s wall, ${((cpu.user + cpu.system) / N).toFixed(1)} µs CPU per call (client and server), p50 ${lat[lat.length >> 1]!.toFixed(3)} ms p99 ${lat[Math.floor(lat.length * 0.99)]!.toFixed(3)} ms`,
);
await a?.stop();
await b?.stop();
closeGrpc();
process.exit(0);
