/**
 * The shared Transport contract (DESIGN.md §1: "One shared contract test suite runs against all
 * of them"). Every Transport implementation runs `transportContract(name, env)` from its own
 * test file, e.g.
 *
 *   transportContract('matrixai', {
 *     create: (o) => MatrixaiTransport.create({ identity: generateIdentity(), ...o }),
 *     listenAddresses: ['127.0.0.1:0', '[::1]:0'],
 *     deadAddress: () => '127.0.0.1:9',
 *   });
 *
 * Every case closes the transports it created (afterEach), so the process exits.
 *
 * Refusal by the server's allowlist: with TLS 1.3 the client finishes its side of the
 * handshake before the server has checked the client's certificate, so an implementation may
 * either reject `dial` (PEER_VERIFICATION_FAILED, CONNECTION_REFUSED or CONNECTION_CLOSED) or
 * resolve it and fail the first stream with a typed error. Either way no stream works and the
 * server's `onConnection` never fires.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { DuplexStream, PeerConnection, Transport, TransportOptions } from '../../src/transport/types.js';
import { parseAddress } from '../../src/transport/address.js';
import { OctopiiError, type OctopiiErrorCode } from '../../src/errors.js';
import { generateIdentity } from '../../src/identity.js';

export interface ContractEnv {
  /** Creates a transport; identity is generated when not given. */
  create(options?: Partial<TransportOptions>): Promise<Transport>;
  /** Listen addresses to exercise, e.g. ['127.0.0.1:0', '[::1]:0']; the first is the default. */
  listenAddresses: string[];
  /** An address where nothing listens (for the dead-dial test). */
  deadAddress(): Promise<string> | string;
}

// ---------------------------------------------------------------------------------------------
// Small stream helpers (exported: other transport tests may use them).

/** Reads a stream to its end and returns the bytes concatenated. */
export async function readAll(readable: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const reader = readable.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    n += value.byteLength;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

/** Writes `data` in chunks of `chunk` bytes (default 64 KiB), then closes the writable. */
export async function writeAll(writable: WritableStream<Uint8Array>, data: Uint8Array, chunk = 65536): Promise<void> {
  const writer = writable.getWriter();
  for (let o = 0; o < data.byteLength; o += chunk) {
    await writer.write(data.subarray(o, Math.min(o + chunk, data.byteLength)));
  }
  await writer.close();
}

/** Echo handler: every inbound stream is piped back to itself. */
export function echo(stream: DuplexStream): void {
  stream.readable.pipeTo(stream.writable).catch(() => {});
}

/** Sends `data` on a fresh stream of `conn` and returns what came back (writes and reads concurrently). */
export async function roundTrip(conn: PeerConnection, data: Uint8Array): Promise<Uint8Array> {
  const s = await conn.openStream();
  const [, back] = await Promise.all([writeAll(s.writable, data), readAll(s.readable)]);
  return back;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves with the rejection of `p` (fails the test if `p` resolves). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection, got a resolution');
}

function expectOctopii(e: unknown, codes?: OctopiiErrorCode[]): asserts e is OctopiiError {
  expect(e, String(e)).toBeInstanceOf(OctopiiError);
  if (codes) expect(codes, `code ${(e as OctopiiError).code}: ${(e as Error).message}`).toContain((e as OctopiiError).code);
}

/** Resolves when `conn.onClose` fires (with its error), or rejects after `ms`. */
function closed(conn: PeerConnection, ms = 5000): Promise<Error | undefined> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`onClose did not fire within ${ms} ms`)), ms);
    conn.onClose((err) => {
      clearTimeout(t);
      resolve(err);
    });
  });
}

// ---------------------------------------------------------------------------------------------

