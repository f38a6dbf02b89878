/**
 * The transport's own ceiling, for the lane bench: one QUIC stream over an
 * octopii transport (`quinn` or `matrixai`, src/transport), receiver and sender in two separate
 * processes on 127.0.0.1, moving bytes memory → memory, unhashed — what the node:tls baseline
 * (bench/tls-baseline.ts) does over TCP, so the two divide cleanly: "×tls" of this row is the
 * most any lane on that transport could reach, before hashing and disk I/O.
 *
 *   npx tsx bench/stream.ts [--transport quinn|matrixai] [--size 256MiB]     (standalone)
 *   runStreamBench({ transport, bytes })                                       (from bench/lane.ts)
 *
 * The sender writes one 1 MiB random buffer over and over through the stream's WritableStream
 * (each write awaited: the transport's backpressure), then closes its side; the receiver reads
 * the ReadableStream to its end, counts and drops the chunks, and answers one byte. MB/s =
 * bytes / (first write → answer) on the sender. Both sides are metered like the lane peers
 * (bench/meter.ts) and run with the same node flags (bench/util.ts `childNodeFlags`).
 *
 * Child roles (IPC, driven by runStreamBench): `stream.ts receive T` and `stream.ts send T`.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { generateIdentity } from '../src/identity.js';
import { createTransport, type QuicTransportName, type Transport } from '../src/transport/index.js';
import { startMeter, type Meter, type MeterFigures } from './meter.js';
import { benchMain, Child, failChild, formatSize, mbps, parseSize } from './util.js';

const MiB = 2 ** 20;
const self = fileURLToPath(import.meta.url);

type ToStream =
  | { type: 'arm'; bytes: number }
  | { type: 'connect'; address: string; nodeId: string }
  | { type: 'send'; bytes: number }
  | { type: 'stop' };
type FromStream =
  | { type: 'ready'; address: string; nodeId: string }
  | { type: 'armed' }
  | { type: 'received'; bytes: number; meter: MeterFigures }
  | { type: 'connected' }
  | { type: 'sent'; wallMs: number; meter: MeterFigures }
  | { type: 'error'; message: string };

export interface StreamBenchResult {
  transport: QuicTransportName;
  bytes: number;
  /** First write → answer byte, ms (sender). */
  wallMs: number;
  /** 10^6 bytes/s. */
  mbps: number;
  sender: MeterFigures;
  receiver: MeterFigures;
}

const post = (m: FromStream): void => {
  process.send!(m);
};

async function start(kind: QuicTransportName): Promise<Transport> {
  // The same OCTOPII_QUINN_THREADS the lane peers' node config reads (bench/lane.ts sets it).
  const { quinnThreads, quinnReceiveWindow } = loadConfig({});
  const t = await createTransport(kind, { identity: generateIdentity(), quinnThreads, quinnReceiveWindow });
  await t.listen({ address: '127.0.0.1:0' });
  return t;
}

async function receiver(kind: QuicTransportName): Promise<void> {
  const t = await start(kind);
  let meter: Meter | undefined;
  let expected = 0;
  t.onConnection((conn) =>
    conn.onStream((stream) => {
      void (async () => {
        const reader = stream.readable.getReader();
        let got = 0;
        for (;;) {
          const r = await reader.read();
          if (r.done) break;
          got += r.value.byteLength;
        }
        const figures = meter!.stop();
        const w = stream.writable.getWriter();
        await w.write(Uint8Array.of(0));
        await w.close().catch(() => undefined);
        if (got !== expected) throw new Error(`stream bench: receiver got ${got} of ${expected} bytes`);
        post({ type: 'received', bytes: got, meter: figures });
      })().catch(failChild);
    }),
  );
  process.on('message', (m: ToStream) => {
    if (m.type === 'arm') {
      expected = m.bytes;
      meter = startMeter();
      post({ type: 'armed' });
    } else if (m.type === 'stop') {
      void t.close().finally(() => process.exit(0));
    }
  });
  post({ type: 'ready', address: t.address!, nodeId: t.nodeId });
}

