/** The `blobs` section of the config: upload caps in bytes per second (src/config.ts). */
import { describe, expect, it } from 'vitest';
import { positiveSizeArg } from '../../src/cli/options.js';
import { loadConfig } from '../../src/config.js';

describe('config blobs', () => {
  it('has no upload caps by default', () => {
    expect(loadConfig({}, { env: {} }).blobs).toEqual({});
  });

  it('takes a cap as bytes per second or as a size string', () => {
    expect(loadConfig({ blobs: { maxUploadRate: '10MB', maxUploadRatePerPeer: 1_000_000 } }, { env: {} }).blobs).toEqual({ maxUploadRate: 10_000_000, maxUploadRatePerPeer: 1_000_000 });
  });

  it('refuses a cap that is not a size with INVALID_ARGUMENT naming the field', () => {
    expect(() => loadConfig({ blobs: { maxUploadRate: 'fast' } }, { env: {} })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('blobs.maxUploadRate') }));
  });

  it('refuses a zero cap', () => {
    expect(() => loadConfig({ blobs: { maxUploadRatePerPeer: 0 } }, { env: {} })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('--max-upload-rate', () => {
  it('parses a size per second', () => {
    expect(positiveSizeArg('10MB')).toBe(10_000_000);
  });

  it('refuses 0', () => {
    expect(() => positiveSizeArg('0')).toThrow('expected a size in bytes above 0');
  });
});
