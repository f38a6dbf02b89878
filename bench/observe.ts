/**
 * What the observe endpoint costs a transfer: Shipping Lane throughput, memory → memory, between
 * two nodes in this process over QUIC (quinn, 127.0.0.1), in three conditions —
 *   none:   no observe server,
 *   server: the receiver's observe server running (metrics and hub listening, no client),
 *   client: the same with one SSE client attached and reading `/events`,
 * interleaved round by round (none, server, client, none, …) so drift in the machine's load
 * hits all three alike. Prints the median MB/s of each and the overhead against `none`
 * (target: client ≤ 5 %). A figure, never pass/fail (bench/README.md).
 *
 *   npx tsx bench/observe.ts [--size 32MiB] [--rounds 5] [--json FILE]
 *
 * Everything shares one event loop (sender, receiver, server, client): the worst case for the
 * observer, since its work competes directly with the lane's.
 *
 * Wall-clock throughput on a shared 2-core machine is noisy (other processes), so the bench also
 * measures the observer's own work directly: the time spent inside its inspection listeners
 * (metrics, hub: summarising, serialising and writing each record to the client), per
 * transfer, against the transfer's duration — the share of the event loop the observer took —
 * and the process CPU time per transfer in each condition.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { OctopiiNode } from '../src/node.js';
import { generateIdentity } from '../src/identity.js';
import { startObserveServer, type ObserveServer, type ObservedNode } from '../src/observe/server.js';
import { benchMain, formatSize, mbps, parseSize } from './util.js';

type Condition = 'none' | 'server' | 'client';
const CONDITIONS: Condition[] = ['none', 'server', 'client'];

/** An SSE reader that counts bytes; `close()` ends it. */
function attachClient(url: string): Promise<{ bytes: () => number; close: () => void }> {
  return new Promise((resolve, reject) => {
    let n = 0;
    const req = request(url, { headers: { accept: 'text/event-stream' } }, (res) => {
      res.on('data', (c: Buffer) => (n += c.length));
      res.on('error', () => undefined);
      resolve({ bytes: () => n, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

/** `node` as the observe server sees it, with the time spent in its inspection listeners added to `spent.ms`. */
function timed(node: OctopiiNode, spent: { ms: number }): ObservedNode {
  return {
    nodeId: node.nodeId,
    address: node.address,
    transportKind: node.transportKind,
    onInspect: (l) =>
      node.onInspect((e) => {
        const t = performance.now();
        l(e);
        spent.ms += performance.now() - t;
      }),
    onPeer: (l) => node.onPeer(l),
    peers: () => node.peers(),
    inspect: () => node.inspect(),
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function run(): Promise<void> {
  const opts = new Command('bench/observe')
    .option('--size <size>', 'bytes per transfer (memory receive caps it at 64 MiB)', '32MiB')
    .option('--rounds <n>', 'rounds of the three conditions', '5')
    .option('--json <file>', 'write the figures as JSON')
    .parse()
    .opts<{ size: string; rounds: string; json?: string }>();
  const size = parseSize(opts.size);
  const rounds = Number(opts.rounds);
  const root = await mkdtemp(join(tmpdir(), 'octopii-bench-observe-'));
  const receiver = await OctopiiNode.start({ listen: '127.0.0.1:0', transport: 'quinn', dataDir: join(root, 'r'), identity: generateIdentity() });
  const sender = await OctopiiNode.start({ listen: '127.0.0.1:0', transport: 'quinn', dataDir: join(root, 's'), identity: generateIdentity() });
  const peer = { address: receiver.address, nodeId: receiver.nodeId };
  const data = randomBytes(size);
  const figures: Record<Condition, number[]> = { none: [], server: [], client: [] };
  const cpu: Record<Condition, number[]> = { none: [], server: [], client: [] };
  const share: Record<Condition, number[]> = { none: [], server: [], client: [] };
  const spent = { ms: 0 };
  let sseBytes = 0;
  try {
    // Warm-up: connection, hash pool, lane code, chart layouts.
    const warm = await startObserveServer(receiver);
    await sender.send(peer, { kind: 'memory', data: data.subarray(0, 1 << 20) });
    await warm.close();
    for (let r = 0; r < rounds; r++) {
      for (const c of CONDITIONS) {
        let server: ObserveServer | undefined;
        let client: Awaited<ReturnType<typeof attachClient>> | undefined;
        if (c !== 'none') server = await startObserveServer(timed(receiver, spent));
        if (c === 'client') client = await attachClient(`${server!.url}events`);
        spent.ms = 0;
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        const res = await sender.send(peer, { kind: 'memory', data });
        const ms = performance.now() - t0;
        const used = process.cpuUsage(cpu0);
        if (!res.success) throw new Error(`transfer failed: ${JSON.stringify(res.error)}`);
        figures[c].push(mbps(size, ms));
        cpu[c].push((used.user + used.system) / 1000);
        share[c].push((spent.ms / ms) * 100);
        if (client) {
          sseBytes += client.bytes();
          client.close();
        }
        await server?.close();
        process.stderr.write(`round ${r + 1}/${rounds} ${c.padEnd(6)} ${mbps(size, ms).toFixed(1)} MB/s, observer ${spent.ms.toFixed(2)} ms of ${ms.toFixed(0)} ms\n`);
      }
    }
  } finally {
    await sender.stop();
    await receiver.stop();
    await rm(root, { recursive: true, force: true });
  }
  const med = Object.fromEntries(CONDITIONS.map((c) => [c, median(figures[c])])) as Record<Condition, number>;
  const overhead = (c: Condition) => ((med.none - med[c]) / med.none) * 100;
  console.log(`\nobserve overhead — ${formatSize(size)} memory → memory over quinn, ${rounds} rounds, median MB/s`);
  const cpuMed = Object.fromEntries(CONDITIONS.map((c) => [c, median(cpu[c])])) as Record<Condition, number>;
  const shareMed = Object.fromEntries(CONDITIONS.map((c) => [c, median(share[c])])) as Record<Condition, number>;
  console.log('| condition | median MB/s | throughput overhead vs none | CPU ms per transfer | observer share of the transfer time |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const c of CONDITIONS) {
    console.log(`| ${c} | ${med[c].toFixed(1)} | ${c === 'none' ? '—' : `${overhead(c).toFixed(1)} %`} | ${cpuMed[c].toFixed(0)} | ${c === 'none' ? '—' : `${shareMed[c].toFixed(3)} %`} |`);
  }
  console.log(`SSE bytes read by the client: ${sseBytes} over ${rounds} transfers.`);
  console.log(`Target: observer overhead ≤ 5 %. Direct: the observer took ${shareMed.client.toFixed(3)} % of the transfer time with a client (${shareMed.client <= 5 ? '✓' : '✗'}); wall-clock throughput difference ${overhead('client').toFixed(1)} % (noise on a shared machine).`);
  if (opts.json) {
    await writeFile(opts.json, JSON.stringify({ size, rounds, figures, cpuMs: cpu, observerSharePct: share, median: med, overheadPct: { server: overhead('server'), client: overhead('client') }, sseBytes }, null, 2));
  }
}

benchMain(fileURLToPath(import.meta.url), {}, run);
