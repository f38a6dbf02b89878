/** The cluster and kv command functions (src/cli/cluster.ts, src/cli/kv.ts) against member processes. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { clusterStart, clusterStatus, type StartedMember } from '../../src/cli/cluster.js';
import { kvCommand, main as kvMain } from '../../src/cli/kv.js';

let dir = '';
let members: StartedMember[] = [];
afterAll(async () => {
  for (const m of members) m.process.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('cluster and kv commands', () => {
  it('clusterStart prints one line per member; kv put, cas and get go through; status names one leader', async () => {
    dir = await mkdtemp(join(tmpdir(), 'octopii-raft-cli-'));
    const lines: string[] = [];
    members = await clusterStart({ nodes: 3, dir, tickMs: 50, print: (l) => lines.push(l) });
    const put = await kvCommand('put', ['k', 'v1'], dir);
    const cas = await kvCommand('cas', ['k', 'v1', 'v2'], dir);
    const get = await kvCommand('get', ['k'], dir);
    const st = await clusterStatus({ dir });
    expect({
      lines: lines.map((l) => Object.keys(JSON.parse(l)).sort().join(',')),
      put,
      cas,
      get,
      leaders: st.members.filter((m) => m.role === 'leader').length,
    }).toEqual({
      lines: Array(3).fill('address,config,id,nodeId,pid'),
      put: { ok: true, prev: null },
      cas: { ok: true, prev: 'v1' },
      get: { value: 'v2' },
      leaders: 1,
    });
  }, 60_000);

  it('kv with a missing argument exits 2', async () => {
    expect(await kvMain(['put', 'k', '--dir', '/nonexistent'])).toBe(2);
  });
});
