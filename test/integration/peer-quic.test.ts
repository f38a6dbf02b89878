/**
 * Peer actors over real QUIC (both transports, 127.0.0.1): a redialled connection is adopted by
 * the other side (a lane can run back over it), and a peer killed with SIGKILL is found dead by
 * keep-alive so that work on it fails at once with UNAVAILABLE.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OctopiiNode, PeerEventInfo } from '../../src/node.js';
import type { PeerConnection } from '../../src/transport/types.js';
import { Inbox, NodePool, rm, sha256Hex, tempDir, writeRandomFile } from '../helpers/laneFixtures.js';

const MiB = 1024 * 1024;
const BIN = fileURLToPath(new URL('../../bin/octopii.js', import.meta.url));

/** Resolves with the first peer event matching `pred` (rejects after `ms`). */
function nextPeerEvent(node: OctopiiNode, pred: (e: PeerEventInfo) => boolean, ms = 20_000): Promise<PeerEventInfo> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching peer event within ${ms} ms`));
    }, ms);
    const off = node.onPeer((e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

async function firstJsonLine(child: ReturnType<typeof spawn>): Promise<Record<string, unknown>> {
  const rl = createInterface({ input: child.stdout! });
  for await (const line of rl) {
    rl.close();
    return JSON.parse(line) as Record<string, unknown>;
  }
  throw new Error('child printed nothing');
}

describe.each(['quinn', 'matrixai'] as const)('peer actors over %s', (transport) => {
  let root: string;
  let pool: NodePool;
  const peerOf = (n: OctopiiNode) => ({ address: n.address, nodeId: n.nodeId });

  beforeAll(async () => {
    root = await tempDir('octopii-peer-');
    pool = new NodePool(root);
  });
  afterAll(async () => {
    await pool.stopAll();
    await rm(root, { recursive: true, force: true });
  });

  it('a redialled connection is adopted: after the link drops and a redials, b sends to a over it', async () => {
    const a = await pool.start({ transport, receiveDir: join(root, 'a-in') });
    const b = await pool.start({ transport, receiveDir: join(root, 'b-in') });
    const aInbox = new Inbox(a);
    expect((await a.send(peerOf(b), { kind: 'memory', data: randomBytes(1000) })).success).toBe(true);

    const aUp = nextPeerEvent(a, (e) => e.type === 'peer.up');
    const bUp = nextPeerEvent(b, (e) => e.type === 'peer.up');
    const { link } = await a.connect(peerOf(b));
    await (link.connection as PeerConnection).close('test drops the link');
    await Promise.all([aUp, bUp]);
    expect(a.peers()).toMatchObject([{ id: `peer:${b.nodeId}`, connected: true, connects: 2, losses: 1 }]);
    expect(b.peers()).toMatchObject([{ id: `peer:${a.nodeId}`, connected: true, connects: 2 }]);

    const data = randomBytes(256 * 1024);
    const r = await b.send(peerOf(a), { kind: 'memory', data }, { timeoutMs: 10_000 });
    expect(r.error).toBeUndefined();
    const ev = await aInbox.waitFor((e) => e.sha256 === sha256Hex(data));
    expect(ev).toMatchObject({ ok: true, peer: b.nodeId });
    aInbox.close();
    await pool.stop(a);
    await pool.stop(b);
  });

  it('a receiver killed with SIGKILL mid-transfer is found dead by keep-alive: the send fails UNAVAILABLE within 5 s', async () => {
    const sender = await pool.start({ transport });
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--listen', '127.0.0.1:0', '--dir', join(root, 'killed'), '--data-dir', join(root, 'killed-data'), '--transport', transport],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const listening = await firstJsonLine(child);
      const src = await writeRandomFile(join(root, 'src-killed'), 256 * MiB);
      let killedAt = 0;
      const lost = nextPeerEvent(sender, (e) => e.type === 'peer.lost');
      const r = await sender.send(
        { address: listening.address as string, nodeId: listening.nodeId as string },
        { kind: 'file', path: src },
        {
          timeoutMs: 60_000, // the lane's own inactivity timeout must not be what ends it
          onProgress: (bytes) => {
            if (bytes >= 2 * MiB && killedAt === 0 && child.kill('SIGKILL')) killedAt = performance.now();
          },
        },
      );
      const elapsed = performance.now() - killedAt;
      console.log(`${transport}: SIGKILLed receiver → send failed after ${Math.round(elapsed)} ms (${r.error?.code})`);
      expect(killedAt).toBeGreaterThan(0);
      expect(r.error?.code, JSON.stringify(r.error)).toBe('UNAVAILABLE');
      expect(elapsed).toBeLessThan(5_000);
      expect((await lost).error?.code).toBe('UNAVAILABLE');
      await rm(src);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await pool.stop(sender);
  });
});
