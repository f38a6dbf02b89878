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
 * handshake before the server has checked the client's certificate, so a QUIC implementation
 * resolves `dial` and the connection closes one round trip later; the memory transport rejects
 * `dial`. Each environment says which (`serverRefusal`), and the suite pins that outcome.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { ConnectionProtocol, DuplexStream, PeerConnection, Transport, TransportOptions } from '../../src/transport/types.js';
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
  /**
   * How a dial to it fails: CONNECTION_REFUSED where the network says so (the memory network),
   * CONNECT_TIMEOUT over UDP (QUIC: nothing answers an Initial to a closed port).
   */
  deadAddressCode: 'CONNECTION_REFUSED' | 'CONNECT_TIMEOUT';
  /** The connection protocols it speaks; a dial asking for another rejects TRANSPORT_MISMATCH. */
  protocols: ConnectionProtocol[];
  /**
   * How a client refused by the server's `allowPeers` learns it: `'dial'` rejects
   * (PEER_VERIFICATION_FAILED); `'close'` resolves, then the connection closes with an
   * OctopiiError (TLS 1.3: the client's handshake ends before the server's verdict).
   */
  serverRefusal: 'dial' | 'close';
  /**
   * With `serverRefusal: 'close'`, the code of that close: PEER_VERIFICATION_FAILED where the
   * server's TLS alert reaches the client's error (@matrixai/quic), CONNECTION_CLOSED where the
   * binding reports only that the connection closed (quinn).
   */
  serverRefusalCode?: 'PEER_VERIFICATION_FAILED' | 'CONNECTION_CLOSED';
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

/** Resolves with the rejection of `p` (fails the test if `p` resolves). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection, got a resolution');
}

function expectOctopii(e: unknown): asserts e is OctopiiError {
  expect(e, String(e)).toBeInstanceOf(OctopiiError);
}

/** `e` is an OctopiiError with exactly `code`. */
function expectCode(e: unknown, code: OctopiiErrorCode): asserts e is OctopiiError {
  expectOctopii(e);
  expect(e.code, e.message).toBe(code);
}

