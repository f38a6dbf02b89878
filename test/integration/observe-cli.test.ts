/** The CLI helpers of src/cli/: serve --observe, observe --nodes, machines. */
import { afterAll, describe, expect, it } from 'vitest';
import { readdir, readFile, rm } from 'node:fs/promises';
import { serveObserve, observeCommand } from '../../src/cli/observe.js';
import { machinesCommand } from '../../src/cli/machines.js';
import { tempDir } from '../helpers/laneFixtures.js';
import { fakeNode } from './observe-fake-node.js';
import { get } from './observe-sse.js';

/** Every machine of the framework (src/observe/catalogue.ts), sorted. */
const ALL_MACHINES = ['admission', 'blobBatch', 'blobFetch', 'blobMulti', 'blobMultiProvider', 'blobProvide', 'breaker', 'laneReceive', 'laneSend', 'node', 'peer', 'raft', 'rpcCall'];

describe('observe CLI helpers', () => {
  const node = fakeNode();
  const dirs: string[] = [];
  afterAll(async () => {
    node.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('serve --observe prints where the endpoint listens', async () => {
    const lines: string[] = [];
    const obs = await serveObserve(node, { write: (l) => void lines.push(l) });
    await obs.close();
    expect(JSON.parse(lines[0]!)).toEqual({ event: 'observing', url: obs.url, nodeId: node.nodeId });
  });

  it('observe --nodes redirects / to the cluster view', async () => {
    const page = await observeCommand({ nodes: ['http://127.0.0.1:9101', 'http://127.0.0.1:9102/'], detach: true, write: () => undefined });
    try {
      const res = await get(page.url.replace(/\?.*$/, ''));
      expect([res.status, res.headers.location]).toEqual([302, '/?nodes=http%3A%2F%2F127.0.0.1%3A9101,http%3A%2F%2F127.0.0.1%3A9102']);
    } finally {
      await page.close();
    }
  });

  it('observe refuses no nodes', async () => {
    await expect(observeCommand({ nodes: [], detach: true })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('observe refuses a non-http node URL', async () => {
    await expect(observeCommand({ nodes: ['file:///etc/passwd'], detach: true })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('observe listens on loopback only', async () => {
    await expect(observeCommand({ nodes: ['http://127.0.0.1:9101'], address: '0.0.0.0:0', detach: true })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it.each([
    ['mermaid', 'md'],
    ['dot', 'dot'],
    ['json', 'json'],
  ] as const)('machines --format %s writes one .%s file per machine', async (format, ext) => {
    const dir = await tempDir('octopii-machines-');
    dirs.push(dir);
    const r = await machinesCommand({ format, out: dir });
    expect([r.skipped, (await readdir(dir)).sort()]).toEqual([[], ALL_MACHINES.map((m) => `${m}.${ext}`)]);
  });

  it('machines --format json writes the charts', async () => {
    const dir = await tempDir('octopii-machines-');
    dirs.push(dir);
    await machinesCommand({ format: 'json', out: dir });
    expect(JSON.parse(await readFile(`${dir}/laneSend.json`, 'utf8'))).toMatchObject({ id: 'laneSend', states: expect.any(Array), transitions: expect.any(Array) });
  });

  it('machines without --out writes to the given output', async () => {
    let text = '';
    await machinesCommand({ format: 'dot', write: (t) => void (text += t) });
    expect(text.match(/^digraph /gm)).toHaveLength(ALL_MACHINES.length);
  });

  it('machines refuses an unknown format', async () => {
    await expect(machinesCommand({ format: 'svg' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
