/**
 * @matrixai/quic transport: the shared Transport contract on 127.0.0.1 and ::1, plus what only
 * this transport has — `insecure` interop with a foreign QUIC client (ECDSA P-256 self-signed
 * certificate, ALPN `octopii`, seed 001) and with one that presents no client certificate at all
 * (the seed's Rust Octopii), refusal of impostors whose certificate claims a node ID its key does
 * not prove, and the reading of a client's offered ALPNs from its Initial packet.
 */
import 'reflect-metadata'; // @peculiar/x509 needs it before it loads (the tests' ECDSA certificates)
import { afterEach, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { QUICClient, QUICServer, events as quicEvents } from '@matrixai/quic';
import type QUICConnection from '@matrixai/quic/QUICConnection.js';
import { createHmac } from 'node:crypto';
import { transportContract, echo, readAll, roundTrip, writeAll } from '../transport/contract.js';
import { deadPeerSuite } from '../transport/deadPeer.js';
import { MatrixaiTransport } from '../../src/transport/matrixai.js';
import { offeredAlpns } from '../../src/transport/matrixai/initial.js';
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
import { generateIdentity, type Identity } from '../../src/identity.js';
import { parseAddress } from '../../src/transport/address.js';
import { OctopiiError } from '../../src/errors.js';
import type { DuplexStream, PeerConnection, Transport } from '../../src/transport/types.js';
import { refuseLane } from '../../src/node/support.js';

/** A loopback UDP port nobody listens on: bind, read the port, close. */
async function deadAddress(): Promise<string> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return `127.0.0.1:${port}`;
}

transportContract('matrixai', {
  create: (o) => MatrixaiTransport.create({ identity: generateIdentity(), ...o }),
  listenAddresses: ['127.0.0.1:0', '[::1]:0'],
  deadAddress,
  protocols: ['octopii', 'lane-v1'],
  serverRefusal: 'close',
  deadAddressCode: 'CONNECT_TIMEOUT',
  serverRefusalCode: 'PEER_VERIFICATION_FAILED',
});

const silent = { info() {}, debug() {}, warn() {}, error() {}, getChild() { return silent; } };

