import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { HashPool } from '../../src/hash/pool.js';
import { defaultHasher, NODE_HASH_THREADS } from '../../src/node/support.js';
import { DEFAULT_QUINN_TUNING } from '../../src/transport/quinn/transport.js';

describe('memory settings of a node', () => {
  it('quinnReceiveWindow: unset by default, so the transport keeps its 2 MiB stream / 4 MiB connection windows', () => {
    expect(loadConfig({}, { env: {} }).quinnReceiveWindow).toBeUndefined();
    expect([DEFAULT_QUINN_TUNING.maxStreamData, DEFAULT_QUINN_TUNING.maxConnectionData]).toEqual([2 * 2 ** 20, 4 * 2 ** 20]);
  });

  it('quinnReceiveWindow comes from OCTOPII_QUINN_RECEIVE_WINDOW in bytes or with a unit; an option wins', () => {
    expect(loadConfig({}, { env: { OCTOPII_QUINN_RECEIVE_WINDOW: '8MiB' } }).quinnReceiveWindow).toBe(8 * 2 ** 20);
    expect(loadConfig({}, { env: { OCTOPII_QUINN_RECEIVE_WINDOW: '1000000' } }).quinnReceiveWindow).toBe(1_000_000);
    expect(loadConfig({ quinnReceiveWindow: 2 ** 20 }, { env: { OCTOPII_QUINN_RECEIVE_WINDOW: '8MiB' } }).quinnReceiveWindow).toBe(2 ** 20);
  });

  it('names the variable of a window that does not parse', () => {
    expect(() => loadConfig({}, { env: { OCTOPII_QUINN_RECEIVE_WINDOW: 'big' } })).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: 'invalid configuration: quinnReceiveWindow (OCTOPII_QUINN_RECEIVE_WINDOW): expected bytes or a size like 2MiB, got "big"',
      }),
    );
  });

  it('refuses a window under 64 KiB', () => {
    expect(() => loadConfig({ quinnReceiveWindow: 1000 }, { env: {} })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('a node given no hashThreads hashes on one worker; a configured count is kept', async () => {
    expect(NODE_HASH_THREADS).toBe(1);
    const d = await defaultHasher(undefined);
    expect((d.hasher as HashPool).threads).toBe(1);
    await d.release();
    const three = await defaultHasher(3);
    expect((three.hasher as HashPool).threads).toBe(3);
    await three.release();
  });
});
