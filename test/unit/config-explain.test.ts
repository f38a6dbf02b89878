import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { explainConfig } from '../../src/config.js';

describe('explainConfig (octopii config print)', () => {
  it('names the source of every setting: option over env over file over default', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'octopii-cfg-'));
    try {
      const file = join(dir, 'c.json');
      await writeFile(file, JSON.stringify({ listen: '127.0.0.1:7000', transport: 'matrixai', limits: { connections: 9 } }));
      const entries = explainConfig(
        { transport: 'quinn' },
        { env: { OCTOPII_LISTEN: '127.0.0.1:8000', OCTOPII_MAX_INCOMING: '5' }, file },
      );
      const by = Object.fromEntries(entries.map((e) => [e.key, e]));
      expect(by.transport).toEqual({ key: 'transport', value: 'quinn', source: 'option' });
      expect(by.listen).toEqual({ key: 'listen', value: '127.0.0.1:8000', source: 'env', env: 'OCTOPII_LISTEN' });
      expect(by['limits.incomingPerNode']).toEqual({ key: 'limits.incomingPerNode', value: 5, source: 'env', env: 'OCTOPII_MAX_INCOMING' });
      expect(by['limits.connections']).toEqual({ key: 'limits.connections', value: 9, source: 'file' });
      expect(by['limits.incomingPerPeer']).toEqual({ key: 'limits.incomingPerPeer', value: 16, source: 'default' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
