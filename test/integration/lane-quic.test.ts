/**
 * Shipping Lane v1 end to end through the node facade (src/node.ts) over real QUIC sockets on
 * 127.0.0.1 and ::1, real files in os.tmpdir(), on both QUIC transports — the scenarios of
 * Octopii's own suite. The standard after every failure: the receiver node is
 * still running, a following good transfer succeeds, and nothing unverified is left on disk.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OctopiiNode } from '../../src/node.js';
import { generateIdentity } from '../../src/identity.js';
import { decodeLaneReasonBody, decodeLaneReasonLength, sendLane } from '../../src/lane/index.js';
import { encodeLaneHeader, LANE_V1_STATUS } from '../../src/wire/laneV1.js';
import type { DuplexStream } from '../../src/transport/types.js';
import {
  Inbox,
  NodePool,
  corruptingStream,
  listDir,
  readToEnd,
  rm,
  sha256File,
  sha256Hex,
  tempDir,
  writeAllAndClose,
  writeRandomFile,
} from '../helpers/laneFixtures.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const BIN = fileURLToPath(new URL('../../bin/octopii.js', import.meta.url));

describe.each(['quinn', 'matrixai'] as const)('Shipping Lane v1 over %s (node facade, real QUIC)', (transport) => {
  let root: string;
  let pool: NodePool;
  let receiver: OctopiiNode; // the long-lived receiver every failure case must leave running
  let inbox: Inbox;
  let inDir: string;
  let sender: OctopiiNode;

  const peerOf = (n: OctopiiNode) => ({ address: n.address, nodeId: n.nodeId });
  const start = (o: Parameters<NodePool['start']>[0] = {}) => pool.start({ transport, ...o });

  /** A good transfer (`size` bytes) from a fresh sender to `to` succeeds and lands verified on disk. */
  async function expectStillServing(to = receiver, toInbox = inbox, dir = inDir, size = 64 * KiB + 3): Promise<void> {
    const s = await start();
    const data = randomBytes(size);
    const r = await s.send(peerOf(to), { kind: 'memory', data });
    expect(r.error).toBeUndefined();
    expect(r.success).toBe(true);
    const ev = await toInbox.waitFor((e) => e.peer === s.nodeId && e.ok);
    expect(ev.file).toBe(join(dir, sha256Hex(data)));
    expect(await sha256File(ev.file!)).toBe(sha256Hex(data));
    await pool.stop(s);
  }

  /** receiveDir holds only verified files named by their SHA-256 (no temp or partial files). */
  async function expectOnlyVerifiedFiles(dir = inDir): Promise<void> {
    for (const name of await listDir(dir)) {
      expect(name).toMatch(/^[0-9a-f]{64}$/);
      expect(await sha256File(join(dir, name))).toBe(name);
    }
  }

  beforeAll(async () => {
    root = await tempDir(`octopii-lane-${transport}-`);
    pool = new NodePool(root);
    inDir = join(root, 'inbox');
    receiver = await start({ receiveDir: inDir });
    inbox = new Inbox(receiver);
    sender = await start();
  });

  afterAll(async () => {
    inbox?.close();
    await pool?.stopAll();
    if (root) await rm(root, { recursive: true, force: true });
  });

  describe('sizes from a file, SHA-256 of the received file equals the source', () => {
    const sizes = [0, 1, 2, 7, 63, 127, 255, 511, 65_535, 65_536, 65_537, 3 * 64 * KiB, 1 * MiB, 10 * MiB, 100 * MiB];
    it.each(sizes)('%i bytes', { timeout: 240_000 }, async (size) => {
      const src = await writeRandomFile(join(root, `src-${size}`), size);
      const want = await sha256File(src);
      const r = await sender.send(peerOf(receiver), { kind: 'file', path: src }, { timeoutMs: 60_000 });
      expect(r.error).toBeUndefined();
      expect(r).toMatchObject({ success: true, checksumVerified: true, bytesTransferred: size, sha256: want });
      const ev = await inbox.waitFor((e) => e.ok && e.sha256 === want);
      expect(ev).toMatchObject({ ok: true, bytes: size, peer: sender.nodeId, file: join(inDir, want) });
      expect(await sha256File(ev.file!)).toBe(want);
      await rm(src);
      await rm(ev.file!); // keep the disk small; the name is the content hash
    });
  });

  it('a memory source lands as a verified file', async () => {
    const data = randomBytes(300 * KiB + 11);
    const r = await sender.send(peerOf(receiver), { kind: 'memory', data });
    expect(r).toMatchObject({ success: true, checksumVerified: true, bytesTransferred: data.byteLength });
    const ev = await inbox.waitFor((e) => e.ok && e.sha256 === sha256Hex(data));
    expect(await sha256File(ev.file!)).toBe(sha256Hex(data));
  });

  it('a node without receiveDir receives into memory (memory sink)', async () => {
    const memReceiver = await start();
    const memInbox = new Inbox(memReceiver);
    const data = randomBytes(2 * MiB + 5);
    const r = await sender.send(peerOf(memReceiver), { kind: 'memory', data });
    expect(r.success).toBe(true);
    const ev = await memInbox.waitFor((e) => e.ok);
    expect(ev.file).toBeUndefined();
    expect(ev.bytes).toBe(data.byteLength);
    expect(Buffer.from(ev.data!).equals(data)).toBe(true);
    memInbox.close();
    await pool.stop(memReceiver);
  });

  it('over IPv6 (::1): 1 MiB + 1 file, hash compared', async () => {
    const v6Dir = join(root, 'inbox6');
    const v6 = await start({ listen: '[::1]:0', receiveDir: v6Dir });
    expect(v6.address).toMatch(/^\[::1\]:\d+$/);
    const v6Inbox = new Inbox(v6);
    const s = await start({ listen: '[::1]:0' });
    const src = await writeRandomFile(join(root, 'src-v6'), MiB + 1);
    const want = await sha256File(src);
    const r = await s.send(peerOf(v6), { kind: 'file', path: src });
    expect(r).toMatchObject({ success: true, checksumVerified: true, sha256: want });
    const ev = await v6Inbox.waitFor((e) => e.ok);
    expect(ev.peer).toBe(s.nodeId);
    expect(await sha256File(ev.file!)).toBe(want);
    v6Inbox.close();
    await pool.stop(s);
    await pool.stop(v6);
  });

  it('5 transfers one after another share one connection', async () => {
    const s = await start();
    const blobs = Array.from({ length: 5 }, (_, i) => randomBytes(100 * KiB + i));
    for (const data of blobs) {
      const r = await s.send(peerOf(receiver), { kind: 'memory', data });
      expect(r.success).toBe(true);
      await inbox.waitFor((e) => e.ok && e.sha256 === sha256Hex(data));
    }
    expect(s.transport.connections()).toHaveLength(1);
    expect(receiver.transport.connections().filter((c) => c.remoteNodeId === s.nodeId)).toHaveLength(1);
    const children = Object.keys(s.inspect().children);
    expect(children.filter((id) => id === `peer:${receiver.nodeId}`)).toHaveLength(1);
    expect(children.filter((id) => id.startsWith(`peer:${receiver.nodeId}/send#`))).toHaveLength(5);
    expect(s.peers()).toMatchObject([{ id: `peer:${receiver.nodeId}`, connected: true, connects: 1, losses: 0 }]);
    await pool.stop(s);
  });

  it('10 transfers in parallel on one connection', async () => {
    const s = await start();
    const blobs = Array.from({ length: 10 }, (_, i) => randomBytes(256 * KiB + i));
    const results = await Promise.all(blobs.map((data) => s.send(peerOf(receiver), { kind: 'memory', data })));
    for (const r of results) expect(r).toMatchObject({ success: true, checksumVerified: true });
    expect(results.map((r) => r.sha256)).toEqual(blobs.map(sha256Hex));
    for (const data of blobs) {
      const ev = await inbox.waitFor((e) => e.ok && e.sha256 === sha256Hex(data));
      expect(await sha256File(ev.file!)).toBe(sha256Hex(data));
    }
    expect(s.transport.connections()).toHaveLength(1);
    expect(receiver.transport.connections().filter((c) => c.remoteNodeId === s.nodeId)).toHaveLength(1);
    await pool.stop(s);
  });

  it('one node to 3 peers in parallel: one result per peer, in order, each verified', async () => {
    const dirs = [0, 1, 2].map((i) => join(root, `peer${i}`));
    const peers = await Promise.all(dirs.map((d) => start({ receiveDir: d })));
    const inboxes = peers.map((p) => new Inbox(p));
    const src = await writeRandomFile(join(root, 'src-3peers'), 3 * MiB + 17);
    const want = await sha256File(src);
    const results = await sender.transferToPeers({ kind: 'file', path: src }, peers.map(peerOf));
    expect(results.map((r) => r.peer)).toEqual(peers.map((p) => p.address));
    for (const r of results) expect(r).toMatchObject({ success: true, checksumVerified: true, sha256: want, bytesTransferred: 3 * MiB + 17 });
    for (const [i, ib] of inboxes.entries()) {
      const ev = await ib.waitFor((e) => e.ok);
      expect(ev.file).toBe(join(dirs[i]!, want));
      expect(await sha256File(ev.file!)).toBe(want);
      ib.close();
    }
    await Promise.all(peers.map((p) => pool.stop(p)));
  });

  it('10 rapid connect/send/close cycles, a fresh sender node each time, all succeed', async () => {
    for (let i = 0; i < 10; i++) {
      const s = await start();
      const data = randomBytes(16 * KiB + i);
      const r = await s.send(peerOf(receiver), { kind: 'memory', data });
      expect(r.error, `cycle ${i}`).toBeUndefined();
      expect(r.success).toBe(true);
      await inbox.waitFor((e) => e.ok && e.sha256 === sha256Hex(data));
      await pool.stop(s);
    }
    await expectStillServing();
  });

  it('10 cycles on one sender that closes its connection after every send', async () => {
    const s = await start();
    for (let i = 0; i < 10; i++) {
      const data = randomBytes(16 * KiB + i);
      const r = await s.send(peerOf(receiver), { kind: 'memory', data });
      expect(r.error, `cycle ${i}`).toBeUndefined();
      await inbox.waitFor((e) => e.ok && e.sha256 === sha256Hex(data));
      await s.disconnect(peerOf(receiver));
    }
    await pool.stop(s);
  });

  it('a missing source file fails with SOURCE_NOT_FOUND and the receiver sees nothing', async () => {
    const s = await start();
    const r = await s.send(peerOf(receiver), { kind: 'file', path: join(root, 'no-such-file') });
    expect(r).toMatchObject({ success: false, checksumVerified: false, bytesTransferred: 0 });
    expect(r.error?.code).toBe('SOURCE_NOT_FOUND');
    expect(s.transport.connections()).toHaveLength(0); // checked before any connection or stream
    const data = randomBytes(1000);
    expect((await s.send(peerOf(receiver), { kind: 'memory', data })).success).toBe(true);
    await inbox.waitFor((e) => e.peer === s.nodeId);
    expect(inbox.from(s.nodeId).map((e) => e.ok)).toEqual([true]);
    await pool.stop(s);
    await expectStillServing();
  });

  it('corrupted data with the true hash (raw stream): status 1, failed event, nothing kept', async () => {
    const s = await start();
    const before = await listDir(inDir);
    const data = randomBytes(200 * KiB);
    const altered = Buffer.from(data);
    altered[12_345]! ^= 0x01;
    const stream = await s.openStream(peerOf(receiver), 'lane');
    const status = readToEnd(stream);
    await writeAllAndClose(stream, encodeLaneHeader(data.byteLength), altered, Buffer.from(sha256Hex(data), 'hex'));
    expect(answerOf(await status)).toEqual({ status: LANE_V1_STATUS.CHECKSUM_FAILED, reason: 'CHECKSUM_MISMATCH' });
    const ev = await inbox.waitFor((e) => e.peer === s.nodeId);
    expect(ev.ok).toBe(false);
    expect(ev.error?.code).toBe('CHECKSUM_MISMATCH');
    expect(ev.file).toBeUndefined();
    expect(await listDir(inDir)).toEqual(before);
    await pool.stop(s);
    await expectStillServing();
    await expectOnlyVerifiedFiles();
  });

  it('corrupted in transit under sendLane: the sender gets CHECKSUM_MISMATCH, nothing kept', async () => {
    const s = await start();
    const before = await listDir(inDir);
    const src = await writeRandomFile(join(root, 'src-corrupt'), 3 * MiB);
    const stream = corruptingStream(await s.openStream(peerOf(receiver), 'lane'), [0, 2 * MiB + 1]);
    const r = await sendLane(stream, { kind: 'file', path: src }, { peer: 'receiver' });
    expect(r).toMatchObject({ success: false, checksumVerified: false, sha256: await sha256File(src) });
    expect(r.error?.code).toBe('CHECKSUM_MISMATCH');
    const ev = await inbox.waitFor((e) => e.peer === s.nodeId);
    expect(ev).toMatchObject({ ok: false, bytes: 3 * MiB });
    expect(ev.error?.code).toBe('CHECKSUM_MISMATCH');
    expect(await listDir(inDir)).toEqual(before);
    await pool.stop(s);
    await expectStillServing();
  });

  it('receiver stopped mid-transfer (3 times): the sender fails at once with UNAVAILABLE, no partial file remains', async () => {
    const src = await writeRandomFile(join(root, 'src-vanish'), 32 * MiB);
    for (let round = 0; round < 3; round++) {
      const dir = join(root, `vanish${round}`);
      const victim = await start({ receiveDir: dir });
      const victimInbox = new Inbox(victim);
      let stopping: Promise<void> | undefined;
      const r = await sender.send(peerOf(victim), { kind: 'file', path: src }, {
        timeoutMs: 15_000,
        onProgress: (bytes) => {
          if (bytes >= 2 * MiB) stopping ??= pool.stop(victim);
        },
      });
      expect(stopping, `round ${round}`).toBeDefined();
      await stopping; // a graceful stop: it returns only after the receive is cleaned up
      expect(r.success).toBe(false);
      expect(r.checksumVerified).toBe(false);
      // A stopping node says bye on its control stream and waits for the sender to close the
      // link before it resets anything: the sender's peer actor marks it lost and fails the
      // transfer at once with the retryable UNAVAILABLE (docs/PROTOCOL.md "Peer lifecycle").
      expect(r.error?.code, JSON.stringify(r.error)).toBe('UNAVAILABLE');
      expect(victimInbox.events.filter((e) => e.ok)).toEqual([]);
      expect(await listDir(dir), `round ${round}`).toEqual([]);
      victimInbox.close();
    }
    await rm(src);
    // the sender is unharmed
    expect((await sender.send(peerOf(receiver), { kind: 'memory', data: randomBytes(777) })).success).toBe(true);
  });

  it('receiver process killed mid-transfer (SIGKILL): the sender fails with an error, no hang', async () => {
    const dir = join(root, 'killed');
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--listen', '127.0.0.1:0', '--dir', dir, '--data-dir', join(root, 'killed-data'), '--transport', transport],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const listening = await firstJsonLine(child);
      expect(listening.event).toBe('listening');
      const src = await writeRandomFile(join(root, 'src-killed'), 64 * MiB);
      let killed = false;
      const r = await sender.send(
        { address: listening.address as string, nodeId: listening.nodeId as string },
        { kind: 'file', path: src },
        {
          timeoutMs: 15_000,
          onProgress: (bytes) => {
            if (bytes >= 2 * MiB && !killed) killed = child.kill('SIGKILL');
          },
        },
      );
      expect(killed).toBe(true);
      expect(r.success).toBe(false);
      // A killed peer sends no close and no reset: its keep-alive pings go unanswered, and after
      // deadAfterMs (2.5 s) the sender's peer actor declares it dead and fails the transfer with
      // UNAVAILABLE — before the QUIC idle timeout (4 s, CONNECTION_CLOSED) or the lane's own
      // inactivity timeout (15 s here, TIMEOUT) could.
      expect(r.error?.code, JSON.stringify(r.error)).toBe('UNAVAILABLE');
      await rm(src);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await expectStillServing();
  });

  it('a wrong node ID in the PeerRef is refused before any lane byte (PEER_VERIFICATION_FAILED)', async () => {
    const s = await start();
    const r = await s.send({ address: receiver.address, nodeId: generateIdentity().nodeId }, { kind: 'memory', data: randomBytes(5000) });
    expect(r).toMatchObject({ success: false, bytesTransferred: 0, checksumVerified: false });
    expect(r.error?.code).toBe('PEER_VERIFICATION_FAILED');
    // Same sender, right ID: succeeds; the receiver saw exactly that one transfer from it.
    expect((await s.send(peerOf(receiver), { kind: 'memory', data: randomBytes(10) })).success).toBe(true);
    await inbox.waitFor((e) => e.peer === s.nodeId);
    expect(inbox.from(s.nodeId).map((e) => e.ok)).toEqual([true]);
    await pool.stop(s);
  });

  it('a receiver whose allowPeers does not list the sender refuses it; a listed sender gets through', async () => {
    const allowed = generateIdentity();
    const dir = join(root, 'allow');
    const guarded = await start({ receiveDir: dir, allowPeers: [allowed.nodeId] });
    const guardedInbox = new Inbox(guarded);
    const stranger = await start();
    const r = await stranger.send(peerOf(guarded), { kind: 'memory', data: randomBytes(5000) });
    expect(r).toMatchObject({ success: false, checksumVerified: false });
    // With TLS 1.3 the client's handshake completes before the server has judged the client's
    // certificate, so on both transports the dial succeeds and the refusal arrives as the close
    // of an open connection, failing the stream the lane uses:
    //  - matrixai refuses in the TLS layer with alert access_denied; the client maps that close
    //    to PEER_VERIFICATION_FAILED and fails every stream with it;
    //  - quinn (the libp2p binding) cannot consult allowPeers in its handshake: the server
    //    aborts the connection right after it, with application code 0 and no reason, which is
    //    all the client can see: CONNECTION_CLOSED.
    // Either way no lane byte reaches the receiver (no event below).
    const refusal = transport === 'matrixai' ? 'PEER_VERIFICATION_FAILED' : 'CONNECTION_CLOSED';
    expect(r.error?.code, JSON.stringify(r.error)).toBe(refusal);
    const friend = await start({ identity: allowed });
    const data = randomBytes(4321);
    expect((await friend.send(peerOf(guarded), { kind: 'memory', data })).success).toBe(true);
    const ev = await guardedInbox.waitFor((e) => e.ok);
    expect(ev.peer).toBe(allowed.nodeId);
    expect(guardedInbox.events.map((e) => e.peer)).toEqual([allowed.nodeId]);
    expect(await listDir(dir)).toEqual([sha256Hex(data)]);
    guardedInbox.close();
    await Promise.all([stranger, friend, guarded].map((n) => pool.stop(n)));
  });

  it("a size header over maxReceiveBytes gets status 2 with the receiver's reason SIZE_LIMIT, nothing created", async () => {
    const dir = join(root, 'small');
    const small = await start({ receiveDir: dir, maxReceiveBytes: 4096 });
    const smallInbox = new Inbox(small);
    const s = await start();
    const r = await s.send(peerOf(small), { kind: 'memory', data: randomBytes(4097) });
    expect(r).toMatchObject({ success: false, checksumVerified: false });
    // On octopii's protocol the receiver sends its reason after the status byte (docs/PROTOCOL.md
    // "Lane reasons"); the seed's v1 would only say status 2 (REMOTE_ERROR).
    expect(r.error).toMatchObject({ code: 'SIZE_LIMIT', origin: 'remote' });
    const ev = await smallInbox.waitFor((e) => !e.ok);
    expect(ev.error?.code).toBe('SIZE_LIMIT');
    expect(await listDir(dir)).toEqual([]);

    // A raw header announcing 2^50 bytes: status 2 at once, nothing allocated or created.
    const stream = await s.openStream(peerOf(small), 'lane');
    const status = readToEnd(stream);
    const w = stream.writable.getWriter();
    await w.write(encodeLaneHeader(2 ** 50));
    expect(answerOf(await status)).toEqual({ status: LANE_V1_STATUS.ERROR, reason: 'SIZE_LIMIT' });
    await w.close().catch(() => undefined);
    const ev2 = await smallInbox.waitFor((e) => !e.ok);
    expect(ev2).toMatchObject({ ok: false, bytes: 2 ** 50 });
    expect(await listDir(dir)).toEqual([]);

    // At the cap: accepted.
    await expectStillServing(small, smallInbox, dir, 4096);
    smallInbox.close();
    await pool.stop(s);
    await pool.stop(small);
  });

  it('inspect() shows the tree supervisor → peer → transfer, with states and summaries', async () => {
    const s = await start();
    let during: ReturnType<OctopiiNode['inspect']> | undefined;
    const data = randomBytes(4 * MiB);
    const r = await s.send(peerOf(receiver), { kind: 'memory', data }, { onProgress: () => (during ??= s.inspect()) });
    expect(r.success).toBe(true);
    await inbox.waitFor((e) => e.ok && e.sha256 === sha256Hex(data));

    expect(during).toBeDefined();
    const peerDuring = during!.tree.children.find((c) => c.id === `peer:${receiver.nodeId}`)!;
    expect(peerDuring).toMatchObject({ machine: 'peer', status: 'active' });
    expect(peerDuring.state).toMatch(/^connected\./);
    expect(peerDuring.children.map((c) => [c.machine, c.status])).toEqual([['laneSend', 'active']]);

    const after = s.inspect();
    expect(after).toMatchObject({ nodeId: s.nodeId, address: s.address, transport, supervisor: 'supervising' });
    expect(after.tree).toMatchObject({ id: 'node', machine: 'node', state: 'supervising' });
    const peer = after.tree.children.find((c) => c.id === `peer:${receiver.nodeId}`)!;
    expect(peer.summary).toMatchObject({ nodeId: receiver.nodeId, connects: 1, link: { dialled: true, remoteNodeId: receiver.nodeId } });
    expect(after.children[`peer:${receiver.nodeId}`]).toMatchObject({ status: 'running', restart: 'transient' });
    const sends = Object.values(after.children).filter((c) => c.id.startsWith(`peer:${receiver.nodeId}/send#`));
    expect(sends).toHaveLength(1);
    expect(sends[0]).toMatchObject({ status: 'stopped', lastExit: 'normal' });

    const receives = Object.values(receiver.inspect().children).filter((c) => c.id.startsWith(`peer:${s.nodeId}/receive#`));
    expect(receives.map((c) => [c.status, c.lastExit])).toEqual([['stopped', 'normal']]);
    await pool.stop(s);
  });

  it('after a run of failed transfers the receiver still serves and holds only verified files', async () => {
    // Its own failures, so that it means the same run alone (-t) as after the tests above.
    const s = await start();
    const before = await listDir(inDir);

    // 1. wrong checksum (raw stream): status 1;
    const data = randomBytes(150 * KiB);
    const mismatch = await s.openStream(peerOf(receiver), 'lane');
    const status = readToEnd(mismatch);
    await writeAllAndClose(mismatch, encodeLaneHeader(data.byteLength), data, Buffer.alloc(32));
    expect((await status)[0]).toBe(LANE_V1_STATUS.CHECKSUM_FAILED);
    // 2. data cut short: the sender ends its side after a tenth of what it announced: status 2;
    const cut = await s.openStream(peerOf(receiver), 'lane');
    const cutStatus = readToEnd(cut);
    await writeAllAndClose(cut, encodeLaneHeader(data.byteLength), data.subarray(0, 15 * KiB));
    expect((await cutStatus)[0]).toBe(LANE_V1_STATUS.ERROR);
    // 3. a sender node that stops in the middle of a transfer, once the receiver is at work on it.
    const quitter = await start();
    const running = () => new Set(Object.values(receiver.inspect().children).filter((c) => c.id.includes('/receive#') && c.status === 'running').map((c) => c.id));
    const busy = running();
    const half = await quitter.openStream(peerOf(receiver), 'lane');
    const hw = half.writable.getWriter();
    await hw.write(encodeLaneHeader(8 * MiB));
    hw.write(randomBytes(MiB)).catch(() => undefined);
    await until(() => [...running()].some((id) => !busy.has(id)), 10_000, 'the receive of the stopping sender');
    await pool.stop(quitter);

    // Each failure reached the receiver as a failed event, and left no file behind.
    const failed = [await inbox.waitFor((e) => e.peer === s.nodeId && !e.ok), await inbox.waitFor((e) => e.peer === s.nodeId && !e.ok)];
    expect(failed.map((e) => e.error?.code).sort()).toEqual(['CHECKSUM_MISMATCH', 'PROTOCOL_ERROR']);
    expect((await inbox.waitFor((e) => e.peer === quitter.nodeId)).ok).toBe(false);
    expect(await listDir(inDir)).toEqual(before);

    await pool.stop(s);
    await expectStillServing();
    await expectOnlyVerifiedFiles();
    expect(receiver.inspect().supervisor).toBe('supervising');
    const receives = Object.values(receiver.inspect().children).filter((c) => c.id.includes('/receive#'));
    expect(receives.filter((c) => c.status === 'running')).toEqual([]);
  });
});

