/**
 * Golden vectors for Shipping Lane v1 (seed 001 "Wire Format"): the exact bytes on the wire.
 */
import { describe, expect, it } from 'vitest';
import {
  decodeLaneHeader,
  decodeLaneStatus,
  encodeLaneHeader,
  LANE_V1_ALPN,
  LANE_V1_HEADER_BYTES,
  LANE_V1_STATUS,
  LANE_V1_TRAILER_BYTES,
  laneV1FrameBytes,
} from '../../src/wire/laneV1.js';
import { isOctopiiError } from '../../src/errors.js';
import { receiveLane, sendLane } from '../../src/lane/index.js';
import { duplexPair } from '../helpers/duplexPair.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// SHA-256 of the empty string and of "abc" (FIPS 180-2 appendix B.1).
const SHA_EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const SHA_ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

const GOLDEN_EMPTY = unhex(`0000000000000000 ${SHA_EMPTY}`);
const GOLDEN_ABC = unhex(`0300000000000000 616263 ${SHA_ABC}`);

/** Everything the sender writes, as one buffer, while a scripted receiver answers `status`. */
async function captureSend(data: Uint8Array, status: number): Promise<{ wire: Uint8Array; ok: boolean }> {
  const [a, b] = duplexPair();
  const want = laneV1FrameBytes(data.byteLength);
  const receiver = (async () => {
    const reader = b.readable.getReader();
    const parts: Uint8Array[] = [];
    let n = 0;
    while (n < want) {
      const r = await reader.read();
      if (r.done) break;
      parts.push(r.value);
      n += r.value.byteLength;
    }
    const w = b.writable.getWriter();
    await w.write(Uint8Array.of(status));
    await w.close();
    // the sender closes its side after the trailer: nothing more may follow
    const end = await reader.read();
    expect(end.done).toBe(true);
    return new Uint8Array(Buffer.concat(parts));
  })();
  const [wire, result] = await Promise.all([receiver, sendLane(a, { kind: 'memory', data })]);
  return { wire, ok: result.success };
}

/** Feeds `wire` to receiveLane and returns the status byte it answers. */
async function feedReceive(wire: Uint8Array) {
  const [a, b] = duplexPair();
  const sender = (async () => {
    const w = a.writable.getWriter();
    await w.write(wire);
    await w.close();
    const reader = a.readable.getReader();
    const r = await reader.read();
    return r.done ? undefined : r.value[0];
  })();
  const [status, result] = await Promise.all([sender, receiveLane(b, { kind: 'memory' })]);
  return { status, result };
}

describe('Shipping Lane v1 wire format', () => {
  it('has the seed constants', () => {
    expect(LANE_V1_ALPN).toBe('octopii');
    expect(LANE_V1_HEADER_BYTES).toBe(8);
    expect(LANE_V1_TRAILER_BYTES).toBe(32);
    expect(LANE_V1_STATUS).toEqual({ OK: 0, CHECKSUM_FAILED: 1, ERROR: 2 });
    expect(laneV1FrameBytes(3)).toBe(43);
  });

  it('encodes the size as u64 little-endian', () => {
    expect(hex(encodeLaneHeader(0))).toBe('0000000000000000');
    expect(hex(encodeLaneHeader(3))).toBe('0300000000000000');
    expect(hex(encodeLaneHeader(65_537))).toBe('0100010000000000');
    expect(hex(encodeLaneHeader(0x0102030405))).toBe('0504030201000000');
    expect(hex(encodeLaneHeader(Number.MAX_SAFE_INTEGER))).toBe('ffffffffffff1f00');
  });

  it('decodes headers and round-trips', () => {
    for (const n of [0, 1, 255, 256, 65_535, 1 << 30, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER]) {
      expect(decodeLaneHeader(encodeLaneHeader(n))).toBe(n);
    }
    expect(decodeLaneHeader(unhex('0100010000000000'))).toBe(65_537);
    // a view into a larger buffer, at an odd offset
    const big = unhex('aa0300000000000000bb');
    expect(decodeLaneHeader(big.subarray(1, 9))).toBe(3);
  });

  it('rejects sizes above Number.MAX_SAFE_INTEGER and malformed headers with PROTOCOL_ERROR', () => {
    const tooBig = unhex('0000000000002000'); // 2^53
    expect(() => decodeLaneHeader(tooBig)).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
    expect(() => decodeLaneHeader(unhex('ffffffffffffffff'))).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
    expect(() => decodeLaneHeader(unhex('030000'))).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
    for (const bad of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, Number.NaN]) {
      let err: unknown;
      try {
        encodeLaneHeader(bad);
      } catch (e) {
        err = e;
      }
      expect(isOctopiiError(err, 'INVALID_ARGUMENT')).toBe(true);
    }
  });

  it('accepts only status bytes 0, 1, 2', () => {
    expect([0, 1, 2].map(decodeLaneStatus)).toEqual([0, 1, 2]);
    expect(() => decodeLaneStatus(3)).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
  });

  it('sender writes the exact golden bytes of a 0-byte transfer', async () => {
    const { wire, ok } = await captureSend(new Uint8Array(0), 0);
    expect(hex(wire)).toBe(hex(GOLDEN_EMPTY));
    expect(ok).toBe(true);
  });

  it('sender writes the exact golden bytes of "abc"', async () => {
    const { wire, ok } = await captureSend(new TextEncoder().encode('abc'), 0);
    expect(hex(wire)).toBe(hex(GOLDEN_ABC));
    expect(wire.byteLength).toBe(43);
    expect(ok).toBe(true);
  });

  it('receiver accepts the golden bytes and answers status 0', async () => {
    const empty = await feedReceive(GOLDEN_EMPTY);
    expect(empty.status).toBe(0);
    expect(empty.result.sha256).toBe(SHA_EMPTY);
    expect(empty.result.data?.byteLength).toBe(0);
    const abc = await feedReceive(GOLDEN_ABC);
    expect(abc.status).toBe(0);
    expect(abc.result.sha256).toBe(SHA_ABC);
    expect(new TextDecoder().decode(abc.result.data)).toBe('abc');
  });

  it('receiver answers status 1 when the trailer is not the SHA-256 of the data', async () => {
    const bad = GOLDEN_ABC.slice();
    bad[8] = 0x41; // "Abc" with the hash of "abc"
    const { status, result } = await feedReceive(bad);
    expect(status).toBe(1);
    expect(result.error?.code).toBe('CHECKSUM_MISMATCH');
    expect(result.data).toBeUndefined();
  });
});
