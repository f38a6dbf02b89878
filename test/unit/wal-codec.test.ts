/**
 * The WAL's on-disk format (src/wal/codec.ts) as a golden vector, checked against an independent
 * CRC-32C implementation; decoding, and telling a torn tail from a valid frame after a bad one.
 */
import { describe, expect, it } from 'vitest';
import { crc32c as independentCrc32c } from '@aws-crypto/crc32c';
import { FRAME_HEADER, encodeFrame, encodeRecords, findNextFrame, forEachRecord, readFrame, type WalRecord } from '../../src/wal/codec.js';

const records: WalRecord[] = [
  { type: 'entry', index: 1, term: 2, data: new TextEncoder().encode('hi') },
  { type: 'hardState', hardState: { term: 2, vote: 'n1', commit: 1 } },
  { type: 'snapshot', snapshot: { index: 2 ** 32 + 5, term: 3 } },
  { type: 'truncate', index: 7 },
];

// crc32c | length 81 | type 1, reserved | records: type, u32 length, body (u64s little-endian)
const GOLDEN = [
  '959ec00d 51000000 01000000',
  '01 12000000 0100000000000000 0200000000000000 6869',
  '02 13000000 0200000000000000 0100000000000000 01 6e31',
  '03 10000000 0500000001000000 0300000000000000',
  '04 08000000 0700000000000000',
].join('').replace(/ /g, '');

describe('WAL codec', () => {
  it('encodes the golden vector; its checksum is CRC-32C of bytes 4… by an independent library', () => {
    const enc = encodeRecords(records);
    const frame = encodeFrame([enc.bytes]);
    expect(frame.toString('hex')).toBe(GOLDEN);
    expect(frame.readUInt32LE(0)).toBe(independentCrc32c(frame.subarray(4)));
    expect(enc.entryDataOffsets).toEqual([5 + 16]);
  });

  it('decodes the golden vector back, with entry data offsets into the buffer', () => {
    const buf = Buffer.from(GOLDEN, 'hex');
    const fr = readFrame(buf, 0);
    expect(fr).toEqual({ ok: true, payloadStart: FRAME_HEADER, end: buf.byteLength });
    const seen: [WalRecord, number][] = [];
    if (fr.ok) forEachRecord(buf, fr.payloadStart, fr.end, (r, off) => seen.push([r, off]));
    expect(seen.map(([r]) => (r.type === 'entry' ? { ...r, data: Buffer.from(r.data).toString() } : r))).toEqual([
      { type: 'entry', index: 1, term: 2, data: 'hi' },
      records[1],
      records[2],
      records[3],
    ]);
    expect(buf.subarray(seen[0]![1], seen[0]![1] + 2).toString()).toBe('hi');
  });

  it('a bad frame: readFrame says why; findNextFrame finds the next valid frame, or -1 over zeros and a torn tail', () => {
    const a = encodeFrame([encodeRecords([records[3]!]).bytes]);
    const b = encodeFrame([encodeRecords([records[0]!]).bytes]);
    const bad = Buffer.from(a);
    bad[FRAME_HEADER + 3]! ^= 1;
    expect(readFrame(bad, 0)).toMatchObject({ ok: false, reason: expect.stringMatching(/checksum/) });
    expect(findNextFrame(Buffer.concat([bad, b]), 0)).toBe(a.byteLength);
    expect(findNextFrame(Buffer.concat([bad, Buffer.alloc(1000)]), 0)).toBe(-1);
    expect(findNextFrame(Buffer.concat([bad, b.subarray(0, b.byteLength - 1)]), 0)).toBe(-1);
    expect(readFrame(Buffer.alloc(20), 0)).toMatchObject({ ok: false, reason: expect.stringMatching(/type 0/) });
  });

  it('a frame whose checksum holds but whose records do not parse throws a RangeError', () => {
    const junk = encodeFrame([Buffer.from([9, 0, 0, 0, 0])]);
    const fr = readFrame(junk, 0);
    expect(fr.ok).toBe(true);
    const { payloadStart, end } = fr as Extract<typeof fr, { ok: true }>;
    expect(() => forEachRecord(junk, payloadStart, end, () => undefined)).toThrow(RangeError);
  });
});
