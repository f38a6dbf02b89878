/**
 * Incoming-transfer limits (config `limits`) on whole nodes under a simulated clock: at a
 * limit a new transfer is refused at once with RESOURCE_EXHAUSTED (the sender reads the
 * receiver's reason), transfers in progress go on, stalled ones are cut after receiveStallMs,
 * and the freed slots admit new transfers.
 */
import { describe, expect, it } from 'vitest';
import { encodeLaneHeader } from '../../src/wire/laneV1.js';
import { SimWorld } from '../helpers/simWorld.js';
import type { DuplexStream } from '../../src/transport/types.js';

/** Opens a lane stream to `to` and sends only a size header (a stalled sender). */
async function stall(w: SimWorld, from: string, to: string): Promise<DuplexStream> {
  const s = await w.node(from).openStream(w.ref(to), 'lane');
  const writer = s.writable.getWriter();
  await writer.write(encodeLaneHeader(1 << 20));
  writer.releaseLock();
  return s;
}

describe('incoming transfer limits', () => {
  it('refuses a transfer over the per-peer limit at once, keeps the others, and admits again once stalled ones are cut', async () => {
    const w = await SimWorld.create({ receive: 'memory', limits: { incomingPerPeer: 2, incomingPerNode: 10, receiveStallMs: 1_000 } });
    try {
      await w.start('a');
      await w.start('b');
      await w.start('c');
      await stall(w, 'a', 'b');
      await stall(w, 'a', 'b');
      await w.flush();
      // a is at its per-peer limit: its third transfer is refused at once, with b's reason.
      w.send('over', 'a', 'b', 1000);
      expect(await w.until(() => w.transfers.get('over')!.result !== undefined, 100)).toBe(true);
      expect(w.transfers.get('over')!.result!.error).toMatchObject({ code: 'RESOURCE_EXHAUSTED', origin: 'remote' });
      expect(w.transfers.get('over')!.result!.error!.message).toBe('this peer already sends its limit of 2 concurrent transfers; try again later');
      // Another peer is not affected by a's limit.
      w.send('other', 'c', 'b', 1000);
      expect(await w.until(() => w.transfers.get('other')!.result !== undefined)).toBe(true);
      expect(w.transfers.get('other')!.result!.success).toBe(true);
      // The stalled transfers are cut after receiveStallMs; a's slots are free again.
      await w.advance(1_100);
      expect(w.nodes.get('b')!.received.filter((e) => !e.ok).map((e) => e.error?.code)).toEqual(['TIMEOUT', 'TIMEOUT']);
      w.send('again', 'a', 'b', 1000);
      expect(await w.until(() => w.transfers.get('again')!.result !== undefined)).toBe(true);
      expect(w.transfers.get('again')!.result!.success).toBe(true);
    } finally {
      await w.close();
    }
  });

  it('refuses over the per-node limit and shows the saturated gate in inspect()', async () => {
    const w = await SimWorld.create({ receive: 'memory', limits: { incomingPerPeer: 5, incomingPerNode: 2, receiveStallMs: 60_000 } });
    try {
      await w.start('a');
      await w.start('b');
      await w.start('c');
      await stall(w, 'a', 'b');
      await stall(w, 'c', 'b');
      await w.flush();
      const gate = w.node('b').inspect().tree.children.find((c) => c.id === 'limits/incoming')!;
      expect([gate.machine, gate.state, gate.summary.inFlight]).toEqual(['admission', 'saturated', 2]);
      w.send('over', 'a', 'b', 1000);
      expect(await w.until(() => w.transfers.get('over')!.result !== undefined, 100)).toBe(true);
      expect(w.transfers.get('over')!.result!.error).toMatchObject({
        code: 'RESOURCE_EXHAUSTED',
        message: 'this node is receiving its limit of 2 transfers; try again later',
      });
    } finally {
      await w.close();
    }
  });
});