/** Resolves when `conn.onClose` fires (with its error), or rejects after `ms`. */
export function closed(conn: PeerConnection, ms = 5000): Promise<Error | undefined> {
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

    it('every dial makes a new connection and every one reaches the server (no pooling)', async () => {
      const { server, client, address, inbound } = await pair();
      const [a, b] = await Promise.all([
        client.dial(address, { expectedNodeId: server.nodeId }),
        client.dial(address, { expectedNodeId: server.nodeId }),
      ]);
      const c = await client.dial(address);
      expect(new Set([a, b, c]).size).toBe(3);
      // Each connection carries its own streams: a round trip on each reaches the server.
      for (const [i, conn] of [a, b, c].entries()) {
        expect(await roundTrip(conn, Uint8Array.of(i, 2, 3))).toEqual(Uint8Array.of(i, 2, 3));
      }
      expect(inbound).toHaveLength(3);
      expect(new Set(inbound).size).toBe(3);
      expect(inbound.every((x) => x.remoteNodeId === client.nodeId)).toBe(true);
      expect(client.connections()).toHaveLength(3);
      expect(server.connections()).toHaveLength(3);
      // Closing one leaves the others working.
      await a.close();
      expect(a.closed).toBe(true);
      expect(await roundTrip(b, Uint8Array.of(9))).toEqual(Uint8Array.of(9));
      expect(client.connections()).toHaveLength(2);
    });

    it('simultaneous dials between two nodes make two connections, each seen on both sides', async () => {
      const nodes = await Promise.all([make(), make()]);
      const inbound = nodes.map(() => [] as PeerConnection[]);
      nodes.forEach((t, i) =>
        t.onConnection((c) => {
          inbound[i]!.push(c);
          c.onStream(echo);
        }),
      );
      const [a, b] = nodes as [Transport, Transport];
      const [addrA, addrB] = await Promise.all(nodes.map(async (t) => (await t.listen({ address: env.listenAddresses[0]! })).address));
      const [ab, ba] = await Promise.all([
        a.dial(addrB!, { expectedNodeId: b.nodeId }),
        b.dial(addrA!, { expectedNodeId: a.nodeId }),
      ]);
      // Both work (an echo on each proves the other side accepted it), and neither replaced the other.
      expect(await roundTrip(ab, Uint8Array.of(1))).toEqual(Uint8Array.of(1));
      expect(await roundTrip(ba, Uint8Array.of(2))).toEqual(Uint8Array.of(2));
      expect(inbound.map((x) => x.length)).toEqual([1, 1]);
      expect(inbound[0]![0]!.remoteNodeId).toBe(b.nodeId);
      expect(inbound[1]![0]!.remoteNodeId).toBe(a.nodeId);
      expect(a.connections()).toHaveLength(2);
      expect(b.connections()).toHaveLength(2);
      expect(new Set(a.connections().map((c) => c.direction))).toEqual(new Set(['inbound', 'outbound']));
    });

    it('an inbound connection made before onConnection is set is handed over when it is', async () => {
      const server = await make();
      const { address } = await server.listen({ address: env.listenAddresses[0]! });
      const client = await make();
      const conn = await client.dial(address, { expectedNodeId: server.nodeId });
      conn.onStream(echo);
      // The server side may still be finishing its handshake: the handler gets it either way.
      const inbound = await new Promise<PeerConnection>((resolve) => server.onConnection(resolve));
      expect(inbound.remoteNodeId).toBe(client.nodeId);
      const pong = Uint8Array.of(4, 2);
      expect(await roundTrip(inbound, pong)).toEqual(pong);
    });

    it(`a dial's protocol is the connection's on both sides (speaks: ${env.protocols.join(', ')})`, async () => {
      const { server, client, address, inbound } = await pair();
      const plain = await client.dial(address, { expectedNodeId: server.nodeId });
      expect(plain.protocol).toBe('octopii');
      // An echoed stream proves the server has accepted (and announced) the connection.
      expect(await roundTrip(plain, Uint8Array.of(0))).toEqual(Uint8Array.of(0));
      for (const protocol of (['octopii', 'lane-v1'] as const).filter((p) => env.protocols.includes(p))) {
        const before = inbound.length;
        const conn = await client.dial(address, { expectedNodeId: server.nodeId, protocol });
        expect(conn.protocol).toBe(protocol);
        expect(await roundTrip(conn, Uint8Array.of(1))).toEqual(Uint8Array.of(1));
        expect(inbound).toHaveLength(before + 1);
        expect(inbound.at(-1)!.protocol).toBe(protocol);
      }
      expect(inbound[0]!.protocol).toBe('octopii');
    });

    for (const protocol of (['octopii', 'lane-v1'] as const).filter((p) => !env.protocols.includes(p))) {
      it(`a dial asking for protocol '${protocol}' rejects TRANSPORT_MISMATCH at once`, async () => {
        const { server, client, address, inbound } = await pair();
        const e = await rejection(client.dial(address, { expectedNodeId: server.nodeId, protocol }));
        expectCode(e, 'TRANSPORT_MISMATCH');
        expect(client.connections()).toHaveLength(0);
        expect(inbound).toHaveLength(0);
      });
    }

    it('refuses a server that does not prove the expected node ID', async () => {
      const server = await make();
      const inbound: PeerConnection[] = [];
      server.onConnection((c) => {
        inbound.push(c);
        c.onStream(echo);
      });
      const { address } = await server.listen({ address: env.listenAddresses[0]! });
      const client = await make();
      const wrong = generateIdentity().nodeId;
      const e = await rejection(client.dial(address, { expectedNodeId: wrong, timeoutMs: 5000 }));
      expectCode(e, 'PEER_VERIFICATION_FAILED');
      expect((e as Error).message).toContain(wrong);
      expect(client.connections()).toHaveLength(0);
      // The right ID works afterwards; whatever the server saw of the refused one ends closed.
      const ok = await client.dial(address, { expectedNodeId: server.nodeId });
      expect(ok.remoteNodeId).toBe(server.nodeId);
      expect(await roundTrip(ok, Uint8Array.of(3))).toEqual(Uint8Array.of(3));
      await expect.poll(() => inbound.filter((c) => !c.closed).length, { timeout: 5000 }).toBe(1);
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
      const dialling = client.dial(address, { expectedNodeId: server.nodeId, timeoutMs: 5000 });
      // What the client learns: the dial rejects; or the dial resolves before the server's verdict
      // arrives, the verdict closes the connection, and a stream on it fails with the close's code.
      const codeOf = (e: unknown) => (e instanceof OctopiiError ? e.code : `not an OctopiiError: ${String(e)}`);
      const seen = await dialling.then(
        async (conn) => {
          const close = codeOf(await closed(conn));
          return { dial: 'resolved', close, stream: codeOf(await rejection(roundTrip(conn, Uint8Array.of(42)))) };
        },
        (e: unknown) => ({ dial: 'rejected', code: codeOf(e) }),
      );
      expect(seen).toEqual(
        env.serverRefusal === 'dial'
          ? { dial: 'rejected', code: 'PEER_VERIFICATION_FAILED' }
          : { dial: 'resolved', close: env.serverRefusalCode, stream: env.serverRefusalCode },
      );
      // The server decided before the client learnt it: its handler never ran.
      expect(connections).toBe(0);
      expect(server.connections()).toHaveLength(0);
    });

    it('a dial to a dead address fails within its timeout', async () => {
      const client = await make();
      await client.listen({ address: env.listenAddresses[0]! });
      const dead = await env.deadAddress();
      const e = await rejection(client.dial(dead, { timeoutMs: 1500 }));
      expectCode(e, env.deadAddressCode);
      expect(client.connections()).toHaveLength(0);
    });

    it('the server closing mid-stream fails the client read and fires onClose', async () => {
      const server = await make();
      let seen!: () => void;
      const serverSawStream = new Promise<void>((r) => (seen = r));
      server.onConnection((c) => c.onStream(() => seen())); // accept, never answer
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
      await serverSawStream;
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
      expectCode(await rejection(client.dial(address)), 'CLOSED');
      expectCode(await rejection(conn.openStream()), 'CONNECTION_CLOSED');
    });

    /** A client connection and one stream on it; `got` resolves with the server's side of that stream. */
    const oneStream = async () => {
      const server = await make();
      const got = new Promise<DuplexStream>((resolve) => server.onConnection((c) => c.onStream(resolve)));
      const { address } = await server.listen({ address: env.listenAddresses[0]! });
      const client = await make();
      const conn = await client.dial(address, { expectedNodeId: server.nodeId });
      return { conn, s: await conn.openStream(), got };
    };

    it('stream abort() fails the reads on both sides with STREAM_ABORTED', async () => {
      const { conn, s, got } = await oneStream();
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
      expectCode(await rejection(localPending), 'STREAM_ABORTED');
      expectCode(await rejection(remotePending), 'STREAM_ABORTED');
      // The connection survives a stream abort.
      expect(conn.closed).toBe(false);
      const again = await conn.openStream();
      again.abort();
    });

    it("a sender's abort while its writer holds the stream and the receiver waits for more reaches the receiver as STREAM_ABORTED", async () => {
      const { s, got } = await oneStream();
      const writer = s.writable.getWriter(); // held, as a sender mid-transfer holds it
      await writer.write(new Uint8Array(16).fill(3)); // a header, then nothing
      const remote = (await got).readable.getReader();
      expect((await remote.read()).value?.byteLength).toBe(16);
      const remotePending = remote.read();
      remotePending.catch(() => {});
      s.abort(new Error('sender gives up'));
      expectCode(await rejection(remotePending), 'STREAM_ABORTED');
    });
  });
}
