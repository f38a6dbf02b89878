/**
 * The stream router (src/router/router.ts) over the in-memory network, on a simulated clock:
 * kinds go to their handlers with the bytes after the preamble intact; an unknown kind, a bad
 * preamble or none in time resets that stream with a typed error while the connection serves on.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { generateIdentity } from '../../src/identity.js';
import { StreamRouter, type RefusedStream } from '../../src/router/router.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import type { DuplexStream, PeerConnection } from '../../src/transport/types.js';

async function setup() {
  const clock = new SimulatedClock();
  const net = new MemoryNetwork({ clock });
  const server = net.transport({ identity: generateIdentity() });
  const client = net.transport({ identity: generateIdentity() });
  await server.listen({ address: '10.0.0.1:1' });
  const refused: RefusedStream[] = [];
  const router = new StreamRouter({ clock, preambleTimeoutMs: 1000, onRefused: (r) => refused.push(r) });
  const got: Array<{ kind: string; bytes: string }> = [];
  const readAll = async (s: DuplexStream) => {
    const chunks: Uint8Array[] = [];
    for await (const c of s.readable) chunks.push(c);
    return Buffer.concat(chunks).toString();
  };
  router.register('echo', (s, ctx) => void readAll(s).then((bytes) => got.push({ kind: ctx.kind, bytes })));
  server.onConnection((conn) => conn.onStream((s) => router.dispatch(conn, s)));
  const conn: PeerConnection = await client.dial('10.0.0.1:1');
  const flush = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  return { clock, router, conn, got, refused, flush };
}

async function writeAndClose(s: DuplexStream, ...parts: Uint8Array[]) {
  const w = s.writable.getWriter();
  for (const p of parts) await w.write(p);
  await w.close();
}

describe('StreamRouter', () => {
  it('hands a stream to its kind with every byte after the preamble, split or not', async () => {
    const h = await setup();
    await writeAndClose(await h.router.open(h.conn, 'echo'), Buffer.from('hello'));
    const raw = await h.conn.openStream();
    await writeAndClose(raw, Uint8Array.of(1), Uint8Array.of(4, 0x65, 0x63), Buffer.from('ho-split'));
    await h.flush();
    expect(h.got.sort((a, b) => a.bytes.localeCompare(b.bytes))).toEqual([
      { kind: 'echo', bytes: '-split' },
      { kind: 'echo', bytes: 'hello' },
    ]);
  });

  it('resets a stream of an unknown kind with UNKNOWN_KIND, and the connection serves on', async () => {
    const h = await setup();
    const s = await h.router.open(h.conn, 'nope');
    const w = s.writable.getWriter();
    await w.write(Buffer.from('x')).catch(() => undefined);
    await h.flush();
    expect(h.refused.map((r) => [r.kind, r.error.code])).toEqual([['nope', 'UNKNOWN_KIND']]);
    expect(h.refused[0]!.error.message).toBe('this node serves no "nope" streams (serves: echo)');
    await expect(s.readable.getReader().read()).rejects.toMatchObject({ code: 'STREAM_ABORTED' });
    expect(h.conn.closed).toBe(false);
    await writeAndClose(await h.router.open(h.conn, 'echo'), Buffer.from('still'));
    await h.flush();
    expect(h.got).toEqual([{ kind: 'echo', bytes: 'still' }]);
  });

  it('refuses a malformed preamble with PROTOCOL_ERROR', async () => {
    const h = await setup();
    const w = (await h.conn.openStream()).writable.getWriter();
    await w.write(Uint8Array.of(9, 4, 1, 2, 3, 4));
    await h.flush();
    expect(h.refused.map((r) => [r.kind, r.error.code])).toEqual([[null, 'PROTOCOL_ERROR']]);
  });

  it('refuses a stream whose preamble does not come within preambleTimeoutMs (simulated clock)', async () => {
    const h = await setup();
    const s = await h.conn.openStream();
    const w = s.writable.getWriter();
    await w.write(Uint8Array.of(1)); // half a preamble, then silence
    await h.flush();
    h.clock.increment(999);
    await h.flush();
    expect(h.refused).toEqual([]);
    h.clock.increment(1);
    await h.flush();
    expect(h.refused.map((r) => [r.kind, r.error.code, r.error.message])).toEqual([[null, 'TIMEOUT', 'no stream preamble within 1000 ms']]);
  });

  it('refuses to register a kind twice or an invalid kind', async () => {
    const h = await setup();
    expect(() => h.router.register('echo', () => undefined)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => h.router.register('Bad Kind', () => undefined)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(h.router.kinds()).toEqual(['echo']);
  });
});
