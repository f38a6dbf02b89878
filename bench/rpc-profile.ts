/**
 * Profiling aid: N unary 100-byte calls x64 (`node --cpu-prof --import tsx bench/rpc-profile.ts
 * [supervised|standalone] [N] [memory|quinn|matrixai]`). Prints calls/s and CPU µs per call
 * (client and server in this process; CPU per call is steadier than calls/s on a shared machine).
 */
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
let a: OctopiiNode, b: OctopiiNode;
if (transport === 'memory') {
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
b.serve(echo, { echo: (x) => x });
const c = a.client(echo, { address: b.address, nodeId: b.nodeId });
const payload = new Uint8Array(100);
for (let i = 0; i < 2000; i++) await c.echo(payload);
const lat: number[] = [];
const t0 = performance.now();
const cpu0 = process.cpuUsage();
let next = 0;
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (next++ < N) {
      const t = performance.now();
      await c.echo(payload);
      lat.push(performance.now() - t);
    }
  }),
);
const cpu = process.cpuUsage(cpu0);
lat.sort((x, y) => x - y);
console.log(
  `${transport} ${mode} x${inFlight}: ${Math.round(N / ((performance.now() - t0) / 1000))} calls/s wall, ${((cpu.user + cpu.system) / N).toFixed(1)} µs CPU per call (client and server), p50 ${lat[lat.length >> 1]!.toFixed(3)} ms p99 ${lat[Math.floor(lat.length * 0.99)]!.toFixed(3)} ms`,
);
await a.stop();
await b.stop();
process.exit(0);
