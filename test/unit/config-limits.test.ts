import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

describe('config limits', () => {
  it('defaults', () => {
    expect(loadConfig({}, { env: {} }).limits).toEqual({ incomingPerPeer: 16, incomingPerNode: 128, connections: 1024, receiveStallMs: 10_000 });
  });

  it('takes each limit from its env var and merges them key by key with options', () => {
    const cfg = loadConfig({ limits: { incomingPerNode: 7 } as never }, { env: { OCTOPII_MAX_INCOMING_PER_PEER: '3', OCTOPII_RECEIVE_STALL_MS: '2500' } });
    expect(cfg.limits).toEqual({ incomingPerPeer: 3, incomingPerNode: 7, connections: 1024, receiveStallMs: 2500 });
  });

  it('names the variable of a limit that does not parse', () => {
    expect(() => loadConfig({}, { env: { OCTOPII_MAX_CONNECTIONS: 'lots' } })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'invalid configuration: limits.connections (OCTOPII_MAX_CONNECTIONS): expected a whole number, got "lots"' }),
    );
  });

  it('refuses a zero limit', () => {
    expect(() => loadConfig({ limits: { incomingPerPeer: 0 } as never }, { env: {} })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
