/** The token bucket arithmetic behind the blob upload and download limits (src/blobs/tokenBucket.ts, peerRateLimits.ts, uploadLimits.ts, downloadLimits.ts). */
import { describe, expect, it } from 'vitest';
import { reserve, tokenBucket } from '../../src/blobs/tokenBucket.js';
import { DownloadLimits } from '../../src/blobs/downloadLimits.js';
import { UploadLimits } from '../../src/blobs/uploadLimits.js';

/** Send times (ms) of `n` sends of `bytes`, each sent as soon as the bucket allows. */
function schedule(bytesPerSecond: number, burstBytes: number, bytes: number, n: number): number[] {
  let b = tokenBucket({ bytesPerSecond, burstBytes });
  let now = 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = reserve(b, bytes, now);
    b = r.bucket;
    now += r.waitMs;
    out.push(now);
  }
  return out;
}

describe('tokenBucket', () => {
  it('spaces sends at the rate once the burst is spent', () => {
    expect(schedule(1000, 0, 100, 5)).toEqual([0, 100, 200, 300, 400]);
  });

  it('lets a burst go at once, then the rate', () => {
    expect(schedule(1000, 200, 100, 6)).toEqual([0, 0, 0, 100, 200, 300]);
  });

  it('refills while idle, up to the burst', () => {
    let b = tokenBucket({ bytesPerSecond: 1000, burstBytes: 100 });
    b = reserve(b, 100, 0).bucket;
    b = reserve(b, 100, 0).bucket; // paid until 200
    expect([reserve(b, 100, 10_000).waitMs, reserve(b, 100, 150).waitMs]).toEqual([0, 0]);
  });

  it('refuses a rate that is not a positive number', () => {
    expect(() => tokenBucket({ bytesPerSecond: 0 })).toThrow(RangeError);
  });
});

describe('UploadLimits', () => {
  it('charges each peer its own bucket: one peer waiting does not make another wait', () => {
    const l = new UploadLimits({ maxUploadRatePerPeer: 1000, burstBytes: 0 });
    expect([l.reserve('a', 500, 0), l.reserve('a', 500, 0), l.reserve('b', 500, 0)]).toEqual([0, 500, 0]);
  });

  it('charges the node bucket for every peer', () => {
    const l = new UploadLimits({ maxUploadRate: 1000, burstBytes: 0 });
    expect([l.reserve('a', 500, 0), l.reserve('b', 500, 0)]).toEqual([0, 500]);
  });

  it('waits the longer of the node and the peer delay', () => {
    const l = new UploadLimits({ maxUploadRate: 1000, maxUploadRatePerPeer: 250, burstBytes: 0 });
    expect([l.reserve('a', 500, 0), l.reserve('a', 500, 0)]).toEqual([0, 2000]);
  });

  it('refuses a limit that is not a positive number with INVALID_ARGUMENT', () => {
    expect(() => new UploadLimits({ maxUploadRate: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('DownloadLimits', () => {
  it('waits the longer of the node and the provider delay, each provider on its own bucket', () => {
    const l = new DownloadLimits({ maxDownloadRate: 1000, maxDownloadRatePerPeer: 250, burstBytes: 0 });
    expect([l.reserve('a', 500, 0), l.reserve('a', 500, 0), l.reserve('b', 100, 0)]).toEqual([0, 2000, 1000]);
  });

  it('is inactive without a cap', () => {
    expect([new DownloadLimits({}).active, new DownloadLimits({ maxDownloadRatePerPeer: 1 }).active]).toEqual([false, true]);
  });

  it('refuses a limit that is not a positive number with INVALID_ARGUMENT naming it', () => {
    expect(() => new DownloadLimits({ maxDownloadRate: Number.NaN })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('maxDownloadRate') }));
  });
});
