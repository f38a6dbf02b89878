/**
 * Golden vectors of the rpc wire (docs/PROTOCOL.md "RPC") and the frame reader on bad input:
 * truncated frame, length over the limit, bodies that are not CBOR or not a message.
 */
import { describe, expect, it } from 'vitest';
import { FrameReader, decodeRpcMessage, encodeRpcMessage, encodeFrame, validateRpcMessage, type RpcMessage } from '../../src/wire/rpc.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

/** Golden vectors: message → frame (u32 BE length ‖ u32 BE call ID ‖ CBOR). Also in PROTOCOL.md. */
const VECTORS: Array<[string, RpcMessage, string]> = [
  ['unary request', { t: 'req', id: 1, m: 'kv.get', dl: 1000, p: { key: 'a' }, fin: true }, '00000028 00000001 b90005617463726571616d666b762e67657462646c1903e86170b90001636b657961616366696ef5'],
  ['last reply', { t: 'data', id: 1, p: { value: 'b' }, fin: true }, '0000001c 00000001 b90003617464646174616170b900016576616c756561626366696ef5'],
  ['error UNKNOWN_METHOD (304)', { t: 'err', id: 2, e: { code: 304, message: 'no' } }, '00000021 00000002 b900026174636572726165b9000264636f6465190130676d657373616765626e6f'],
  ['credit 8', { t: 'credit', id: 3, n: 8 }, '0000000f 00000003 b90002617466637265646974616e08'],
  ['cancel', { t: 'cancel', id: 4 }, '0000000c 00000004 b9000161746663616e63656c'],
  ['end with a trailer', { t: 'end', id: 5, md: { 'x-k': '1' } }, '00000015 00000005 b90002617463656e64626d64b9000163782d6b6131'],
];

/** A reader over `chunks` as they would arrive. */
function readerOf(...chunks: Uint8Array[]): ReadableStreamDefaultReader<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(c) {
      for (const x of chunks) c.enqueue(x);
      c.close();
    },
  }).getReader();
}

describe('rpc wire golden vectors', () => {
  it.each(VECTORS)('%s encodes to its vector', (_name, m, frame) => {
    expect(hex(encodeRpcMessage(m))).toBe(frame.replace(/\s+/g, ''));
  });
  it.each(VECTORS)('%s decodes from its vector', async (_name, m, frame) => {
    const f = await new FrameReader(readerOf(bytes(frame))).next();
    expect(decodeRpcMessage(f as { id: number; body: Uint8Array })).toEqual(m);
  });
});

describe('frame reader', () => {
  it('reads a frame split into one-byte chunks', async () => {
    const frame = encodeRpcMessage({ t: 'cancel', id: 9 });
    const f = await new FrameReader(readerOf(...Array.from(frame, (b) => new Uint8Array([b])))).next();
    expect(decodeRpcMessage(f as { id: number; body: Uint8Array })).toEqual({ t: 'cancel', id: 9 });
  });

  it('a stream ending inside a frame is PROTOCOL_ERROR', async () => {
    const frame = encodeRpcMessage({ t: 'cancel', id: 9 });
    await expect(new FrameReader(readerOf(frame.subarray(0, frame.byteLength - 1))).next()).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
  });

  it('a clean end between frames is null', async () => {
    expect(await new FrameReader(readerOf()).next()).toBeNull();
  });

  it('a length over the limit is reported with its call ID, not buffered', async () => {
    const big = encodeFrame(7, new Uint8Array(2048), 1 << 20);
    const r = new FrameReader(readerOf(big), 1024);
    expect(await r.next()).toEqual({ id: 7, oversized: 2048 });
  });

  it('the frame after an oversized one is read normally', async () => {
    const big = encodeFrame(7, new Uint8Array(2048), 1 << 20);
    const r = new FrameReader(readerOf(big, encodeRpcMessage({ t: 'cancel', id: 8 })), 1024);
    await r.next();
    expect(decodeRpcMessage((await r.next()) as { id: number; body: Uint8Array })).toEqual({ t: 'cancel', id: 8 });
  });

  it('the encoder refuses a body over the limit with TOO_LARGE', () => {
    expect(() => encodeRpcMessage({ t: 'data', id: 1, p: new Uint8Array(2048) }, 1024)).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }));
  });
});

describe('message validation', () => {
  it('a body that is not CBOR is PROTOCOL_ERROR', () => {
    expect(() => decodeRpcMessage({ id: 1, body: bytes('ff ff ff') })).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
  });
  it('an unknown type is PROTOCOL_ERROR', () => {
    expect(() => validateRpcMessage(1, { t: 'wat' })).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
  });
  it('a credit of 0 is PROTOCOL_ERROR', () => {
    expect(() => validateRpcMessage(1, { t: 'credit', n: 0 })).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
  });
  it('an error without a u16 code is PROTOCOL_ERROR', () => {
    expect(() => validateRpcMessage(1, { t: 'err', e: { code: 'x', message: 'y' } })).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
  });
  it('metadata with a non-string value is PROTOCOL_ERROR', () => {
    expect(() => validateRpcMessage(1, { t: 'req', m: 'a.b', md: { k: 1 } })).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
  });
  it('a call ID inside the map is PROTOCOL_ERROR', () => {
    expect(() => validateRpcMessage(1, { t: 'cancel', id: 1 })).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
  });
});
