/** Profiling aid: N unary calls x64 over the memory network (`node --cpu-prof --import tsx bench/rpc-profile.ts`). */
import { z } from 'zod';
import { OctopiiNode } from '../src/node.js';
import { generateIdentity } from '../src/identity.js';
import { MemoryNetwork } from '../src/transport/memory.js';
import { systemClock } from '../src/runtime/clock.js';
import { defineService } from '../src/rpc/index.js';

const echo = defineService('bench', { echo: { input: z.instanceof(Uint8Array), output: z.instanceof(Uint8Array) } });
const net = new MemoryNetwork({ clock: systemClock, highWaterMark: 1 << 20 });
const mode = (process.argv[2] ?? 'supervised') as 'supervised' | 'standalone';
const mk = (i: number) => {
  const identity = generateIdentity();
  return OctopiiNode.start({ identity, listen: `10.0.0.${i}:4000`, runtime: { clock: systemClock, transport: net.transport({ identity }) }, rpc: { callActors: mode } });
};
const [a, b] = [await mk(1), await mk(2)];
b.serve(echo, { echo: (x) => x });
const c = a.client(echo, { address: b.address, nodeId: b.nodeId });
const payload = new Uint8Array(100);
const N = Number(process.argv[3] ?? 20000);
const t0 = performance.now();
const cpu0 = process.cpuUsage();
let next = 0;
await Promise.all(Array.from({ length: 64 }, async () => { while (next++ < N) await c.echo(payload); }));
const cpu = process.cpuUsage(cpu0);
console.log(`${mode}: ${Math.round(N / ((performance.now() - t0) / 1000))} calls/s wall, ${((cpu.user + cpu.system) / N).toFixed(1)} µs CPU per call (client and server)`);
await a.stop();
await b.stop();
process.exit(0);
