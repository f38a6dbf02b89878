/**
 * `npm run bench:raft` — figures, not pass/fail. Three octopii KV members (processes, QUIC on
 * loopback, WAL with fdatasync per group commit) and, when `etcd` is installed and the `etcd3`
 * client is available, a three-member etcd cluster on loopback under the same load:
 * committed writes/s with p50/p99 latency at 1, 64 and 256 concurrent clients (sessions), and
 * linearizable reads/s at 64 clients. BENCH_MS sets each phase's length (default 5,000 ms).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterClient, clusterInit, clusterStatus, spawnMember } from '../src/cli/cluster.js';

const MS = Number(process.env.BENCH_MS ?? 5000);
const CONCURRENCY = [1, 64, 256];
const VALUE = 'v'.repeat(64);

interface Figures {
  ops: number;
  perSec: number;
  p50: number;
  p99: number;
}

interface Target {
  put(session: number, key: string, value: string): Promise<unknown>;
  get(session: number, key: string): Promise<unknown>;
}

const pct = (xs: number[], p: number) => (xs.length ? xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]! : NaN);

async function load(c: number, op: (session: number, i: number) => Promise<unknown>): Promise<Figures> {
  const lat: number[] = [];
  const end = performance.now() + MS;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: c }, async (_, s) => {
      for (let i = 0; performance.now() < end; i++) {
        const t = performance.now();
        await op(s, i);
        lat.push(performance.now() - t);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  return { ops: lat.length, perSec: Math.round(lat.length / secs), p50: +pct(lat, 0.5).toFixed(2), p99: +pct(lat, 0.99).toFixed(2) };
}

async function run(name: string, t: Target): Promise<Record<string, Figures>> {
  const out: Record<string, Figures> = {};
  for (const c of CONCURRENCY) {
    out[`write@${c}`] = await load(c, (s, i) => t.put(s, `k${s}-${i % 1000}`, VALUE));
    console.log(`${name} writes, ${c} clients: ${JSON.stringify(out[`write@${c}`])}`);
  }
  out['read@64'] = await load(64, (s, i) => t.get(s, `k${s}-${i % 1000}`));
  console.log(`${name} linearizable reads, 64 clients: ${JSON.stringify(out['read@64'])}`);
  return out;
}

async function octopii(): Promise<Record<string, Figures>> {
  const dir = await mkdtemp(join(tmpdir(), 'octopii-bench-raft-'));
  const members = await Promise.all((await clusterInit({ nodes: 3, dir })).map((c) => spawnMember(c)));
  try {
    for (;;) {
      const st = await clusterStatus({ dir, timeoutMs: 500 });
      if (st.leader) break;
    }
    const c = await clusterClient(dir, { timeoutMs: 30_000 });
    const sessions = Array.from({ length: 256 }, () => c.client.session());
    const r = await run('octopii', { put: (s, k, v) => sessions[s]!.put(k, v), get: (s, k) => sessions[s]!.get(k) });
    await c.close();
    return r;
  } finally {
    for (const m of members) m.process.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

async function etcd(): Promise<Record<string, Figures> | string> {
  if (spawnSync('etcd', ['--version']).status !== 0) return 'etcd is not installed (apt-get install -y etcd-server)';
  let Etcd3: new (o: { hosts: string[] }) => { put(k: string): { value(v: string): Promise<unknown> }; get(k: string): { string(): Promise<unknown> }; close(): void };
  try {
    ({ Etcd3 } = await import('etcd3' as string));
  } catch {
    return 'the etcd3 client is not installed (npm install -D etcd3)';
  }
  const dir = await mkdtemp(join(tmpdir(), 'octopii-bench-etcd-'));
  const procs: ChildProcess[] = [];
  const peers = [1, 2, 3].map((i) => `e${i}=http://127.0.0.1:${23800 + i}`).join(',');
  try {
    for (const i of [1, 2, 3]) {
      procs.push(
        spawn('etcd', [
          '--name', `e${i}`, '--data-dir', join(dir, `e${i}`),
          '--listen-client-urls', `http://127.0.0.1:${23790 + i}`, '--advertise-client-urls', `http://127.0.0.1:${23790 + i}`,
          '--listen-peer-urls', `http://127.0.0.1:${23800 + i}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${23800 + i}`,
          '--initial-cluster', peers, '--initial-cluster-state', 'new', '--log-level', 'error',
        ], { stdio: 'ignore' }),
      );
    }
    const client = new Etcd3({ hosts: [1, 2, 3].map((i) => `http://127.0.0.1:${23790 + i}`) });
    for (let t = 0; ; t++) {
      try {
        await client.put('warm').value('up');
        break;
      } catch (e) {
        if (t > 100) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const r = await run('etcd', { put: (_s, k, v) => client.put(k).value(v), get: (_s, k) => client.get(k).string() });
    client.close();
    return r;
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

const o = await octopii();
const e = await etcd();
if (typeof e === 'string') {
  console.log(`etcd baseline: none — ${e}`);
} else {
  for (const k of Object.keys(o)) {
    const a = o[k]!;
    const b = e[k]!;
    console.log(`${k}: octopii ${a.perSec}/s p50 ${a.p50} ms p99 ${a.p99} ms | etcd ${b.perSec}/s p50 ${b.p50} ms p99 ${b.p99} ms | throughput ×${(a.perSec / b.perSec).toFixed(2)}, p50 ×${(a.p50 / b.p50).toFixed(2)}`);
  }
}
console.log(JSON.stringify({ octopii: o, etcd: e }));
