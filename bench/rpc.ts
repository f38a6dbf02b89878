/**
 * RPC figures (not pass/fail; bench/README.md): 100-byte unary calls at 1 and 64 in flight
 * (round trips/s, p50/p99 ms), server-streaming messages/s, unary calls during a lane transfer,
 * the cost of the call machine (supervised call actors vs standalone ones), and in the same run
 * two baselines: @grpc/grpc-js unary echo (HTTP/2, insecure, raw-bytes codec) and a plain TCP
 * length-prefixed echo loop. Client and server run in this one process on 127.0.0.1.
 *
 *   npm run bench:rpc [-- --transport quinn|matrixai|memory] [--seconds 3]
 */
import { createServer, connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { OctopiiNode } from '../src/node.js';
import { generateIdentity } from '../src/identity.js';
import { MemoryNetwork } from '../src/transport/memory.js';
import { systemClock } from '../src/runtime/clock.js';
import { defineService } from '../src/rpc/index.js';

const { values: args } = parseArgs({ options: { transport: { type: 'string', default: 'quinn' }, seconds: { type: 'string', default: '3' } } });
const SECONDS = Number(args.seconds);
const payload = randomBytes(100);

const echo = defineService('bench', {
  echo: { input: z.instanceof(Uint8Array), output: z.instanceof(Uint8Array) },
  stream: { input: z.object({ n: z.number() }), output: z.instanceof(Uint8Array), stream: 'server' },
});

interface Figures {
  name: string;
  perSec: number;
  p50: number;
  p99: number;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN;
};

/** Runs `once` with `inFlight` workers for SECONDS (after 0.5 s of warm-up). */
async function drive(name: string, inFlight: number, once: () => Promise<unknown>): Promise<Figures> {
  const run = async (ms: number, lat: number[] | null) => {
    const end = performance.now() + ms;
    let n = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (performance.now() < end) {
          const t0 = performance.now();
          await once();
          lat?.push(performance.now() - t0);
          n++;
        }
      }),
    );
    return n;
  };
  await run(1_000, null);
  const lat: number[] = [];
  const t0 = performance.now();
  const n = await run(SECONDS * 1000, lat);
  const f = { name, perSec: n / ((performance.now() - t0) / 1000), p50: pct(lat, 0.5), p99: pct(lat, 0.99) };
  console.log(`${name.padEnd(44)} ${Math.round(f.perSec).toString().padStart(8)} /s   p50 ${f.p50.toFixed(3).padStart(7)} ms   p99 ${f.p99.toFixed(3).padStart(7)} ms`);
  return f;
}

async function octopiiPair(transport: string, callActors: 'supervised' | 'standalone'): Promise<[OctopiiNode, OctopiiNode]> {
  if (transport === 'memory') {
    const net = new MemoryNetwork({ clock: systemClock, highWaterMark: 1 << 20 });
    const mk = (i: number) => {
      const identity = generateIdentity();
      return OctopiiNode.start({ identity, listen: `10.0.0.${i}:4000`, runtime: { clock: systemClock, transport: net.transport({ identity }) }, rpc: { callActors } });
    };
    return [await mk(1), await mk(2)];
  }
  // The server stores lane transfers on disk (a temp dir), as a real receiver does.
  const dir = await mkdtemp(join(tmpdir(), 'octopii-bench-rpc-'));
  const server = await OctopiiNode.start({ identity: generateIdentity(), listen: '127.0.0.1:0', transport: transport as 'quinn', rpc: { callActors }, receiveDir: dir });
  const client = await OctopiiNode.start({ identity: generateIdentity(), listen: '127.0.0.1:0', transport: transport as 'quinn', rpc: { callActors } });
  void server.closed.then(() => rm(dir, { recursive: true, force: true }));
  return [server, client];
}

