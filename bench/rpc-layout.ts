/**
 * Stream layout measurement for RPC (docs/PROTOCOL.md "RPC", "Stream layout"): 100-byte echo
 * round trips, N in flight, over
 *   - `per-call`: one stream per call (open, preamble, request frame, reply frame, close), as
 *     gRPC over HTTP/2 does;
 *   - `mux`: calls multiplexed by call ID on one long-lived stream.
 * Transports: the in-memory network (real clock) and real QUIC (quinn, matrixai) on 127.0.0.1.
 *
 *   npx tsx bench/rpc-layout.ts [memory|quinn|matrixai ...]
 */
import { OctopiiNode } from '../src/node.js';
import { generateIdentity } from '../src/identity.js';
import { MemoryNetwork } from '../src/transport/memory.js';
import { systemClock } from '../src/runtime/clock.js';
import { FrameReader, encodeFrame } from '../src/wire/rpc.js';
import type { DuplexStream } from '../src/transport/types.js';

const payload = new Uint8Array(100);

async function startPair(kind: string): Promise<[OctopiiNode, OctopiiNode]> {
  if (kind === 'memory') {
    const net = new MemoryNetwork({ clock: systemClock, highWaterMark: 256 * 1024 });
    const hasher = { createSha256: () => { throw new Error('unused'); } } as never;
    const mk = async (i: number) => {
      const identity = generateIdentity();
      return OctopiiNode.start({ identity, listen: `10.0.0.${i}:4000`, runtime: { clock: systemClock, transport: net.transport({ identity }), hasher } });
    };
    return [await mk(1), await mk(2)];
  }
  const mk = () => OctopiiNode.start({ identity: generateIdentity(), listen: '127.0.0.1:0', transport: kind as 'quinn' });
  return [await mk(), await mk()];
}

function serveEcho(node: OctopiiNode): void {
  const handle = async (stream: DuplexStream) => {
    const r = new FrameReader(stream.readable.getReader(), 1 << 24);
    const w = stream.writable.getWriter();
    for (;;) {
      const f = await r.next().catch(() => null);
      if (!f) break;
      void w.write(encodeFrame(0, (f as { body: Uint8Array }).body)).catch(() => undefined);
    }
    await w.close().catch(() => undefined);
  };
  node.router.register('xecho', (s) => void handle(s));
}

async function perCall(client: OctopiiNode, peer: { address: string; nodeId: string }, calls: number, inFlight: number): Promise<number[]> {
  const lat: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next++ < calls) {
      const t0 = performance.now();
      const s = await client.openStream(peer, 'xecho');
      const w = s.writable.getWriter();
      void w.write(encodeFrame(0, payload));
      void w.close().catch(() => undefined);
      const r = new FrameReader(s.readable.getReader(), 1 << 24);
      await r.next();
      lat.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return lat;
}

async function mux(client: OctopiiNode, peer: { address: string; nodeId: string }, calls: number, inFlight: number): Promise<number[]> {
  const s = await client.openStream(peer, 'xecho');
  const w = s.writable.getWriter();
  const r = new FrameReader(s.readable.getReader(), 1 << 24);
  const waiting: Array<() => void> = [];
  void (async () => {
    for (;;) {
      const f = await r.next().catch(() => null);
      if (!f) break;
      waiting.shift()?.();
    }
  })();
  const lat: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next++ < calls) {
      const t0 = performance.now();
      const done = new Promise<void>((res) => waiting.push(res));
      void w.write(encodeFrame(0, payload));
      await done;
      lat.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  await w.close().catch(() => undefined);
  return lat;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

async function main(): Promise<void> {
  const kinds = process.argv.slice(2).length ? process.argv.slice(2) : ['memory', 'quinn', 'matrixai'];
  for (const kind of kinds) {
    const [server, client] = await startPair(kind);
    serveEcho(server);
    serveEcho(client);
    const peer = { address: server.address, nodeId: server.nodeId };
    await client.connect(peer);
    for (const inFlight of [1, 64]) {
      for (const [name, fn] of [['per-call', perCall], ['mux', mux]] as const) {
        const calls = inFlight === 1 ? 2000 : 20000;
        await fn(client, peer, 200, inFlight); // warm-up
        const t0 = performance.now();
        const lat = await fn(client, peer, calls, inFlight);
        const s = (performance.now() - t0) / 1000;
        console.log(`${kind.padEnd(8)} ${name.padEnd(8)} inflight=${String(inFlight).padStart(2)}  ${Math.round(calls / s).toString().padStart(7)} calls/s  p50 ${pct(lat, 0.5).toFixed(3)} ms  p99 ${pct(lat, 0.99).toFixed(3)} ms`);
      }
    }
    await client.stop();
    await server.stop();
  }
}
await main();
