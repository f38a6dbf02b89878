import { describe, expect, it } from 'vitest';
import { decodeControlFrames, encodeControlFrame, MAX_CONTROL_FRAME_BYTES } from '../../src/wire/control.js';
import { decodeStreamPreamble, encodeStreamPreamble } from '../../src/wire/streamKind.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('stream kind preamble (docs/PROTOCOL.md "Stream kinds")', () => {
  // Golden vectors.
  it.each([
    ['lane', '01 04 6c616e65'],
    ['control', '01 07 636f6e74726f6c'],
    ['rpc', '01 03 727063'],
  ])('%s is %s', (kind, bytes) => {
    expect(hex(encodeStreamPreamble(kind))).toBe(bytes.replace(/\s+/g, ''));
    expect(decodeStreamPreamble(unhex(bytes + ' ff'))).toEqual({ kind, length: 2 + kind.length });
  });

  it('asks for more bytes while the preamble is incomplete', () => {
    expect(decodeStreamPreamble(unhex('01'))).toBeNull();
    expect(decodeStreamPreamble(unhex('01 04 6c61'))).toBeNull();
  });

  it.each([
    ['another version', '02 04 6c616e65', /version 2/],
    ['a zero length', '01 00', /length 0/],
    ['a length over 32', '01 21', /length 33/],
    ['an upper-case kind', '01 04 4c414e45', /invalid stream kind "LANE"/],
  ])('refuses %s with PROTOCOL_ERROR', (_what, bytes, message) => {
    expect(() => decodeStreamPreamble(unhex(bytes))).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR', message: expect.stringMatching(message) }));
  });

  it('refuses to encode an invalid kind with INVALID_ARGUMENT', () => {
    expect(() => encodeStreamPreamble('Lane')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => encodeStreamPreamble('x'.repeat(33))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('control frames (docs/PROTOCOL.md "Hello and keep-alive")', () => {
  // Golden vectors: u32 BE length ‖ CBOR map (cbor-x encodes maps with a 16-bit length).
  const HELLO = '00000033 b9000561746568656c6c6f617601666e6f6465496469313244334b6f6f5741656b696e647381646c616e65656167656e746178';
  const PING = '0000000d b9000261746470696e67616e07';

  it('encodes and decodes a hello', () => {
    const m = { t: 'hello', v: 1, nodeId: '12D3KooWA', kinds: ['lane'], agent: 'x' } as const;
    expect(hex(encodeControlFrame({ ...m, kinds: [...m.kinds] }))).toBe(HELLO.replace(/\s+/g, ''));
    expect(decodeControlFrames(unhex(HELLO))).toEqual({ messages: [{ ...m, kinds: ['lane'] }], rest: new Uint8Array(0) });
  });

  it('encodes and decodes a ping, and splits several frames and a partial one', () => {
    expect(hex(encodeControlFrame({ t: 'ping', n: 7 }))).toBe(PING.replace(/\s+/g, ''));
    const two = unhex(PING + PING + '0000');
    const { messages, rest } = decodeControlFrames(two);
    expect(messages).toEqual([{ t: 'ping', n: 7 }, { t: 'ping', n: 7 }]);
    expect(hex(rest)).toBe('0000');
  });

  it('refuses a length over the limit with TOO_LARGE before reading the body', () => {
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, MAX_CONTROL_FRAME_BYTES + 1);
    expect(() => decodeControlFrames(len)).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }));
  });

  it.each([
    ['invalid CBOR', '00000001 ff', /not CBOR/],
    ['a CBOR array', '00000001 80', /not a map/],
    ['an unknown type', '0000000a b9000161746462616e67', /unknown type "bang"/],
    ['a ping without a number', '0000000a b9000161746470696e67', /ping\.n/],
  ])('refuses %s with PROTOCOL_ERROR', (_what, bytes, message) => {
    expect(() => decodeControlFrames(unhex(bytes))).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR', message: expect.stringMatching(message) }));
  });
});
