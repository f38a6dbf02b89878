/**
 * One peer opens 1,000 lane streams that announce a size and stall (real QUIC, both
 * transports; see STREAMS): the receiver admits its per-peer limit, refuses the rest at once, holds no file
 * for any of them (temp files open only when data arrives), serves a legitimate sender during
 * the flood, and, once the attacker goes away, holds no partial file. (The cut of a
 * stalled stream after receiveStallMs is pinned under the simulated clock, test/sim/limits.test.ts.)
 */
import { readdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeLaneHeader } from '../../src/wire/laneV1.js';
import type { DuplexStream } from '../../src/transport/types.js';
import { Inbox, NodePool, rm, sha256Hex, tempDir } from '../helpers/laneFixtures.js';

/**
 * Streams per run, on both transports.
 *
 * The flood must end before the receiver cuts the 16 admitted streams (STALL_MS): a cut frees
 * their per-peer slots, and the next stream is then admitted (and stalls, unanswered) instead
 * of refused. On @matrixai/quic one refused stream costs ~3–10 ms here (the attacker waits for
 * each answer), so 1,000 of them take 3–10 s: with a 3 s stall deadline the cut came mid-flood,
 * after 200–550 streams depending on load, and with 20 s under CI's load once. That looked like
 * the connection no longer answering streams, but the library frees every refused-and-reset
 * stream (its stream map and quiche's stream credit come back; measured with 2,500 refusals on
 * one connection, 16 held). So the receiver here never cuts during the test (STALL_MS).
 */
const STREAMS = 1_000;
/** receiveStallMs of the receiver: longer than the whole test, so no slot comes free mid-flood. */
const STALL_MS = 600_000;
const MiB = 1024 * 1024;

const openFiles = async () => (await readdir('/proc/self/fd')).length;

/** First byte the receiver answers on `s` (its status); null when the stream ends or nothing comes within 10 s. */
async function firstByte(s: DuplexStream): Promise<number | null> {
  const r = s.readable.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const { value } = await Promise.race([
      r.read(),
      new Promise<{ value: undefined }>((resolve) => (timer = setTimeout(() => resolve({ value: undefined }), 10_000))),
    ]);
    return value && value.byteLength > 0 ? value[0]! : null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
    r.releaseLock();
  }
}

// This file names both transports itself, so it runs once per CI run (in the default-transport
// suite), not again when CI repeats the suite with OCTOPII_TRANSPORT=matrixai.
describe.runIf(process.env.OCTOPII_TRANSPORT !== 'matrixai').each(['quinn', 'matrixai'] as const)('stalled streams from one peer over %s', (transport) => {
  let root: string;
  let pool: NodePool;
  beforeAll(async () => {
    root = await tempDir('octopii-limits-');
    pool = new NodePool(root);
  });
  afterAll(async () => {
    await pool.stopAll();
    await rm(root, { recursive: true, force: true });
  });

  it('are refused past the per-peer limit at once, hold no file, and a legitimate send gets through', async () => {
    const dir = join(root, `in-${transport}`);
    // Three nodes share this process on a loaded 2-core machine: a generous dead-peer deadline
    // keeps a starved event loop from being read as a dead peer.
    const peerOpts = { deadAfterMs: 10_000 };
    const receiver = await pool.start({ transport, receiveDir: dir, peer: peerOpts, limits: { incomingPerPeer: 16, incomingPerNode: 128, connections: 1024, receiveStallMs: STALL_MS } });
    const inbox = new Inbox(receiver);
    const attacker = await pool.start({ transport, peer: peerOpts });
    const honest = await pool.start({ transport, peer: peerOpts });
    const peer = { address: receiver.address, nodeId: receiver.nodeId };
    const fdsBefore = await openFiles();
    const rssBefore = process.memoryUsage.rss();

    // The attacker keeps every stream it may keep: the admitted ones stall; a refused one is
    // answered status 2 at once, and the attacker lets it go (QUIC's own stream limit would
    // otherwise stop it from opening more).
    const stalled: DuplexStream[] = [];
    const answers: Array<number | null> = [];
    const floodStart = Date.now();
    for (let i = 0; i < STREAMS; i++) {
      const s = await attacker.openStream(peer, 'lane');
      const w = s.writable.getWriter();
      await w.write(encodeLaneHeader(64 * MiB));
      w.releaseLock();
      if (i < 16) stalled.push(s);
      else {
        const answer = await firstByte(s);
        answers.push(answer);
        s.abort();
        // Not refused: the flood outlasted the stall deadline and a slot came free (see STREAMS);
        // stop here rather than wait 10 s for each stream admitted from now on.
        if (answer !== 2) break;
      }
    }
    expect(answers.filter((a) => a !== 2)).toEqual([]);
    // The flood ended before the stall deadline (see STREAMS): nothing was cut yet.
    expect(inbox.events.filter((e) => !e.ok)).toEqual([]);
    const floodMs = Date.now() - floodStart;
    const fdsDuring = await openFiles();
    const rssDuring = process.memoryUsage.rss();

    const data = randomBytes(1 * MiB);
    const r = await honest.send(peer, { kind: 'memory', data });
    expect(r.error).toBeUndefined();
    await inbox.waitFor((e) => e.ok && e.sha256 === sha256Hex(data));

    // The attacker goes away (its node stops, closing the connection): each of the 16 admitted
    // ones fails at the receiver, leaving no partial file.
    await attacker.stop();
    const cut = await Promise.all(Array.from({ length: 16 }, () => inbox.waitFor((e) => !e.ok, 30_000)));
    expect(cut).toHaveLength(16);
    expect((await readdir(dir)).filter((f) => !/^[0-9a-f]{64}$/.test(f))).toEqual([]);
    const rssAfter = process.memoryUsage.rss();
    console.log(
      `${transport}: ${STREAMS} stalled streams in ${floodMs} ms: open files ${fdsBefore} → ${fdsDuring}; RSS ${(rssBefore / MiB).toFixed(0)} → ${(rssDuring / MiB).toFixed(0)} MiB during, ${(rssAfter / MiB).toFixed(0)} MiB once they failed (in-process: three nodes)`,
    );
    // No file per stalled stream: the flood costs sockets and threads, not file descriptors.
    expect(fdsDuring - fdsBefore).toBeLessThan(64);
    inbox.close();
  }, 240_000);
});
