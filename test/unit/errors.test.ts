import { describe, expect, it } from 'vitest';
import {
  ERROR_TABLE,
  OctopiiError,
  errorForLaneStatus,
  fromWire,
  isRetryable,
  laneStatusFor,
  toErrorInfo,
  toOctopiiError,
  toWire,
  type OctopiiErrorCode,
} from '../../src/errors.js';

describe('the error table (src/errors.ts)', () => {
  it('gives every code a distinct u16 wire code', () => {
    const wires = Object.values(ERROR_TABLE).map((s) => s.wire);
    expect(new Set(wires).size).toBe(wires.length);
    for (const w of wires) expect(Number.isInteger(w) && w > 0 && w <= 0xffff).toBe(true);
  });

  // Golden vectors: these numbers are on the wire; changing one breaks every deployed peer.
  it.each([
    ['CONNECT_TIMEOUT', 1, true],
    ['UNAVAILABLE', 6, true],
    ['HANDSHAKE_FAILED', 7, false],
    ['PROTOCOL_ERROR', 102, false],
    ['UNKNOWN_KIND', 103, false],
    ['SIZE_LIMIT', 200, false],
    ['CHECKSUM_MISMATCH', 201, true],
    ['DISK_FULL', 205, true],
    ['PERMISSION_DENIED', 206, false],
    ['DEADLINE_EXCEEDED', 301, true],
    ['RESOURCE_EXHAUSTED', 303, true],
    ['UNKNOWN_METHOD', 304, false],
    ['NOT_LEADER', 400, true],
    ['WAL_CORRUPT', 401, false],
    ['INTERNAL', 905, false],
    ['UNKNOWN', 999, false],
  ] as Array<[OctopiiErrorCode, number, boolean]>)('%s is wire code %i, retryable %s', (code, wire, retryable) => {
    expect(ERROR_TABLE[code].wire).toBe(wire);
    expect(isRetryable(code)).toBe(retryable);
    expect(toWire({ code, message: 'm' })).toEqual({ code: wire, message: 'm' });
    const back = fromWire({ code: wire, message: 'm' });
    expect(back).toBeInstanceOf(OctopiiError);
    expect(back.toJSON()).toEqual({ code, message: 'm', origin: 'remote' });
  });

  it('round-trips every code through toWire / fromWire as a remote error', () => {
    for (const code of Object.keys(ERROR_TABLE) as OctopiiErrorCode[]) {
      const e = fromWire(toWire(new OctopiiError(code, `about ${code}`)));
      expect([e.code, e.origin, e.message]).toEqual([code, 'remote', `about ${code}`]);
    }
  });

  it('turns a wire code from a newer peer into UNKNOWN, keeping the number in the message', () => {
    const e = fromWire({ code: 4242, message: 'quota' });
    expect(e.toJSON()).toEqual({ code: 'UNKNOWN', message: 'peer error 4242: quota', origin: 'remote' });
  });

  it.each([[null], [{}], [{ code: -1, message: 'x' }], [{ code: 70000, message: 'x' }], [{ code: 1.5, message: 'x' }], [{ code: 3 }]])(
    'refuses a malformed wire error %j with PROTOCOL_ERROR',
    (w) => {
      expect(() => fromWire(w)).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
    },
  );

  it('maps errno codes through one converter', () => {
    const errno = (code: string) => Object.assign(new Error(code), { code });
    expect(toOctopiiError(errno('ENOSPC')).code).toBe('DISK_FULL');
    expect(toOctopiiError(errno('EACCES')).code).toBe('PERMISSION_DENIED');
    expect(toOctopiiError(errno('EROFS')).code).toBe('PERMISSION_DENIED');
    expect(toOctopiiError(errno('ENOTDIR')).code).toBe('NOT_A_DIRECTORY');
    expect(toOctopiiError(errno('ENOENT')).code).toBe('SOURCE_NOT_FOUND');
    expect(toOctopiiError(errno('EMFILE')).code).toBe('RESOURCE_EXHAUSTED');
    expect(toOctopiiError(errno('EWHATEVER'), 'IO_ERROR').code).toBe('IO_ERROR');
  });

  it('keeps a table code carried by a plain object and gives anything else the fallback', () => {
    expect(toErrorInfo({ code: 'TIMEOUT', message: 'slow' })).toEqual({ code: 'TIMEOUT', message: 'slow' });
    expect(toErrorInfo({ code: 'NOT_A_CODE', message: 'x' })).toEqual({ code: 'UNKNOWN', message: 'x' });
    expect(toErrorInfo('boom')).toEqual({ code: 'UNKNOWN', message: 'boom' });
    expect(toErrorInfo(new OctopiiError('CLOSED', 'gone'))).toEqual({ code: 'CLOSED', message: 'gone' });
  });

  it('maps lane v1 status bytes both ways (seed 001, Wire Format)', () => {
    expect(laneStatusFor({ code: 'CHECKSUM_MISMATCH', message: '' })).toBe(1);
    expect(laneStatusFor({ code: 'DISK_FULL', message: '' })).toBe(2);
    expect(laneStatusFor(null)).toBe(2);
    expect(errorForLaneStatus(1).code).toBe('CHECKSUM_MISMATCH');
    expect(errorForLaneStatus(2).code).toBe('REMOTE_ERROR');
    expect(errorForLaneStatus(9)).toEqual({ code: 'PROTOCOL_ERROR', message: 'receiver answered status 9' });
    expect(errorForLaneStatus(2, true).message).toBe('receiver reported an error before the end of the data (status 2)');
  });
});

describe('docs/PROTOCOL.md "Errors"', () => {
  it('lists every code of the table with its wire code and retryability', async () => {
    const { readFile } = await import('node:fs/promises');
    const doc = await readFile(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| ([A-Z_]+) \| (\d+) \| (yes|no) \|$/gm)].map((m) => [m[1], Number(m[2]), m[3] === 'yes']);
    const table = Object.entries(ERROR_TABLE).map(([code, s]) => [code, s.wire, s.retryable]);
    expect(rows).toEqual(table);
  });
});