/** Self-signed ECDSA P-256 certificate (what a foreign QUIC stack would present). */
async function ecdsaCertificate(): Promise<{ certPem: string; keyPem: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=foreign-quic-stack',
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 86400_000),
    signingAlgorithm: alg,
    keys,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as never));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END PRIVATE KEY-----\n`;
  return { certPem: cert.toString('pem'), keyPem };
}

const clientCrypto = { ops: { randomBytes: async (d: ArrayBuffer) => void webcrypto.getRandomValues(new Uint8Array(d)) } };

/**
 * A bare @matrixai/quic client with its own socket, accepting any server, offering `alpns`
 * (default the seed's `octopii`); `cert` null: it has no client certificate (as the seed's Rust
 * Octopii, rustls `with_no_client_auth`).
 */
async function foreignClient(
  address: string,
  cert: { certPem: string; keyPem: string } | null,
  alpns: string[] = ['octopii'],
): Promise<QUICClient> {
  const { host, port } = parseAddress(address);
  return QUICClient.createQUICClient(
    {
      host,
      port,
      localHost: '127.0.0.1',
      crypto: clientCrypto,
      config: {
        ...(cert ? { key: cert.keyPem, cert: cert.certPem } : {}),
        verifyPeer: true,
        verifyCallback: async () => undefined,
        applicationProtos: alpns,
      },
      logger: silent as never,
    },
    { timer: 3000 },
  );
}

/** The first datagram a @matrixai/quic (quiche) client offering `alpns` sends: its Initial. */
async function firstInitial(alpns: string[]): Promise<Buffer> {
  const sink = createSocket('udp4');
  await new Promise<void>((r) => sink.bind(0, '127.0.0.1', r));
  const got = new Promise<Buffer>((r) => sink.once('message', (m) => r(m)));
  const ctl = new AbortController();
  const client = QUICClient.createQUICClient(
    { host: '127.0.0.1', port: sink.address().port, localHost: '127.0.0.1', crypto: clientCrypto, config: { verifyPeer: false, applicationProtos: alpns }, logger: silent as never },
    { signal: ctl.signal },
  ).catch(() => undefined);
  try {
    return await got;
  } finally {
    ctl.abort();
    await client;
    await new Promise<void>((r) => sink.close(() => r()));
  }
}

/**
 * Opens a stream from `client` and writes/reads on it: resolves with the error it fails with
 * (undefined when it worked). TLS 1.3: a client may finish its handshake before the server's
 * verdict, so a refusal shows on its first stream.
 */
async function streamError(client: QUICClient): Promise<unknown> {
  const fs = client.connection.newStream();
  return within(
    Promise.all([
      writeAll(fs.writable as unknown as WritableStream<Uint8Array>, Uint8Array.of(1, 2, 3)),
      readAll(fs.readable as unknown as ReadableStream<Uint8Array>),
    ]).then(
      () => undefined,
      (e: unknown) => e ?? new Error('rejected'),
    ),
    5000,
    'stream on a refused connection',
  );
}

describe('offeredAlpns (a client Initial packet read before the connection is made)', () => {
  it('reads the ALPNs a quiche client offers, in its order', async () => {
    expect(offeredAlpns(await firstInitial(['octopii/2', 'octopii']))).toEqual(['octopii/2', 'octopii']);
  });

  it('gives undefined for a datagram cut inside its Initial packet', async () => {
    const initial = await firstInitial(['octopii']);
    expect(offeredAlpns(initial.subarray(0, 200))).toBeUndefined();
  });

  it('gives undefined when the packet does not authenticate (one payload bit flipped)', async () => {
    const initial = Buffer.from(await firstInitial(['octopii']));
    initial[100] ^= 1; // inside the sealed ClientHello (header ~50 bytes)
    expect(offeredAlpns(initial)).toBeUndefined();
  });

  it('gives undefined for a datagram that is not a QUIC Initial', () => {
    expect(offeredAlpns(Buffer.from('not quic at all, just bytes'))).toBeUndefined();
  });
});

/** A bare @matrixai/quic server (ECDSA certificate, ALPN `octopii`, no client auth) echoing every stream. */
async function foreignServer(cert: { certPem: string; keyPem: string }): Promise<{ server: QUICServer; address: string }> {
  const key = new Uint8Array(32).fill(7).buffer;
  const sign = async (k: ArrayBuffer, d: ArrayBuffer) => {
    const mac = createHmac('sha256', Buffer.from(k)).update(Buffer.from(d)).digest();
    return mac.buffer.slice(mac.byteOffset, mac.byteOffset + mac.byteLength);
  };
  const server = new QUICServer({
    crypto: { key, ops: { sign, verify: async (k, d, sig) => Buffer.from(await sign(k, d)).equals(Buffer.from(sig)) } },
    config: { key: cert.keyPem, cert: cert.certPem, verifyPeer: false, applicationProtos: ['octopii'] },
    logger: silent as never,
  });
  server.addEventListener(quicEvents.EventQUICServerConnection.name, (evt: Event) => {
    const conn = (evt as quicEvents.EventQUICServerConnection).detail as QUICConnection;
    conn.addEventListener(quicEvents.EventQUICConnectionStream.name, (e: Event) => {
      const st = (e as quicEvents.EventQUICConnectionStream).detail;
      st.readable.pipeTo(st.writable).catch(() => {});
    });
  });
  await server.start({ host: '127.0.0.1', port: 0 });
  return { server, address: `127.0.0.1:${server.port}` };
}

/** An identity whose certificate claims `claimedNodeId` while holding another key. */
function impostor(claimedNodeId: string): Identity {
  return { ...generateIdentity(), nodeId: claimedNodeId };
}

/** Resolves once `cond()` holds (polled every 10 ms); rejects after `ms` naming `what`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Rejects if `p` does not settle within `ms` (turns a hang into a readable failure). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(`${what}: no result in ${ms} ms`)), ms))),
  ]);
}

describe('matrixai transport specifics', () => {
  let transports: Transport[] = [];
  let clients: QUICClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.destroy({ force: true }).catch(() => {})));
    await Promise.all(transports.map((t) => t.close()));
    transports = [];
    clients = [];
  });
  const make = async (identity: Identity, o: Partial<Parameters<typeof MatrixaiTransport.create>[0]> = {}) => {
    const t = await MatrixaiTransport.create({ identity, ...o });
    transports.push(t);
    return t;
  };

  it('an insecure server admits a foreign ECDSA client with remoteNodeId null; a secure one refuses it', async () => {
    const cert = await ecdsaCertificate();

    const open = await make(generateIdentity(), { insecure: true });
    const inbound: PeerConnection[] = [];
    open.onConnection((c) => {
      inbound.push(c);
      c.onStream(echo);
    });
    const { address } = await open.listen({ address: '127.0.0.1:0' });
    const foreign = await foreignClient(address, cert);
    clients.push(foreign);
    const s = foreign.connection.newStream();
    const hello = new TextEncoder().encode('hello from another QUIC stack');
    const [, back] = await Promise.all([
      writeAll(s.writable as unknown as WritableStream<Uint8Array>, hello),
      readAll(s.readable as unknown as ReadableStream<Uint8Array>),
    ]);
    expect(Buffer.from(back).toString()).toBe('hello from another QUIC stack');
    expect(inbound).toHaveLength(1);
    expect(inbound[0]!.remoteNodeId).toBeNull();
    expect(inbound[0]!.direction).toBe('inbound');
    expect(inbound[0]!.protocol).toBe('lane-v1'); // negotiated ALPN `octopii`

    const strict = await make(generateIdentity());
    let admitted = 0;
    let streams = 0;
    strict.onConnection((c) => {
      admitted++;
      c.onStream((x) => {
        streams++;
        echo(x);
      });
    });
    const { address: strictAddress } = await strict.listen({ address: '127.0.0.1:0' });
    let refused: unknown;
    try {
      const f = await foreignClient(strictAddress, cert);
      clients.push(f);
      // TLS 1.3: the client may finish before the server's verdict; its stream must still fail.
      const fs = f.connection.newStream();
      refused = await within(
        Promise.all([
          writeAll(fs.writable as unknown as WritableStream<Uint8Array>, Uint8Array.of(1, 2, 3)),
          readAll(fs.readable as unknown as ReadableStream<Uint8Array>),
        ]).then(
          () => undefined,
          (e: unknown) => e ?? new Error('rejected'),
        ),
        5000,
        'stream on a refused connection',
      );
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeDefined();
    // The server's verdict came before the client learnt it: its handler never ran.
    expect(admitted).toBe(0);
    expect(streams).toBe(0);
    expect(strict.connections()).toHaveLength(0);
  });

  it('an insecure server admits a v1 client without a certificate as lane-v1 with remoteNodeId null', async () => {
    const open = await make(generateIdentity(), { insecure: true });
    const inbound: PeerConnection[] = [];
    open.onConnection((c) => {
      inbound.push(c);
      c.onStream(echo);
    });
    const { address } = await open.listen({ address: '127.0.0.1:0' });
    const foreign = await foreignClient(address, null);
    clients.push(foreign);
    const s = foreign.connection.newStream();
    const [, back] = await Promise.all([
      writeAll(s.writable as unknown as WritableStream<Uint8Array>, Uint8Array.of(9, 8, 7)),
      readAll(s.readable as unknown as ReadableStream<Uint8Array>),
    ]);
    expect(back).toEqual(Uint8Array.of(9, 8, 7));
    expect(inbound.map((c) => [c.protocol, c.remoteNodeId])).toEqual([['lane-v1', null]]);
  });

  it.each([
    ['a secure server refuses a client without a certificate before its handler runs', false, ['octopii']],
    ['an insecure server refuses a client without a certificate that offers octopii/2', true, ['octopii/2', 'octopii']],
  ])('%s', async (_name, insecure, alpns) => {
    const server = await make(generateIdentity(), insecure ? { insecure: true } : undefined);
    let admitted = 0;
    server.onConnection(() => admitted++);
    const { address } = await server.listen({ address: '127.0.0.1:0' });
    const refused = await foreignClient(address, null, alpns).then(
      (f) => {
        clients.push(f);
        return streamError(f);
      },
      (e: unknown) => e,
    );
    expect(refused).toBeDefined();
    expect(admitted).toBe(0);
    expect(server.connections()).toHaveLength(0);
  });

  it('an insecure server still asks octopii/2 clients for their certificate: the node ID is proven', async () => {
    const open = await make(generateIdentity(), { insecure: true });
    const inbound: PeerConnection[] = [];
    open.onConnection((c) => inbound.push(c));
    const { address } = await open.listen({ address: '127.0.0.1:0' });
    const client = await make(generateIdentity());
    await client.dial(address, { expectedNodeId: open.nodeId });
    await until(() => inbound.length > 0, 5000, 'inbound connection');
    expect(inbound.map((c) => [c.protocol, c.remoteNodeId])).toEqual([['octopii', client.nodeId]]);
  });

  it('an insecure server does not ask a lane-v1 client for its certificate: remoteNodeId null', async () => {
    const open = await make(generateIdentity(), { insecure: true });
    const inbound: PeerConnection[] = [];
    open.onConnection((c) => inbound.push(c));
    const { address } = await open.listen({ address: '127.0.0.1:0' });
    const client = await make(generateIdentity());
    await client.dial(address, { expectedNodeId: open.nodeId, protocol: 'lane-v1' });
    await until(() => inbound.length > 0, 5000, 'inbound connection');
    expect(inbound.map((c) => [c.protocol, c.remoteNodeId])).toEqual([['lane-v1', null]]);
  });

  it('an insecure client reaches a foreign ECDSA server (remoteNodeId null); a secure client refuses it', async () => {
    const { server, address } = await foreignServer(await ecdsaCertificate());
    try {
      const insecure = await make(generateIdentity(), { insecure: true });
      const conn = await insecure.dial(address, { protocol: 'lane-v1' });
      expect(conn.remoteNodeId).toBeNull();
      expect(conn.protocol).toBe('lane-v1');
      expect(await roundTrip(conn, Uint8Array.of(4, 5, 6))).toEqual(Uint8Array.of(4, 5, 6));
      // insecure never overrides an explicit expected node ID
      const other = await make(generateIdentity(), { insecure: true });
      const e1 = await other.dial(address, { expectedNodeId: generateIdentity().nodeId, protocol: 'lane-v1' }).then(() => undefined, (x: unknown) => x);
      expect((e1 as OctopiiError).code).toBe('PEER_VERIFICATION_FAILED');
      // The foreign server only speaks ALPN `octopii`: octopii's own protocol is refused.
      const e0 = await other.dial(address).then(() => undefined, (x: unknown) => x);
      expect((e0 as OctopiiError).code).toBe('TRANSPORT_MISMATCH');
      const strict = await make(generateIdentity());
      const e2 = await strict.dial(address, { protocol: 'lane-v1' }).then(() => undefined, (x: unknown) => x);
      expect(e2).toBeInstanceOf(OctopiiError);
      expect((e2 as OctopiiError).code).toBe('PEER_VERIFICATION_FAILED');
      expect(strict.connections()).toHaveLength(0);
    } finally {
      await Promise.all(transports.map((t) => t.close()));
      transports = [];
      await server.stop({ force: true });
    }
  });

  it('a client whose certificate claims an allowed node ID without its key is refused before any stream byte', async () => {
    const allowed = generateIdentity();
    const server = await make(generateIdentity(), { allowPeers: [allowed.nodeId] });
    let admitted = 0;
    let bytes = 0;
    server.onConnection((c) => {
      admitted++;
      c.onStream(async (s) => {
        const data = await readAll(s.readable);
        bytes += data.byteLength;
        await writeAll(s.writable, data);
      });
    });
    const { address } = await server.listen({ address: '127.0.0.1:0' });
    const fake = await make(impostor(allowed.nodeId));
    expect(fake.nodeId).toBe(allowed.nodeId); // it claims the ID...
    let error: unknown;
    try {
      const conn = await fake.dial(address, { expectedNodeId: server.nodeId });
      error = await roundTrip(conn, Uint8Array.of(9, 9, 9)).then(() => undefined, (e: unknown) => e);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OctopiiError);
    // The server's TLS alert reaches the client as the reason its connection closed.
    expect((error as OctopiiError).code).toBe('PEER_VERIFICATION_FAILED');
    // The server's verdict came before the client learnt it: nothing was admitted or read.
    expect(admitted).toBe(0);
    expect(bytes).toBe(0);
    expect(server.connections()).toHaveLength(0);
    // ...and the real holder of the key is admitted.
    const real = await make(allowed);
    const conn = await real.dial(address, { expectedNodeId: server.nodeId });
    expect(await roundTrip(conn, Uint8Array.of(1))).toEqual(Uint8Array.of(1));
  });

  it('a server whose certificate claims the expected node ID without its key is refused before any stream byte', async () => {
    const victim = generateIdentity();
    const fakeServer = await make(impostor(victim.nodeId));
    let streams = 0;
    fakeServer.onConnection((c) => c.onStream(() => streams++));
    const { address } = await fakeServer.listen({ address: '127.0.0.1:0' });
    const client = await make(generateIdentity());
    const e = await client.dial(address, { expectedNodeId: victim.nodeId }).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(OctopiiError);
    expect((e as OctopiiError).code).toBe('PEER_VERIFICATION_FAILED');
    // The impostor may see the connection for a moment (TLS 1.3: our client sends its Finished
    // before judging the server's certificate), but it closes, and never carries a stream.
    expect(client.connections()).toHaveLength(0);
    await expect.poll(() => fakeServer.connections().length, { timeout: 5000 }).toBe(0);
    expect(streams).toBe(0);
  });

  it('close() is bounded even when the library teardown never finishes (a vanished peer)', async () => {
    const server = await make(generateIdentity());
    server.onConnection((c) => c.onStream(echo));
    const { address } = await server.listen({ address: '127.0.0.1:0' });
    const client = await make(generateIdentity());
    const conn = await client.dial(address);
    expect(await roundTrip(conn, Uint8Array.of(1))).toEqual(Uint8Array.of(1));
    // What a peer that vanished mid-close can do to the library: its stop never returns.
    const lib = conn as unknown as { client: { destroy(): Promise<void> } };
    lib.client.destroy = () => new Promise<void>(() => {});
    const started = performance.now();
    await within(conn.close(), 3000, 'connection close()');
    await within(client.close(), 3000, 'transport close()');
    const ms = performance.now() - started;
    console.log(`matrixai: close() with a never-ending library teardown took ${ms.toFixed(0)} ms`);
    expect(conn.closed).toBe(true);
    expect(client.connections()).toHaveLength(0);
  });

  it('streams refused and reset free their state: 1,000 of them on one connection with 16 held are all answered', async () => {
    // What the receiver does past its per-peer limit (refuseLane: status 2, FIN, STOP_SENDING)
    // and the sender then (abort: RESET_STREAM). A stream credit of 100 makes the 1,000
    // refusals need the credit of every refused stream back, ten times over.
    const writeOpen = async (s: DuplexStream, bytes: Uint8Array) => {
      const w = s.writable.getWriter();
      await w.write(bytes); // no FIN: the sender keeps its side open, as a stalled lane sender does
      w.releaseLock();
    };
    const server = await make(generateIdentity(), { maxStreams: 100 });
    const held: DuplexStream[] = [];
    server.onConnection((c) =>
      c.onStream((s) => {
        if (held.length < 16) held.push(s);
        else void refuseLane(s, new OctopiiError('RESOURCE_EXHAUSTED', 'per-peer limit'), false);
      }),
    );
    const { address } = await server.listen({ address: '127.0.0.1:0' });
    const client = await make(generateIdentity());
    const conn = await client.dial(address);
    const kept: DuplexStream[] = [];
    for (let i = 0; i < 16; i++) {
      const s = await conn.openStream();
      await writeOpen(s, Uint8Array.of(i));
      kept.push(s);
    }
    await expect.poll(() => held.length, { timeout: 5000 }).toBe(16);
    let answered = 0;
    for (let i = 0; i < 1_000; i++) {
      const s = await conn.openStream();
      await writeOpen(s, Uint8Array.of(1));
      const answer = await within(readAll(s.readable), 5000, `answer to refused stream ${i}`);
      if (answer.byteLength === 1 && answer[0] === 2) answered++;
      s.abort();
    }
    expect(answered).toBe(1_000);
    expect(held).toHaveLength(16);
    for (const s of kept) s.abort();
  }, 120_000);

  it('a client bound to 127.0.0.1 dialling ::1 fails typed, without hanging', async () => {
    const server = await make(generateIdentity());
    const { address } = await server.listen({ address: '[::1]:0' });
    const client = await make(generateIdentity());
    await client.listen({ address: '127.0.0.1:0' });
    const e = await client.dial(address, { timeoutMs: 1500 }).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(OctopiiError);
    // The IPv4 socket cannot send to an IPv6 address: the send fails at once.
    expect((e as OctopiiError).code).toBe('CONNECTION_REFUSED');
  });

  it('a server on 127.0.0.1 dialled at ::1 times out instead of hanging', async () => {
    const server = await make(generateIdentity());
    const { address } = await server.listen({ address: '127.0.0.1:0' });
    const client = await make(generateIdentity());
    const port = parseAddress(address).port;
    const e = await client.dial(`[::1]:${port}`, { timeoutMs: 1500 }).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(OctopiiError);
    // Nothing listens on ::1 at that port and UDP says nothing: the dial's own deadline ends it.
    expect((e as OctopiiError).code).toBe('CONNECT_TIMEOUT');
  });
});

deadPeerSuite('matrixai', () => MatrixaiTransport.create({ identity: generateIdentity() }));
