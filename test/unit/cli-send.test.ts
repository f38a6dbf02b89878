import { describe, expect, it } from 'vitest';
import { describeResult } from '../../src/cli/send.js';

describe('octopii send: the line printed for a result', () => {
  it("names the receiver as the source of an error it reported (its reason on octopii's protocol)", () => {
    const line = describeResult({
      peer: '127.0.0.1:4000',
      success: false,
      bytesTransferred: 1024,
      checksumVerified: false,
      durationMs: 1500,
      error: { code: 'DISK_FULL', message: 'write to /in/.incoming.x.part failed: ENOSPC: no space left on device', origin: 'remote' },
    });
    expect(line).toBe('send to 127.0.0.1:4000 failed after 1.5 s: receiver: DISK_FULL: write to /in/.incoming.x.part failed: ENOSPC: no space left on device');
  });

  it('prints a local error without the receiver prefix', () => {
    const line = describeResult({ peer: '127.0.0.1:4000', success: false, bytesTransferred: 0, checksumVerified: false, durationMs: 3300, error: { code: 'UNAVAILABLE', message: 'peer is unavailable' } });
    expect(line).toBe('send to 127.0.0.1:4000 failed after 3.3 s: UNAVAILABLE: peer is unavailable');
  });
});
