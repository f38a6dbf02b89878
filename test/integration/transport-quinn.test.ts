/**
 * QuinnTransport (src/transport/quinn.ts) over real UDP sockets on 127.0.0.1 and ::1: the shared
 * transport contract, then what is specific to the quinn binding.
 */
import 'reflect-metadata';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createSocket } from 'node:dgram';
import { webcrypto } from 'node:crypto';
import { QUICServer } from '@matrixai/quic';
import { transportContract, closed, echo, readAll, roundTrip, writeAll } from '../transport/contract.js';
import { deadPeerSuite } from '../transport/deadPeer.js';
import { QuinnTransport, type QuinnTransportOptions, mapError, parseRemoteMultiaddr } from '../../src/transport/quinn.js';
import type { PeerConnection, Transport } from '../../src/transport/types.js';
import { generateIdentity } from '../../src/identity.js';
import { createNodeCertificate } from '../../src/transport/certificate.js';
import { OctopiiError } from '../../src/errors.js';

/** A UDP port nobody listens on: bind one, note it, close it. */
async function deadAddress(host = '127.0.0.1'): Promise<string> {
  const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((r) => s.bind(0, host, r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

transportContract('quinn', {
  create: (o) => QuinnTransport.create({ identity: generateIdentity(), ...o }),
  listenAddresses: ['127.0.0.1:0', '[::1]:0'],
  deadAddress: () => deadAddress(),
  protocols: ['octopii'],
  serverRefusal: 'close',
  deadAddressCode: 'CONNECT_TIMEOUT',
  serverRefusalCode: 'CONNECTION_CLOSED',
});

async function rejection(p: Promise<unknown>): Promise<OctopiiError> {
  try {
    await p;
  } catch (e) {
    expect(e, String(e)).toBeInstanceOf(OctopiiError);
    return e as OctopiiError;
  }
  throw new Error('expected a rejection, got a resolution');
}

describe('QuinnTransport specifics', () => {
  let open: Transport[] = [];
  let stoppers: (() => Promise<void>)[] = [];
  const make = async (o: Partial<QuinnTransportOptions> = {}) => {
    const t = await QuinnTransport.create({ identity: generateIdentity(), ...o });
    open.push(t);
    return t;
  };
  afterEach(async () => {
    await Promise.all(open.map((t) => t.close()));
    await Promise.all(stoppers.map((s) => s()));
    open = [];
    stoppers = [];
  });

  it('node ID on the wire is the identity node ID (one ID on both transports)', async () => {
    const serverId = generateIdentity();
    const server = await make({ identity: serverId });
    expect(server.kind).toBe('quinn');
    expect(server.nodeId).toBe(serverId.nodeId);
    const inbound = new Promise<PeerConnection>((r) => server.onConnection(r));
    const { address } = await server.listen({ address: 'localhost:0' });
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    const clientId = generateIdentity();
    const client = await make({ identity: clientId });
    const conn = await client.dial(address);
    expect(conn.remoteNodeId).toBe(serverId.nodeId);
    expect((await inbound).remoteNodeId).toBe(clientId.nodeId);
  });

  it('a wrong expectedNodeId is refused before any stream: the server’s first stream never reaches the client', async () => {
    const server = await make();
    const serverSide = new Promise<PeerConnection>((resolve) => server.onConnection(resolve));
    const { address } = await server.listen({ address: '[::1]:0' });
    const client = await make();
    let clientStreams = 0;
    client.onConnection((c) => c.onStream(() => clientStreams++));
    const wrong = generateIdentity().nodeId;
    const e = await rejection(client.dial(address, { expectedNodeId: wrong }));
    expect(e.code).toBe('PEER_VERIFICATION_FAILED');
    expect(e.message).toContain(server.nodeId);
    expect(client.connections()).toHaveLength(0);
    // The server had admitted the client; the client's abort closes it (the binding sends no
    // reason: CONNECTION_CLOSED), and then no stream opens on it.
    const srv = await serverSide;
    const error = await closed(srv);
    expect((error as OctopiiError).code).toBe('CONNECTION_CLOSED');
    expect((await rejection(srv.openStream({ timeoutMs: 2000 }))).code).toBe('CONNECTION_CLOSED');
    expect(clientStreams).toBe(0);
  });

  it('a dial to a dead port fails with CONNECT_TIMEOUT from our timeout, not quinn’s 10 s idle timeout', async () => {
    const client = await make();
    for (const host of ['127.0.0.1', '::1']) {
      const started = performance.now();
      const e = await rejection(client.dial(await deadAddress(host), { timeoutMs: 700 }));
      expect(e.code).toBe('CONNECT_TIMEOUT');
      // Functional check, generous margin: the native dial alone would take 10,000 ms.
      expect(performance.now() - started).toBeLessThan(5000);
    }
    expect(client.connections()).toHaveLength(0);
  });

  it('a dial aborted while its handshake completes leaves no connection behind', async () => {
    const server = await make();
    const inbound: PeerConnection[] = [];
    server.onConnection((c) => inbound.push(c));
    const { address } = await server.listen({ address: '127.0.0.1:0' });
    const client = await make();
    const ac = new AbortController();
    const p = client.dial(address, { signal: ac.signal });
    ac.abort('changed my mind');
    expect((await rejection(p)).code).toBe('ABORTED');
    // The handshake still completes on the server; the client then closes what it got.
    await expect.poll(() => inbound.length, { timeout: 5000 }).toBe(1);
    await closed(inbound[0]!);
    expect(client.connections()).toHaveLength(0);
  });

  it('a dial aborted by its signal rejects ABORTED', async () => {
    const client = await make();
    const ac = new AbortController();
    const p = client.dial(await deadAddress(), { signal: ac.signal, timeoutMs: 5000 });
    setTimeout(() => ac.abort('test'), 50);
    expect((await rejection(p)).code).toBe('ABORTED');
  });

  it('a dial to an @matrixai/quic server (ALPN "octopii") fails TRANSPORT_MISMATCH', async () => {
    for (const host of ['127.0.0.1', '::1']) {
      const identity = generateIdentity();
      const cert = await createNodeCertificate(identity);
      const hmac = { name: 'HMAC', hash: 'SHA-256' };
      const server = new QUICServer({
        crypto: {
          key: webcrypto.getRandomValues(new Uint8Array(32)).buffer as ArrayBuffer,
          ops: {
            sign: async (k: ArrayBuffer, d: ArrayBuffer) =>
              webcrypto.subtle.sign('HMAC', await webcrypto.subtle.importKey('raw', k, hmac, false, ['sign']), d),
            verify: async (k: ArrayBuffer, d: ArrayBuffer, sig: ArrayBuffer) =>
              webcrypto.subtle.verify('HMAC', await webcrypto.subtle.importKey('raw', k, hmac, false, ['verify']), sig, d),
          },
        },
        config: { key: cert.keyPem, cert: cert.certPem, applicationProtos: ['octopii'], verifyPeer: false },
      });
      await server.start({ host, port: 0 });
      stoppers.push(() => server.stop({ force: true }));
      const client = await make();
      const address = host.includes(':') ? `[${host}]:${server.port}` : `${host}:${server.port}`;
      const e = await rejection(client.dial(address, { timeoutMs: 5000 }));
      expect(e.code, e.message).toBe('TRANSPORT_MISMATCH');
      expect(e.message).toMatch(/matrixai/);
      expect(client.connections()).toHaveLength(0);
    }
  });

  it('openStream at the peer’s stream limit rejects STREAM_LIMIT, and works once a stream ends', async () => {
    const server = await make({ quinn: { maxConcurrentStreamLimit: 1 } });
    const held: { release?: () => void } = {};
    server.onConnection((c) =>
      c.onStream((s) => {
        // Echo, but only after the test releases it.
        held.release = () => echo(s);
      }),
    );
    const { address } = await server.listen({ address: '127.0.0.1:0' });
    const client = await make();
    const conn = await client.dial(address, { expectedNodeId: server.nodeId });
    const first = await conn.openStream();
    const w = first.writable.getWriter();
    await w.write(Uint8Array.of(1, 2, 3));
    await w.close();
    const e = await rejection(conn.openStream({ timeoutMs: 300 }));
    expect(e.code).toBe('STREAM_LIMIT');
    await expect.poll(() => held.release !== undefined).toBe(true);
    held.release!();
    expect(await readAll(first.readable)).toEqual(Uint8Array.of(1, 2, 3));
    const second = await conn.openStream({ timeoutMs: 5000 });
    second.abort();
  });

  it('openStream honours its AbortSignal at the stream limit', async () => {
    const server = await make({ quinn: { maxConcurrentStreamLimit: 1 } });
    server.onConnection((c) => c.onStream(() => {}));
    const { address } = await server.listen({ address: '127.0.0.1:0' });
    const client = await make();
    const conn = await client.dial(address);
    const first = await conn.openStream();
    const w = first.writable.getWriter();
    await w.write(Uint8Array.of(9));
    const ac = new AbortController();
    const p = conn.openStream({ signal: ac.signal, timeoutMs: 10_000 });
    setTimeout(() => ac.abort(), 50);
    expect((await rejection(p)).code).toBe('ABORTED');
  });

  it('moves 8 MiB one way in odd-sized chunks (large adaptive reads) byte-exact, with stream ids as QUIC ids', async () => {
    const server = await make();
    const got = new Promise<{ bytes: Uint8Array; id: number | string }>((resolve) =>
      server.onConnection((c) => c.onStream(async (s) => resolve({ bytes: await readAll(s.readable), id: s.id }))),
    );
    const { address } = await server.listen({ address: '127.0.0.1:0' });
    const client = await make();
    const conn = await client.dial(address, { expectedNodeId: server.nodeId });
    const data = new Uint8Array(8 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    const s = await conn.openStream();
    expect(s.id).toBe(0); // first client-initiated bidirectional stream
    await writeAll(s.writable, data, 1_000_003);
    const { bytes, id } = await got;
    expect(id).toBe(0);
    expect(bytes.byteLength).toBe(data.byteLength);
    expect(Buffer.compare(bytes, data)).toBe(0);
    const next = await conn.openStream();
    expect(next.id).toBe(4);
    next.abort();
  });

  it('allowPeers admits a listed client', async () => {
    const clientId = generateIdentity();
    const server = await make({ allowPeers: [clientId.nodeId] });
    server.onConnection((c) => c.onStream(echo));
    const { address } = await server.listen({ address: '[::1]:0' });
    const client = await make({ identity: clientId });
    const conn = await client.dial(address, { expectedNodeId: server.nodeId });
    expect(await roundTrip(conn, Uint8Array.of(5, 6))).toEqual(Uint8Array.of(5, 6));
  });

  it('listen twice is INVALID_ARGUMENT; listen after close is CLOSED', async () => {
    const t = await make();
    await t.listen({ address: '127.0.0.1:0' });
    expect((await rejection(t.listen({ address: '127.0.0.1:0' }))).code).toBe('INVALID_ARGUMENT');
    await t.close();
    expect((await rejection(t.listen({ address: '127.0.0.1:0' }))).code).toBe('CLOSED');
  });

  it('maps binding errors to typed codes', () => {
    const m = (msg: string, during: Parameters<typeof mapError>[1]) => mapError(new Error(msg), during).code;
    expect(m('aborted by peer: the cryptographic handshake failed: error 120', 'dial')).toBe('TRANSPORT_MISMATCH');
    expect(m('timed out', 'dial')).toBe('CONNECT_TIMEOUT');
    expect(m('closed', 'dial')).toBe('CLOSED');
    expect(m('aborted by peer: the cryptographic handshake failed: error 42', 'dial')).toBe('PEER_VERIFICATION_FAILED');
    expect(m('stream reset by peer: error 0', 'stream')).toBe('STREAM_ABORTED');
    expect(m('sending stopped by peer: error 0', 'stream')).toBe('STREAM_ABORTED');
    expect(m('connection lost', 'stream')).toBe('CONNECTION_CLOSED');
    expect(m('closed by peer: 0', 'stream')).toBe('CONNECTION_CLOSED');
    expect(m('Address already in use (os error 98)', 'listen')).toBe('IO_ERROR');
    expect(parseRemoteMultiaddr('/ip6/::1/udp/4000/quic-v1/p2p/12D3KooWQW3aCvK1Vbbg3WfF735WBU8t2TSV1vgwAiHnzzD5rg7X')).toEqual({
      address: '[::1]:4000',
      peerId: '12D3KooWQW3aCvK1Vbbg3WfF735WBU8t2TSV1vgwAiHnzzD5rg7X',
    });
  });
});

describe('quinn runtime threads (process-wide, TOKIO_WORKER_THREADS)', () => {
  const PROBE = fileURLToPath(new URL('../helpers/quinnRuntimeProbe.ts', import.meta.url));
  const probe = (args: string[], env: NodeJS.ProcessEnv) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', PROBE, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  };
  const noEnv = { TOKIO_WORKER_THREADS: undefined };

  it('runtimeThreads sets the runtime size, traffic flows, the variable is restored, and a second size is refused', () => {
    const r = probe(['1'], noEnv);
    expect(r).toMatchObject({ ok: true, threads: 1, tokioThreads: 1, moved: 1 << 20, status: 0, envAfter: null, second: 'INVALID_ARGUMENT' });
  });

  it('TOKIO_WORKER_THREADS is honoured when no count is given', () => {
    expect(probe([], { TOKIO_WORKER_THREADS: '2' })).toMatchObject({ ok: true, threads: 2, tokioThreads: 2, envAfter: '2' });
  });

  it('a malformed TOKIO_WORKER_THREADS is a typed error, not a process abort', () => {
    // Unchecked, tokio panics inside the binding's load and aborts node (seen: "must be usize").
    for (const bad of ['', 'two', '0']) {
      expect(probe([], { TOKIO_WORKER_THREADS: bad })).toMatchObject({ ok: false, code: 'INVALID_ARGUMENT' });
    }
  });
});

deadPeerSuite('quinn', () => QuinnTransport.create({ identity: generateIdentity() }));