describe('mixed transports', () => {
  let root: string;
  let pool: NodePool;
  beforeAll(async () => {
    root = await tempDir('octopii-mixed-');
    pool = new NodePool(root);
  });
  afterAll(async () => {
    await pool?.stopAll();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it.each([
    ['quinn', 'matrixai'],
    ['matrixai', 'quinn'],
  ] as const)('a %s node sending to a %s node fails with TRANSPORT_MISMATCH', { timeout: 15_000 }, async (from, to) => {
    const receiver = await pool.start({ transport: to, receiveDir: join(root, `in-${to}`) });
    const inbox = new Inbox(receiver);
    const sender = await pool.start({ transport: from });
    const r = await sender.send({ address: receiver.address, nodeId: receiver.nodeId }, { kind: 'memory', data: randomBytes(100) });
    expect(r).toMatchObject({ success: false, bytesTransferred: 0 });
    expect(r.error?.code).toBe('TRANSPORT_MISMATCH');
    expect(inbox.events).toEqual([]);
    // The receiver is fine: a sender on its own transport gets through.
    const same = await pool.start({ transport: to });
    expect((await same.send({ address: receiver.address, nodeId: receiver.nodeId }, { kind: 'memory', data: randomBytes(100) })).success).toBe(true);
    inbox.close();
  });
});

/**
 * `inner` with a hold in its writable: the first write that takes the byte count past `after`
 * waits for `hold()` before it goes on to `inner` (and every later write waits behind it).
 */
/** A receiver's answer on octopii's protocol: the status byte and the code of the reason frame after it. */
function answerOf(bytes: Uint8Array): { status: number; reason?: string } {
  if (bytes.byteLength <= 1) return { status: bytes[0]! };
  const len = decodeLaneReasonLength(bytes.subarray(1, 3));
  return { status: bytes[0]!, reason: decodeLaneReasonBody(bytes.subarray(3, 3 + len)).code };
}

function holdingStream(inner: DuplexStream, after: number, hold: () => Promise<void>): DuplexStream {
  const w = inner.writable.getWriter();
  let written = 0;
  let held = false;
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      written += chunk.byteLength;
      if (written > after && !held) {
        held = true;
        await hold();
      }
      await w.write(chunk); // rejects with the transport's own error
    },
    close: () => w.close(),
    abort: (reason) => w.abort(reason),
  });
  return { id: inner.id, readable: inner.readable, writable, abort: (r) => inner.abort(r) };
}

/** Resolves once `pred()` holds (polled every 10 ms); rejects after `timeoutMs`. */
async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The first stdout line of a child, parsed as JSON (rejects if the child exits first). */
function firstJsonLine(child: ChildProcess): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += String(d)));
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (line) => {
      rl.close();
      resolve(JSON.parse(line));
    });
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before printing: ${stderr}`)));
  });
}
