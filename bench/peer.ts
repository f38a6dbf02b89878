/**
 * One side of a lane bench transfer, run as its own process by bench/lane.ts and driven over
 * the IPC channel of `child_process.fork` (it refuses to run without one):
 *
 *   node --import tsx bench/peer.ts receive --transport quinn|matrixai --dir DIR
 *   node --import tsx bench/peer.ts send    --transport quinn|matrixai --dir DIR
 *
 * Both start a real OctopiiNode on 127.0.0.1 (fresh in-memory identity, data dir under DIR).
 *
 * receive: → {type:'ready', address, nodeId, startRssMiB}
 *          ← {type:'arm', expect, warmups}  waits for the sender's `warmups` warm-up transfers,
 *                                   deletes them, then starts the meter (the RSS now is "idle":
 *                                   node started, peer connected, hash pool and lane code warm),
 *                                   replies {type:'armed'}; the meter stops when the
 *                                   `expect`-th transfer has been received.
 *          → {type:'received', meter, transfers:[{ok, bytes, sha256, diskSha256, error}]}
 *            after stopping the meter it re-reads each stored file and hashes it (outside the
 *            window), then deletes it.
 * send:    ← {type:'connect', peer, warmupBytes}  connects, then (if warmupBytes > 0) sends one
 *                                   warm-up transfer of that many random bytes from memory
 *                                   → {type:'connected', startRssMiB, warmRssMiB}
 *          ← {type:'send', files}   starts the meter, sends all files in parallel over the one
 *                                   connection (one lane stream each), stops the meter when the
 *                                   last status byte arrived.
 *          → {type:'sent', wallMs, meter, results: TransferResult[]}
 * both:    ← {type:'stop'}  stops the node and exits 0. A lost parent (IPC disconnect) exits 1.
 */
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { OctopiiNode, type ReceivedEvent, type PeerRef } from '../src/node.js';
import { generateIdentity } from '../src/identity.js';
import type { TransferResult } from '../src/lane/index.js';
import { startMeter, type Meter, type MeterFigures } from './meter.js';
import { failChild } from './util.js';

const MiB = 2 ** 20;

export type PeerRole = 'receive' | 'send';

/** Messages from the orchestrator to a peer process. */
export type ToPeer =
  | { type: 'arm'; expect: number; warmups: number }
  | { type: 'connect'; peer: PeerRef; warmupBytes: number }
  | { type: 'send'; files: string[] }
  | { type: 'stop' };

export interface ReceivedTransfer {
  ok: boolean;
  bytes: number;
  /** SHA-256 the lane computed and verified. */
  sha256: string;
  /** SHA-256 of the stored file, re-read from disk after the window ('' if none). */
  diskSha256: string;
  error?: { code: string; message: string };
}

/** Messages from a peer process to the orchestrator. */
export type FromPeer =
  | { type: 'ready'; address: string; nodeId: string; startRssMiB: number }
  | { type: 'armed' }
  | { type: 'received'; meter: MeterFigures; transfers: ReceivedTransfer[] }
  | { type: 'connected'; startRssMiB: number; warmRssMiB: number }
  | { type: 'sent'; wallMs: number; meter: MeterFigures; results: TransferResult[] }
  | { type: 'error'; message: string };

const post = (m: FromPeer): void => {
  process.send!(m);
};

function sha256File(path: string): Promise<string> {
  return new Promise((ok, fail) => {
    const h = createHash('sha256');
    createReadStream(path, { highWaterMark: 4 * MiB })
      .on('data', (b) => h.update(b))
      .on('end', () => ok(h.digest('hex')))
      .on('error', fail);
  });
}

async function main(): Promise<void> {
  if (!process.send) {
    console.error('bench/peer.ts is driven by bench/lane.ts over IPC; run `npm run bench` instead');
    process.exit(2);
  }
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { transport: { type: 'string' }, dir: { type: 'string' } },
  });
  const role = positionals[0] as PeerRole;
  const transport = values.transport as 'quinn' | 'matrixai';
  const dir = values.dir!;
  if ((role !== 'receive' && role !== 'send') || (transport !== 'quinn' && transport !== 'matrixai') || !dir) {
    throw new Error(`usage: peer.ts receive|send --transport quinn|matrixai --dir DIR (got ${process.argv.slice(2).join(' ')})`);
  }
  process.on('disconnect', () => process.exit(1));

  await mkdir(dir, { recursive: true });
  const node = await OctopiiNode.start({
    listen: '127.0.0.1:0',
    dataDir: dir,
    receiveDir: role === 'receive' ? join(dir, 'inbox') : undefined,
    identity: generateIdentity(),
    transport,
  });

  let meter: Meter | undefined;
  let expect = 0;
  const events: ReceivedEvent[] = [];
  let peer: PeerRef | undefined;

  const finishReceive = async (): Promise<void> => {
    const figures = meter!.stop();
    const transfers: ReceivedTransfer[] = [];
    for (const e of events) {
      const diskSha256 = e.ok && e.file ? await sha256File(e.file) : '';
      if (e.file) await rm(e.file, { force: true });
      const t: ReceivedTransfer = { ok: e.ok, bytes: e.bytes, sha256: e.sha256, diskSha256 };
      if (e.error) t.error = { code: String(e.error.code), message: e.error.message };
      transfers.push(t);
    }
    events.length = 0;
    post({ type: 'received', meter: figures, transfers });
  };

  node.onReceived((e) => {
    events.push(e);
    if (meter && events.length === expect) void finishReceive().catch(failChild);
  });

  process.on('message', (m: ToPeer) => {
    void (async () => {
      switch (m.type) {
        case 'arm': {
          // Let the warm-up transfers land, drop them, then start the window.
          const deadline = Date.now() + 30_000;
          while (events.length < m.warmups) {
            if (Date.now() > deadline) throw new Error(`warm-up: ${events.length} of ${m.warmups} transfers arrived`);
            await sleep(10);
          }
          const warm = events.splice(0);
          for (const e of warm) if (e.file) await rm(e.file, { force: true });
          if (warm.some((e) => !e.ok)) throw new Error(`warm-up transfer failed: ${JSON.stringify(warm.find((e) => !e.ok)?.error)}`);
          await sleep(100);
          expect = m.expect;
          meter = startMeter();
          post({ type: 'armed' });
          break;
        }
        case 'connect': {
          peer = m.peer;
          await node.connect(peer);
          const startRssMiB = process.memoryUsage.rss() / MiB;
          if (m.warmupBytes > 0) {
            const r = await node.send(peer, { kind: 'memory', data: randomBytes(m.warmupBytes) });
            if (!r.success) throw new Error(`warm-up transfer failed: ${r.error?.code} ${r.error?.message}`);
          }
          await sleep(100);
          post({ type: 'connected', startRssMiB, warmRssMiB: process.memoryUsage.rss() / MiB });
          break;
        }
        case 'send': {
          const target = peer!;
          meter = startMeter();
          const t0 = performance.now();
          const results = await Promise.all(m.files.map((path) => node.send(target, { kind: 'file', path })));
          const wallMs = performance.now() - t0;
          post({ type: 'sent', wallMs, meter: meter.stop(), results });
          break;
        }
        case 'stop':
          await node.stop();
          process.disconnect();
          process.exit(0);
      }
    })().catch(failChild);
  });

  post({ type: 'ready', address: node.address, nodeId: node.nodeId, startRssMiB: process.memoryUsage.rss() / MiB });
}

main().catch(failChild);
