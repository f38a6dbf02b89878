/** The `blobs` section of the config: upload and download caps in bytes per second, block size, fetch window (src/config.ts). */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { blockSizeArg, positiveSizeArg, windowArg } from '../../src/cli/options.js';
import { explainConfig, loadConfig } from '../../src/config.js';

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

describe('config blobs: block size, window, download caps', () => {
  it('takes a block size as bytes or a size string', () => {
    expect([loadConfig({ blobs: { blockSize: '256KiB' } }, { env: {} }).blobs.blockSize, loadConfig({ blobs: { blockSize: 65536 } }, { env: {} }).blobs.blockSize]).toEqual([262_144, 65_536]);
  });

  it.each(['100KB', '8KiB', '32MiB', 'big'])('refuses block size %s with INVALID_ARGUMENT naming the field', (b) => {
    expect(() => loadConfig({ blobs: { blockSize: b } }, { env: {} })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('blobs.blockSize') }));
  });

  it('reads the blobs settings from OCTOPII_* variables', () => {
    const env = { OCTOPII_BLOB_BLOCK_SIZE: '4MiB', OCTOPII_BLOB_FETCH_WINDOW: '16', OCTOPII_MAX_DOWNLOAD_RATE: '10MB', OCTOPII_MAX_DOWNLOAD_RATE_PER_PEER: '2MB', OCTOPII_MAX_UPLOAD_RATE: '1MiB' };
    expect(loadConfig({}, { env }).blobs).toEqual({ blockSize: 4 << 20, fetchWindow: 16, maxDownloadRate: 10_000_000, maxDownloadRatePerPeer: 2_000_000, maxUploadRate: 1 << 20 });
  });

  it('refuses a bad OCTOPII_BLOB_BLOCK_SIZE naming the variable', () => {
    expect(() => loadConfig({}, { env: { OCTOPII_BLOB_BLOCK_SIZE: '3000' } })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('blobs.blockSize (OCTOPII_BLOB_BLOCK_SIZE)') }));
  });

  it('refuses a window of 0 from OCTOPII_BLOB_FETCH_WINDOW naming the variable', () => {
    expect(() => loadConfig({}, { env: { OCTOPII_BLOB_FETCH_WINDOW: '0' } })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('blobs.fetchWindow (OCTOPII_BLOB_FETCH_WINDOW)') }));
  });

  it('merges the blobs settings of a file and of the environment key by key', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'octopii-cfgblobs-')), 'c.json');
    await writeFile(file, JSON.stringify({ blobs: { maxUploadRate: '1MB', blockSize: '64KiB' } }));
    expect(loadConfig({}, { env: { OCTOPII_BLOB_BLOCK_SIZE: '128KiB' }, file }).blobs).toEqual({ maxUploadRate: 1_000_000, blockSize: 131_072 });
  });

  it('explains a blobs setting taken from the environment with its variable', () => {
    expect(explainConfig({}, { env: { OCTOPII_BLOB_FETCH_WINDOW: '8' } }).find((e) => e.key === 'blobs.fetchWindow')).toEqual({ key: 'blobs.fetchWindow', value: 8, source: 'env', env: 'OCTOPII_BLOB_FETCH_WINDOW' });
  });
});

describe('--block-size and --window', () => {
  it('parses a block size with a unit', () => {
    expect([blockSizeArg('256KiB'), blockSizeArg('16384'), blockSizeArg('16MiB')]).toEqual([262_144, 16_384, 16 << 20]);
  });

  it.each(['256KB', '8KiB', '32MiB', '0'])('refuses %s', (v) => {
    expect(() => blockSizeArg(v)).toThrow('expected a power of two from 16KiB to 16MiB');
  });

  it('parses a window of blocks', () => {
    expect(windowArg('8')).toBe(8);
  });

  it.each(['0', '1025', '2.5'])('refuses window %s', (v) => {
    expect(() => windowArg(v)).toThrow('expected a whole number of blocks from 1 to 1024.');
  });
});
