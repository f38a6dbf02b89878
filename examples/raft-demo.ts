/**
 * `npm run demo:raft`: a replicated KV store of three octopii member processes on 127.0.0.1
 * (QUIC, WAL with fsync). Writes, SIGKILL of the leader, the new leader, and every
 * acknowledged write read back (linearizable reads).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterClient, clusterStart, clusterStatus } from '../src/cli/cluster.js';

const dir = await mkdtemp(join(tmpdir(), 'octopii-raft-demo-'));
console.log(`cluster in ${dir}`);
const members = await clusterStart({ nodes: 3, dir, print: (l) => console.log(`member ${l}`) });
const leaderOf = async (not?: number) => {
  for (;;) {
    const st = await clusterStatus({ dir, timeoutMs: 500 });
    const l = st.members.find((m) => m.role === 'leader' && m.id !== not);
    if (l) return l;
    await new Promise((r) => setTimeout(r, 100));
  }
};
try {
  const first = await leaderOf();
  console.log(`leader: member ${first.id} (term ${first.term})`);
  const c = await clusterClient(dir);
  const acked = new Map<string, string>();
  for (let i = 0; i < 20; i++) {
    await c.client.put(`key${i}`, `value${i}`);
    acked.set(`key${i}`, `value${i}`);
  }
  console.log(`wrote ${acked.size} keys; cas key0 value0→changed: ${JSON.stringify(await c.client.cas('key0', 'value0', 'changed'))}`);
  acked.set('key0', 'changed');
  const t0 = Date.now();
  members.find((m) => m.id === first.id)!.process.kill('SIGKILL');
  console.log(`SIGKILL member ${first.id} (the leader)`);
  const next = await leaderOf(first.id);
  console.log(`new leader: member ${next.id} (term ${next.term}) after ${Date.now() - t0} ms`);
  for (let i = 20; i < 30; i++) {
    await c.client.put(`key${i}`, `value${i}`);
    acked.set(`key${i}`, `value${i}`);
  }
  let ok = 0;
  for (const [k, v] of acked) if ((await c.client.get(k)) === v) ok++;
  console.log(`${ok} of ${acked.size} acknowledged writes read back after the leader's death`);
  console.log(JSON.stringify(await clusterStatus({ dir, timeoutMs: 500 })));
  await c.close();
  process.exitCode = ok === acked.size ? 0 : 1;
} finally {
  for (const m of members) m.process.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
}
