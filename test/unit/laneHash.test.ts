/**
 * The SHA-256 hashers the lane runs on (src/hash): an owned {@link HashPool} (threads, pins,
 * destroy), the reference-counted shared pool, `inlineHasher`, and how a transfer retains and
 * releases the shared pool.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { receiveLane, sendLane } from '../../src/lane/index.js';
import { HashPool, inlineHasher, sharedHashPool, sharedHashPoolStats, sha256Inline, toHex } from '../../src/hash/index.js';
import { ONESHOT_INLINE_MAX_BYTES } from '../../src/hash/pool.js';
import { duplexPair } from '../helpers/duplexPair.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('SHA-256 pool', () => {
  it('an owned pool hashes incrementally in parallel, pinned per hash, frees the pins, and refuses work once destroyed', async () => {
    const pool = new HashPool({ threads: 2 });
    expect(pool.stats()).toEqual({ threads: 0, pinned: 0, queued: 0, running: false }); // threads start on the first job
    const inputs = [0, 1, 300 * KiB, 3 * MiB + 7, 5 * MiB].map((n) => randomBytes(n));
    const digests = await Promise.all(
      inputs.map(async (data) => {
        const h = pool.createSha256();
        for (let off = 0; off < data.byteLength; off += 100_003) await h.update(data.subarray(off, off + 100_003));
        return toHex(await h.digest());
      }),
    );
    expect(digests).toEqual(inputs.map(sha));
    expect(pool.stats()).toMatchObject({ threads: 2, pinned: 0, running: true });
    await pool.destroy();
    expect(pool.stats().running).toBe(false);
    await expect(pool.sha256(new Uint8Array(1))).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('hashes a one-shot input up to ONESHOT_INLINE_MAX_BYTES on the calling thread: no worker starts for it', async () => {
    const pool = new HashPool({ threads: 1 });
    try {
      const data = randomBytes(ONESHOT_INLINE_MAX_BYTES);
      expect([toHex(await pool.sha256(data)), pool.stats().running]).toEqual([sha(data), false]);
    } finally {
      await pool.destroy();
    }
  });

  it('a pool of 0 threads hashes on the calling thread: same digests, never a worker, CLOSED once destroyed', async () => {
    const pool = new HashPool({ threads: 0 });
    expect(pool.threads).toBe(0);
    const data = randomBytes(3 * MiB + 7);
    const h = pool.createSha256();
    let released = 0;
    for (let off = 0; off < data.byteLength; off += 300_001) await h.update(data.subarray(off, off + 300_001), { onHashed: () => released++ });
    expect(released).toBe(Math.ceil(data.byteLength / 300_001)); // each view is free as soon as update resolves
    expect(toHex(await h.digest())).toBe(sha(data));
    expect(toHex(await pool.sha256(data))).toBe(sha(data));
    expect(pool.stats()).toEqual({ threads: 0, pinned: 0, queued: 0, running: false });
    await pool.destroy();
    await expect(pool.sha256(new Uint8Array(1))).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('one-shot, SharedArrayBuffer views, inline, inlineHasher and noble agree with node:crypto', async () => {
    const pool = new HashPool({ threads: 1 });
    try {
      const data = randomBytes(2 * MiB + 1);
      const shared = new Uint8Array(new SharedArrayBuffer(data.byteLength + 10));
      shared.set(data, 5);
      const view = shared.subarray(5, 5 + data.byteLength);
      expect(toHex(await pool.sha256(data))).toBe(sha(data));
      expect(toHex(await pool.sha256(view))).toBe(sha(data));
      expect(toHex(sha256Inline(view))).toBe(sha(data));
      for (const h of [pool.createSha256({ impl: 'noble' }), pool.createSha256({ inline: true }), inlineHasher.createSha256()]) {
        await h.update(data.subarray(0, 1000));
        await h.update(data.subarray(1000));
        expect(toHex(await h.digest())).toBe(sha(data));
      }
    } finally {
      await pool.destroy();
    }
  });

  it('abort frees the hash state', async () => {
    const pool = new HashPool({ threads: 1 });
    const h = pool.createSha256();
    await h.update(randomBytes(MiB));
    expect(pool.stats().pinned).toBe(1);
    h.abort();
    await new Promise((r) => setTimeout(r, 50)); // the `free` job is placed on the pinned worker
    expect(pool.stats().pinned).toBe(0);
    await expect(h.update(new Uint8Array(1))).rejects.toMatchObject({ code: 'ABORTED' });
    await pool.destroy();
  });

  it('the shared pool is reference-counted: destroyed when the last handle releases, fresh on the next retain', async () => {
    expect(sharedHashPoolStats()).toMatchObject({ retained: 0, running: false });
    const one = sharedHashPool();
    const two = sharedHashPool();
    const p1 = one.retain();
    const p2 = two.retain();
    expect(p1).toBe(p2);
    expect(sharedHashPoolStats().retained).toBe(2);
    await one.release();
    await one.release(); // a handle never releases more than it retained
    expect(sharedHashPoolStats().retained).toBe(1);
    expect(p1.destroyed).toBe(false);
    await two.release();
    expect(p1.destroyed).toBe(true);
    const p3 = one.retain();
    expect(p3).not.toBe(p1);
    await one.release();
    expect(p3.destroyed).toBe(true);
  });

  it('a transfer given no hasher retains the shared pool and releases it after', async () => {
    {
      const seen: number[] = [];
      const [a, b] = duplexPair();
      const data = randomBytes(MiB);
      const [sent, got] = await Promise.all([
        sendLane(a, { kind: 'memory', data }, { onState: () => seen.push(sharedHashPoolStats().retained) }),
        receiveLane(b, { kind: 'memory' }),
      ]);
      expect(sent.success && got.success).toBe(true);
      expect(Math.max(...seen)).toBe(2); // sender and receiver
      expect(sharedHashPoolStats()).toMatchObject({ retained: 0, running: false });
      // a given hasher is used instead: the shared pool is never started
      const [c, e] = duplexPair();
      const [s2, g2] = await Promise.all([
        sendLane(c, { kind: 'memory', data }, { hasher: inlineHasher }),
        receiveLane(e, { kind: 'memory' }, { hasher: inlineHasher }),
      ]);
      expect(s2.success && g2.success).toBe(true);
      expect(g2.sha256).toBe(sha(data));
      expect(sharedHashPoolStats().retained).toBe(0);
    }
  });
});