async function sender(kind: QuicTransportName): Promise<void> {
  const t = await start(kind);
  const buf = new Uint8Array(randomBytes(MiB));
  let peer: { address: string; nodeId: string } | undefined;
  process.on('message', (m: ToStream) => {
    void (async () => {
      if (m.type === 'connect') {
        peer = m;
        await t.dial(m.address, { expectedNodeId: m.nodeId });
        post({ type: 'connected' });
      } else if (m.type === 'send') {
        const conn = await t.dial(peer!.address, { expectedNodeId: peer!.nodeId });
        const meter = startMeter();
        const t0 = performance.now();
        const stream = await conn.openStream();
        const answer = stream.readable.getReader().read();
        const w = stream.writable.getWriter();
        for (let left = m.bytes; left > 0; ) {
          const n = Math.min(buf.length, left);
          left -= n;
          // A fresh view per write: a chunk must stay unchanged until its write resolves, and
          // each write is awaited, so the one buffer is safe to reuse.
          await w.write(n === buf.length ? buf : buf.subarray(0, n));
        }
        await w.close();
        const r = await answer;
        if (r.done || r.value[0] !== 0) throw new Error('stream bench: no answer byte from the receiver');
        const wallMs = performance.now() - t0;
        post({ type: 'sent', wallMs, meter: meter.stop() });
      } else if (m.type === 'stop') {
        await t.close();
        process.exit(0);
      }
    })().catch(failChild);
  });
  post({ type: 'ready', address: t.address!, nodeId: t.nodeId });
}

/**
 * Runs the stream bench once over `transport`: two child processes, one connection, one stream,
 * `bytes` memory → memory. Rejects if a child fails or the run exceeds `timeoutMs`.
 */
export async function runStreamBench({
  transport,
  bytes,
  timeoutMs = 60_000 + (bytes / 1e6) * 500,
}: {
  transport: QuicTransportName;
  bytes: number;
  timeoutMs?: number;
}): Promise<StreamBenchResult> {
  const rx = Child.fork<ToStream, FromStream>(`${transport} stream receiver`, self, ['receive', transport]);
  const tx = Child.fork<ToStream, FromStream>(`${transport} stream sender`, self, ['send', transport]);
  try {
    const ready = await rx.next('ready', 30_000);
    await tx.next('ready', 30_000);
    tx.send({ type: 'connect', address: ready.address, nodeId: ready.nodeId });
    await tx.next('connected', 30_000);
    rx.send({ type: 'arm', bytes });
    await rx.next('armed', 10_000);
    tx.send({ type: 'send', bytes });
    const sent = await tx.next('sent', timeoutMs);
    const received = await rx.next('received', 10_000);
    return { transport, bytes, wallMs: sent.wallMs, mbps: mbps(bytes, sent.wallMs), sender: sent.meter, receiver: received.meter };
  } finally {
    await Promise.all([rx.stop(), tx.stop()]);
  }
}

async function standalone(): Promise<void> {
  const { values } = parseArgs({ options: { size: { type: 'string', default: '256MiB' }, transport: { type: 'string', default: 'quinn' } } });
  const bytes = parseSize(values.size!);
  const transport = values.transport as QuicTransportName;
  if (transport !== 'quinn' && transport !== 'matrixai') throw new Error(`--transport quinn|matrixai (got ${transport})`);
  const r = await runStreamBench({ transport, bytes });
  const perGiB = (m: MeterFigures) => (m.cpuSeconds / (bytes / 2 ** 30)).toFixed(2);
  console.log(
    `${transport} stream, 127.0.0.1, ${formatSize(bytes)} memory → memory: ${r.mbps.toFixed(1)} MB/s; ` +
      `CPU s/GiB sender ${perGiB(r.sender)}, receiver ${perGiB(r.receiver)}; ` +
      `event-loop p99 ms sender ${r.sender.eldP99Ms.toFixed(1)}, receiver ${r.receiver.eldP99Ms.toFixed(1)}`,
  );
}

benchMain(self, { receive: () => receiver(process.argv[3] as QuicTransportName), send: () => sender(process.argv[3] as QuicTransportName) }, standalone);