export function transportContract(name: string, env: ContractEnv): void {
  describe(`Transport contract: ${name}`, () => {
    let open: Transport[] = [];
    const make = async (options?: Partial<TransportOptions>): Promise<Transport> => {
      const t = await env.create(options);
      open.push(t);
      return t;
    };
    afterEach(async () => {
      const ts = open;
      open = [];
      await Promise.all(ts.map((t) => t.close()));
    });

    /** A listening echo server and a client; the server records its inbound connections. */
    const pair = async (listen = env.listenAddresses[0]!, serverOptions?: Partial<TransportOptions>) => {
      const server = await make(serverOptions);
      const inbound: PeerConnection[] = [];
      server.onConnection((c) => {
        inbound.push(c);
        c.onStream(echo);
      });
      const { address } = await server.listen({ address: listen });
      const client = await make();
      return { server, client, address, inbound };
    };

    for (const listen of env.listenAddresses) {
      it(`listen on ${listen} returns a concrete address`, async () => {
        const t = await make();
        expect(t.address).toBeUndefined();
        const { address } = await t.listen({ address: listen });
        const want = parseAddress(listen);
        const got = parseAddress(address);
        expect(got.port).toBeGreaterThan(0);
        expect(got.host).toBe(want.host);
        expect(t.address).toBe(address);
      });

      it(`dial on ${listen}, echo both ways, node IDs seen on both sides`, async () => {
        const { server, client, address, inbound } = await pair(listen);
        const conn = await client.dial(address, { expectedNodeId: server.nodeId });
        expect(conn.remoteNodeId).toBe(server.nodeId);
        expect(conn.direction).toBe('outbound');
        expect(conn.closed).toBe(false);
        const ping = new TextEncoder().encode(`ping over ${listen}`);
        expect(await roundTrip(conn, ping)).toEqual(ping);

        expect(inbound).toHaveLength(1);
        const srv = inbound[0]!;
        expect(srv.remoteNodeId).toBe(client.nodeId);
        expect(srv.direction).toBe('inbound');
        expect(parseAddress(srv.remoteAddress).port).toBeGreaterThan(0);

        // The server opens a stream on the inbound connection; the client echoes it.
        conn.onStream(echo);
        const pong = new TextEncoder().encode('pong from the server side');
        expect(await roundTrip(srv, pong)).toEqual(pong);
        expect(client.connections()).toContain(conn);
        expect(server.connections()).toContain(srv);
      });
    }

    it('moves 1 MiB each way on one stream, byte-exact', async () => {
      const { server, client, address } = await pair();
      const conn = await client.dial(address, { expectedNodeId: server.nodeId });
      const data = new Uint8Array(randomBytes(1 << 20));
      const back = await roundTrip(conn, data);
      expect(back.byteLength).toBe(data.byteLength);
      expect(Buffer.compare(back, data)).toBe(0);
    });

    it('runs 20 streams in parallel on one connection', async () => {
      const { server, client, address, inbound } = await pair();
      const conn = await client.dial(address, { expectedNodeId: server.nodeId });
      const payloads = Array.from({ length: 20 }, (_, i) => new Uint8Array(randomBytes(1000 + i * 997)));
      const backs = await Promise.all(payloads.map((p) => roundTrip(conn, p)));
      backs.forEach((b, i) => expect(Buffer.compare(b, payloads[i]!)).toBe(0));
      expect(inbound).toHaveLength(1);
    });

    it('pools connections by node ID (sequential and concurrent dials)', async () => {
      const { server, client, address, inbound } = await pair();
      const [a, b] = await Promise.all([
        client.dial(address, { expectedNodeId: server.nodeId }),
        client.dial(address, { expectedNodeId: server.nodeId }),
      ]);
      expect(b).toBe(a);
      const c = await client.dial(address, { expectedNodeId: server.nodeId });
      expect(c).toBe(a);
      const d = await client.dial(address);
      expect(d).toBe(a);
      expect(await roundTrip(a, Uint8Array.of(1, 2, 3))).toEqual(Uint8Array.of(1, 2, 3));
      expect(inbound).toHaveLength(1);
      expect(client.connections()).toHaveLength(1);
    });

    it('refuses a server that does not prove the expected node ID', async () => {
      const server = await make();
      let streams = 0;
      server.onConnection((c) => c.onStream((s) => {
        streams++;
        echo(s);
      }));
      const { address } = await server.listen({ address: env.listenAddresses[0]! });
      const client = await make();
      const wrong = generateIdentity().nodeId;
      const e = await rejection(client.dial(address, { expectedNodeId: wrong, timeoutMs: 5000 }));
      expectOctopii(e, ['PEER_VERIFICATION_FAILED']);
      await sleep(300);
      expect(streams).toBe(0);
      expect(client.connections()).toHaveLength(0);
      // The right ID still works afterwards (the refusal was not pooled).
      const ok = await client.dial(address, { expectedNodeId: server.nodeId });
      expect(ok.remoteNodeId).toBe(server.nodeId);
    });

    it('a server with allowPeers refuses a client that is not on the list', async () => {
      const stranger = generateIdentity().nodeId;
      const server = await make({ allowPeers: [stranger] });
      let connections = 0;
      server.onConnection((c) => {
        connections++;
        c.onStream(echo);
      });
      const { address } = await server.listen({ address: env.listenAddresses[0]! });
      const client = await make();
      let conn: PeerConnection | undefined;
      try {
        conn = await client.dial(address, { expectedNodeId: server.nodeId, timeoutMs: 5000 });
      } catch (e) {
        expectOctopii(e, ['PEER_VERIFICATION_FAILED', 'CONNECTION_REFUSED', 'CONNECTION_CLOSED']);
      }
      if (conn) {
        // Dial resolved before the server's verdict arrived: no stream may work.
        const e = await rejection(roundTrip(conn, Uint8Array.of(42)));
        expectOctopii(e);
      }
      await sleep(300);
      expect(connections).toBe(0);
    });

    it('a dial to a dead address fails within its timeout', async () => {
      const client = await make();
      await client.listen({ address: env.listenAddresses[0]! });
      const dead = await env.deadAddress();
      const e = await rejection(client.dial(dead, { timeoutMs: 1500 }));
      expectOctopii(e, ['CONNECT_TIMEOUT', 'CONNECTION_REFUSED']);
      expect(client.connections()).toHaveLength(0);
    });

    it('the server closing mid-stream fails the client read and fires onClose', async () => {
      const server = await make();
      server.onConnection((c) => c.onStream(() => {})); // accept, never answer
      const { address } = await server.listen({ address: env.listenAddresses[0]! });
      const client = await make();
      const conn = await client.dial(address, { expectedNodeId: server.nodeId });
      const onClose = closed(conn);
      const s = await conn.openStream();
      const writer = s.writable.getWriter();
      await writer.write(Uint8Array.of(1, 2, 3));
      const reader = s.readable.getReader();
      const pending = reader.read();
      pending.catch(() => {});
      await sleep(100);
      await server.close();
      expectOctopii(await rejection(pending));
      const err = await onClose;
      expect(err).toBeInstanceOf(OctopiiError);
      expect(conn.closed).toBe(true);
      writer.releaseLock();
    });

    it('the client closing mid-stream fails the server read and fires onClose', async () => {
      const server = await make();
      const got = new Promise<{ conn: PeerConnection; stream: DuplexStream }>((resolve) =>
        server.onConnection((conn) => conn.onStream((stream) => resolve({ conn, stream }))),
      );
      const { address } = await server.listen({ address: env.listenAddresses[0]! });
      const client = await make();
      const conn = await client.dial(address, { expectedNodeId: server.nodeId });
      const s = await conn.openStream();
      const writer = s.writable.getWriter();
      await writer.write(Uint8Array.of(1, 2, 3));
      const { conn: srv, stream } = await got;
      const onClose = closed(srv);
      const reader = stream.readable.getReader();
      const first = await reader.read();
      expect(first.done).toBe(false);
      const pending = reader.read();
      pending.catch(() => {});
      await client.close();
      expectOctopii(await rejection(pending));
      expect(await onClose).toBeInstanceOf(OctopiiError);
      expect(srv.closed).toBe(true);
    });

    it('close() is idempotent and a later dial rejects CLOSED', async () => {
      const { server, client, address } = await pair();
      const conn = await client.dial(address, { expectedNodeId: server.nodeId });
      const onClose = closed(conn);
      await Promise.all([client.close(), client.close()]);
      await client.close();
      expect(await onClose).toBeUndefined();
      expect(conn.closed).toBe(true);
      expect(client.connections()).toHaveLength(0);
      expectOctopii(await rejection(client.dial(address)), ['CLOSED']);
      expectOctopii(await rejection(conn.openStream()), ['CONNECTION_CLOSED', 'CLOSED']);
    });

    it('stream abort() fails the reads on both sides with STREAM_ABORTED', async () => {
      const server = await make();
      const got = new Promise<DuplexStream>((resolve) => server.onConnection((c) => c.onStream(resolve)));
      const { address } = await server.listen({ address: env.listenAddresses[0]! });
      const client = await make();
      const conn = await client.dial(address, { expectedNodeId: server.nodeId });
      const s = await conn.openStream();
      const writer = s.writable.getWriter();
      await writer.write(Uint8Array.of(7));
      writer.releaseLock();
      const stream = await got;
      const remote = stream.readable.getReader();
      expect(Array.from((await remote.read()).value ?? [])).toEqual([7]);
      const remotePending = remote.read();
      remotePending.catch(() => {});
      const local = s.readable.getReader();
      const localPending = local.read();
      localPending.catch(() => {});
      s.abort(new Error('test abort'));
      expectOctopii(await rejection(localPending), ['STREAM_ABORTED']);
      expectOctopii(await rejection(remotePending), ['STREAM_ABORTED']);
      // The connection survives a stream abort.
      expect(conn.closed).toBe(false);
      const again = await conn.openStream();
      again.abort();
    });
  });
}
