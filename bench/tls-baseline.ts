/**
 * Baseline for the lane bench: node:tls over TCP on 127.0.0.1,
 * receiver and sender in two separate processes, moving bytes memory → memory, unhashed.
 *
 *   npx tsx bench/tls-baseline.ts [--size 256MiB] [--connections 1]     (standalone)
 *   runTlsBaseline({ bytes, connections })                               (from bench/lane.ts)
 *
 * The server uses the node's own kind of certificate: an Ed25519 self-signed X.509 made from a
 * fresh identity by src/transport/certificate.ts (node:tls negotiates TLS 1.3 with it); the
 * client pins that certificate as its only CA. The sender writes one 1 MiB random buffer over
 * and over (respecting `write()` backpressure) on each of `connections` connections, `bytes /
 * connections` each; the receiver counts and drops what arrives and answers one byte per
 * connection once it has all of it. MB/s = bytes / (first write → last answer) on the sender.
 * Both sides are metered like the lane peers (bench/meter.ts).
 *
 * Child roles (IPC, driven by runTlsBaseline): `tls-baseline.ts server` and `… client`.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateIdentity } from '../src/identity.js';
import { createNodeCertificate } from '../src/transport/certificate.js';
import { startMeter, type Meter, type MeterFigures } from './meter.js';
import { benchMain, Child, failChild, parseSize, formatSize, mbps } from './util.js';

const MiB = 2 ** 20;
const self = fileURLToPath(import.meta.url);

type ToTls =
  | { type: 'arm'; bytesPerConnection: number; connections: number }
  | { type: 'connect'; port: number; certPem: string; connections: number }
  | { type: 'send'; bytesPerConnection: number }
  | { type: 'stop' };
type FromTls =
  | { type: 'ready'; port: number; certPem: string }
  | { type: 'armed' }
  | { type: 'received'; bytes: number; meter: MeterFigures }
  | { type: 'connected' }
  | { type: 'sent'; wallMs: number; meter: MeterFigures }
  | { type: 'error'; message: string };

export interface TlsBaselineResult {
  bytes: number;
  connections: number;
  /** First write → last answer byte, ms (sender). */
  wallMs: number;
  /** 10^6 bytes/s. */
  mbps: number;
  protocol: string;
  sender: MeterFigures;
  receiver: MeterFigures;
}

const post = (m: FromTls): void => {
  process.send!(m);
};

async function server(): Promise<void> {
  const cert = await createNodeCertificate(generateIdentity());
  let meter: Meter | undefined;
  let perConnection = 0;
  let expected = 0;
  let finished = 0;
  let total = 0;
  const srv = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (sock) => {
    let got = 0;
    sock.on('data', (b: Buffer) => {
      got += b.length;
      total += b.length;
      if (got === perConnection) {
        sock.write(Buffer.of(0));
        if (++finished === expected) post({ type: 'received', bytes: total, meter: meter!.stop() });
      }
    });
    sock.on('error', () => undefined);
  });
  process.on('message', (m: ToTls) => {
    if (m.type === 'arm') {
      perConnection = m.bytesPerConnection;
      expected = m.connections;
      finished = 0;
      total = 0;
      meter = startMeter();
      post({ type: 'armed' });
    } else if (m.type === 'stop') {
      srv.close();
      process.exit(0);
    }
  });
  srv.listen(0, '127.0.0.1', () => {
    post({ type: 'ready', port: (srv.address() as { port: number }).port, certPem: cert.certPem });
  });
}

async function client(): Promise<void> {
  const buf = randomBytes(MiB);
  let socks: tls.TLSSocket[] = [];
  process.on('message', (m: ToTls) => {
    void (async () => {
      if (m.type === 'connect') {
        socks = await Promise.all(
          Array.from({ length: m.connections }, async () => {
            const s = tls.connect({ host: '127.0.0.1', port: m.port, ca: m.certPem, checkServerIdentity: () => undefined });
            await once(s, 'secureConnect');
            return s;
          }),
        );
        post({ type: 'connected' });
      } else if (m.type === 'send') {
        const meter = startMeter();
        const t0 = performance.now();
        await Promise.all(
          socks.map(async (s) => {
            const answered = once(s, 'data');
            for (let left = m.bytesPerConnection; left > 0; ) {
              const n = Math.min(buf.length, left);
              left -= n;
              if (!s.write(n === buf.length ? buf : buf.subarray(0, n))) await once(s, 'drain');
            }
            await answered;
          }),
        );
        const wallMs = performance.now() - t0;
        post({ type: 'sent', wallMs, meter: meter.stop() });
      } else if (m.type === 'stop') {
        for (const s of socks) s.destroy();
        process.exit(0);
      }
    })().catch(failChild);
  });
}

/**
 * Runs the node:tls baseline once: two child processes, `bytes` split evenly over
 * `connections` TCP connections (`bytes` must divide by `connections`). Rejects if a child fails or the run exceeds `timeoutMs`.
 */
export async function runTlsBaseline({
  bytes,
  connections = 1,
  timeoutMs = 120_000,
}: {
  bytes: number;
  connections?: number;
  timeoutMs?: number;
}): Promise<TlsBaselineResult> {
  if (bytes % connections !== 0) throw new Error(`bytes (${bytes}) must divide by connections (${connections})`);
  const srv = Child.fork<ToTls, FromTls>('tls server', self, ['server']);
  const cli = Child.fork<ToTls, FromTls>('tls client', self, ['client']);
  try {
    const ready = await srv.next('ready', 30_000);
    cli.send({ type: 'connect', port: ready.port, certPem: ready.certPem, connections });
    await cli.next('connected', 30_000);
    const bytesPerConnection = bytes / connections;
    srv.send({ type: 'arm', bytesPerConnection, connections });
    await srv.next('armed', 10_000);
    cli.send({ type: 'send', bytesPerConnection });
    const sent = await cli.next('sent', timeoutMs);
    const received = await srv.next('received', 10_000);
    if (received.bytes !== bytes) throw new Error(`tls baseline: receiver got ${received.bytes} of ${bytes} bytes`);
    return {
      bytes,
      connections,
      wallMs: sent.wallMs,
      mbps: mbps(bytes, sent.wallMs),
      protocol: 'TLSv1.3 (Ed25519 certificate)',
      sender: sent.meter,
      receiver: received.meter,
    };
  } finally {
    await Promise.all([srv.stop(), cli.stop()]);
  }
}

async function standalone(): Promise<void> {
  const { values } = parseArgs({ options: { size: { type: 'string', default: '256MiB' }, connections: { type: 'string', default: '1' } } });
  const bytes = parseSize(values.size!);
  const connections = Number(values.connections);
  const r = await runTlsBaseline({ bytes, connections });
  console.log(
    `node:tls over TCP, 127.0.0.1, ${formatSize(bytes)} memory → memory, ${connections} connection(s): ` +
      `${r.mbps.toFixed(1)} MB/s; CPU s/GiB sender ${(r.sender.cpuSeconds / (bytes / 2 ** 30)).toFixed(2)}, ` +
      `receiver ${(r.receiver.cpuSeconds / (bytes / 2 ** 30)).toFixed(2)}`,
  );
}

benchMain(self, { server, client }, standalone);
