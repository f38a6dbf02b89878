/**
 * The RPC server and client against a raw byte stream (test/helpers/duplexPair.ts): what a
 * misbehaving peer sends — invalid CBOR, a length over the limit, a truncated frame, a reply for
 * an unknown call ID — fails only the call concerned; the stream goes on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { duplexPair } from '../helpers/duplexPair.js';
import { kv, kvHandlers } from '../helpers/rpcFixtures.js';
import { RpcServer } from '../../src/rpc/server.js';
import { RpcClient } from '../../src/rpc/client.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { systemClock } from '../../src/runtime/clock.js';
import { FrameReader, decodeRpcMessage, encodeFrame, encodeRpcMessage, type RpcMessage } from '../../src/wire/rpc.js';
import type { DuplexStream, PeerConnection } from '../../src/transport/types.js';

const conn = { remoteNodeId: 'caller', remoteAddress: '10.0.0.9:4000', direction: 'inbound' } as unknown as PeerConnection;
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A server on one end; the test writes raw bytes to the other and reads messages back. */
function rawServer(maxMessageBytes = 1024) {
  const server = new RpcServer({ clock: new SimulatedClock(), logger: silentLogger, maxMessageBytes });
  server.register(kv, kvHandlers(new Map([['k', 'v']])));
  const [ours, theirs] = duplexPair();
  server.accept(theirs, conn);
  cleanups.push(() => ours.abort());
  const w = ours.writable.getWriter();
  const r = new FrameReader(ours.readable.getReader(), 1 << 20);
  return {
    write: (b: Uint8Array) => w.write(b),
    close: () => w.close(),
    next: async (): Promise<RpcMessage | null> => {
      const f = await r.next();
      return f && 'body' in f ? decodeRpcMessage(f) : null;
    },
  };
}
const get = (id: number): RpcMessage => ({ t: 'req', id, m: 'kv.get', p: { key: 'k' }, fin: true });

describe('rpc server on bad input', () => {
  it('a body that is not CBOR fails its call with PROTOCOL_ERROR (wire 102)', async () => {
    const s = rawServer();
    await s.write(encodeFrame(5, new Uint8Array([0xff, 0xff])));
    expect(await s.next()).toMatchObject({ t: 'err', id: 5, e: { code: 102 } });
  });

  it('after a bad frame the next call on the stream is answered', async () => {
    const s = rawServer();
    await s.write(encodeFrame(5, new Uint8Array([0xff, 0xff])));
    await s.next();
    await s.write(encodeRpcMessage(get(6)));
    expect(await s.next()).toEqual({ t: 'data', id: 6, p: { value: 'v' }, md: { 'x-served-by': 'kv' } });
  });

  it('a length over the limit fails its call with TOO_LARGE (wire 104)', async () => {
    const s = rawServer(1024);
    await s.write(encodeFrame(7, new Uint8Array(4096), 1 << 20));
    expect(await s.next()).toMatchObject({ t: 'err', id: 7, e: { code: 104 } });
  });

  it('an unknown method is answered UNKNOWN_METHOD (wire 304) at once', async () => {
    const s = rawServer();
    await s.write(encodeRpcMessage({ t: 'req', id: 1, m: 'kv.nope', p: {}, fin: true }));
    expect(await s.next()).toMatchObject({ t: 'err', id: 1, e: { code: 304 } });
  });

  it('a method name that is not service.method is UNKNOWN_METHOD', async () => {
    const s = rawServer();
    await s.write(encodeRpcMessage({ t: 'req', id: 1, m: '__proto__', p: {}, fin: true }));
    expect(await s.next()).toMatchObject({ t: 'err', id: 1, e: { code: 304 } });
  });

  it('a second req with a call ID in use is PROTOCOL_ERROR', async () => {
    const s = rawServer();
    await s.write(encodeRpcMessage({ t: 'req', id: 1, m: 'kv.never', p: {}, fin: true }));
    await s.write(encodeRpcMessage({ t: 'req', id: 1, m: 'kv.never', p: {}, fin: true }));
    expect(await s.next()).toMatchObject({ t: 'err', id: 1, e: { code: 102 } });
  });

  it('a truncated frame at the end of the stream fails the calls in flight, no reply is sent', async () => {
    const s = rawServer();
    const frame = encodeRpcMessage(get(3));
    await s.write(frame.subarray(0, 6));
    await s.close();
    expect(await s.next().catch((e: { code: string }) => e.code)).toBe('STREAM_ABORTED');
  });
});

describe('rpc client on bad replies', () => {
  it('a reply for an unknown call ID is ignored and counted', async () => {
    const [ours, theirs] = duplexPair();
    cleanups.push(() => ours.abort());
    const client = new RpcClient({ clock: systemClock, maxMessageBytes: 1 << 20, openStream: async () => theirs as DuplexStream }, { callActors: 'standalone' });
    const stub = client.client(kv, { address: 'x:1', nodeId: 'n' });
    const p = stub.get({ key: 'k' });
    const r = new FrameReader(ours.readable.getReader());
    const w = ours.writable.getWriter();
    const req = decodeRpcMessage((await r.next()) as { id: number; body: Uint8Array });
    await w.write(encodeRpcMessage({ t: 'data', id: req.id + 100, p: { value: 'stray' }, fin: true }));
    await w.write(encodeRpcMessage({ t: 'data', id: req.id, p: { value: 'v' }, fin: true }));
    expect([await p, client.stats.unknownReplies]).toEqual([{ value: 'v' }, 1]);
    client.close(new (await import('../../src/errors.js')).OctopiiError('CLOSED', 'done'));
  });
});