async function benchOctopii(transport: string): Promise<Record<string, Figures>> {
  const out: Record<string, Figures> = {};
  for (const mode of ['supervised', 'standalone'] as const) {
    const [server, client] = await octopiiPair(transport, mode);
    server.serve(echo, {
      echo: (x) => x,
      stream: async function* ({ n }) {
        for (let i = 0; i < n; i++) yield payload;
      },
    });
    const peer = { address: server.address, nodeId: server.nodeId };
    const c = client.client(echo, peer);
    await c.echo(payload);
    for (const inFlight of [1, 64]) out[`${mode} ${inFlight}`] = await drive(`octopii ${transport} unary (${mode} call actors) x${inFlight}`, inFlight, () => c.echo(payload));
    if (mode === 'supervised') {
      // Server streaming: 100-byte messages.
      const t0 = performance.now();
      let n = 0;
      for await (const _ of c.stream({ n: 200_000 })) n++;
      const s = (performance.now() - t0) / 1000;
      console.log(`${`octopii ${transport} server-streaming 100 B`.padEnd(44)} ${Math.round(n / s).toString().padStart(8)} msg/s`);
      out['stream'] = { name: 'stream', perSec: n / s, p50: NaN, p99: NaN };
      // Unary during a 256 MiB lane transfer to the same peer.
      if (transport !== 'memory') {
        const data = randomBytes(256 * 1024 * 1024);
        const transfer = client.send(peer, { kind: 'memory', data });
        let done = false;
        void transfer.then(() => (done = true));
        const lat: number[] = [];
        let calls = 0;
        const t1 = performance.now();
        await Promise.all(
          Array.from({ length: 64 }, async () => {
            while (!done) {
              const t = performance.now();
              await c.echo(payload);
              lat.push(performance.now() - t);
              calls++;
            }
          }),
        );
        const r = await transfer;
        const s1 = (performance.now() - t1) / 1000;
        out['during lane'] = { name: 'during lane', perSec: calls / s1, p50: pct(lat, 0.5), p99: pct(lat, 0.99) };
        console.log(
          `${`octopii ${transport} unary x64 during a 256 MiB lane`.padEnd(44)} ${Math.round(calls / s1).toString().padStart(8)} /s   p50 ${pct(lat, 0.5).toFixed(3).padStart(7)} ms   p99 ${pct(lat, 0.99).toFixed(3).padStart(7)} ms   (lane ${r.success ? 'ok' : `FAILED ${r.error?.code}: ${r.error?.message}`} ${((256 / s1) | 0)} MiB/s)`,
        );
      }
    }
    await client.stop();
    await server.stop();
  }
  return out;
}

async function benchGrpc(): Promise<Record<string, Figures>> {
  const id = (b: Buffer) => b;
  const def = { echo: { path: '/bench/echo', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } };
  const server = new grpc.Server();
  server.addService(def as unknown as grpc.ServiceDefinition, { echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request) });
  const port = await new Promise<number>((ok, fail) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))));
  const Client = grpc.makeGenericClientConstructor(def as unknown as grpc.ServiceDefinition, 'bench');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as { echo(b: Buffer, cb: (e: Error | null, r: Buffer) => void): void; close(): void };
  const call = () => new Promise<Buffer>((ok, fail) => client.echo(payload, (e, r) => (e ? fail(e) : ok(r))));
  await call();
  const out: Record<string, Figures> = {};
  for (const inFlight of [1, 64]) out[String(inFlight)] = await drive(`grpc-js unary x${inFlight}`, inFlight, call);
  client.close();
  server.forceShutdown();
  return out;
}

async function benchTcp(): Promise<Record<string, Figures>> {
  const server = createServer((s) => {
    let buf = Buffer.alloc(0);
    s.setNoDelay(true);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4) {
        const len = buf.readUInt32BE(0);
        if (buf.length < 4 + len) break;
        s.write(buf.subarray(0, 4 + len));
        buf = buf.subarray(4 + len);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const sock: Socket = connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  await new Promise((r) => sock.once('connect', r));
  const waiting: Array<() => void> = [];
  let buf = Buffer.alloc(0);
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 4) {
      const len = buf.readUInt32BE(0);
      if (buf.length < 4 + len) break;
      buf = buf.subarray(4 + len);
      waiting.shift()?.();
    }
  });
  const frame = Buffer.alloc(104);
  frame.writeUInt32BE(100, 0);
  payload.copy(frame, 4);
  const call = () =>
    new Promise<void>((r) => {
      waiting.push(r);
      sock.write(frame);
    });
  const out: Record<string, Figures> = {};
  for (const inFlight of [1, 64]) out[String(inFlight)] = await drive(`plain TCP length-prefixed x${inFlight}`, inFlight, call);
  sock.destroy();
  server.close();
  return out;
}

const o = await benchOctopii(args.transport!);
const g = await benchGrpc();
const t = await benchTcp();
console.log('\nratios (calls/s):');
for (const n of [1, 64]) {
  const sup = o[`supervised ${n}`]!.perSec;
  const std = o[`standalone ${n}`]!.perSec;
  console.log(`  x${n}: octopii/grpc-js ${(sup / g[String(n)]!.perSec).toFixed(2)}   octopii/TCP ${(sup / t[String(n)]!.perSec).toFixed(2)}   call-actor cost ${(1e6 / sup - 1e6 / std).toFixed(1)} µs/call (supervised ${Math.round(sup)}/s vs standalone ${Math.round(std)}/s)`);
}
process.exit(0);
