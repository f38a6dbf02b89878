/**
 * Shipping Lane v1 over in-memory duplex streams (no transport): sizes, sources, sinks,
 * failure modes (seed 001 scenarios). The hash pool: test/unit/laneHash.test.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedClock } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeLaneHeader,
  openSource,
  receiveLane,
  sendLane,
  transferToPeers,
  type ReceiveResult,
  type TransferResult,
} from '../../src/lane/index.js';
import { sharedHashPool } from '../../src/hash/index.js';
import type { DuplexStream } from '../../src/transport/types.js';
import { OctopiiError } from '../../src/errors.js';
import { duplexPair } from '../helpers/duplexPair.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZES = [0, 1, 2, 7, 63, 127, 255, 511, 65_535, 65_536, 65_537, 3 * 64 * KiB, MiB, 10 * MiB];

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let dir: string;
// The suite holds the shared pool, so its transfers do not start and stop threads each time.
const suitePool = sharedHashPool();
beforeAll(async () => {
  suitePool.retain();
  dir = await mkdtemp(join(tmpdir(), 'octopii-lane-'));
});
afterAll(async () => {
  await suitePool.release();
  await rm(dir, { recursive: true, force: true });
});

async function freshDir(name: string): Promise<string> {
  const d = join(dir, name);
  await rm(d, { recursive: true, force: true });
  await import('node:fs/promises').then((fs) => fs.mkdir(d, { recursive: true }));
  return d;
}

/** Writes raw bytes as a sender would, closes, and returns the status byte answered (if any). */
async function rawSend(stream: DuplexStream, parts: Uint8Array[], close = true): Promise<number | undefined> {
  const w = stream.writable.getWriter();
  try {
    for (const p of parts) await w.write(p);
    if (close) await w.close();
  } catch {
    // the receiver may refuse the rest after answering
  }
  const r = await stream.readable.getReader().read().catch(() => ({ done: true as const, value: undefined }));
  return r.done ? undefined : r.value[0];
}

describe('sizes', () => {
  for (const size of SIZES) {
    it(`memory → memory, ${size} bytes`, async () => {
      const data = randomBytes(size);
      const [a, b] = duplexPair();
      const [sent, got] = await Promise.all([
        sendLane(a, { kind: 'memory', data }, { peer: 'B' }),
        receiveLane(b, { kind: 'memory' }, { peer: 'A' }),
      ]);
      expect(sent).toMatchObject({ peer: 'B', success: true, checksumVerified: true, bytesTransferred: size, sha256: sha(data) });
      expect(sent.error).toBeUndefined();
      expect(got).toMatchObject({ success: true, outcome: 'acknowledged', bytes: size, sha256: sha(data), status: 0, peer: 'A' });
      expect(Buffer.compare(Buffer.from(got.data!), data)).toBe(0);
    });

    it(`file → file, ${size} bytes (hash of the received file)`, async () => {
      const d = await freshDir(`size-${size}`);
      const src = join(d, 'source.bin');
      const data = randomBytes(size);
      await writeFile(src, data);
      const dst = join(d, 'received.bin');
      const [a, b] = duplexPair();
      const [sent, got] = await Promise.all([sendLane(a, { kind: 'file', path: src }), receiveLane(b, { kind: 'file', path: dst })]);
      expect(sent.success).toBe(true);
      expect(sent.bytesTransferred).toBe(size);
      expect(got).toMatchObject({ success: true, path: dst, bytes: size, status: 0 });
      expect(sha(await readFile(dst))).toBe(sha(data));
      expect(got.sha256).toBe(sha(data));
      expect((await readdir(d)).sort()).toEqual(['received.bin', 'source.bin']); // no temp left
    });
  }

  it('memory → file and file → memory', async () => {
    const d = await freshDir('mixed');
    const data = randomBytes(2 * MiB + 3);
    const [a, b] = duplexPair();
    const [, got] = await Promise.all([sendLane(a, { kind: 'memory', data }), receiveLane(b, { kind: 'file', path: join(d, 'x') })]);
    expect(sha(await readFile(got.path!))).toBe(sha(data));
    const [c, e] = duplexPair();
    const [, back] = await Promise.all([sendLane(c, { kind: 'file', path: join(d, 'x') }), receiveLane(e, { kind: 'memory' })]);
    expect(sha(back.data!)).toBe(sha(data));
  });

  it('a blob sink stores verified data under its SHA-256 and leaves nothing on a mismatch', async () => {
    const d = await freshDir('blob');
    const data = randomBytes(MiB + 5);
    const [a, b] = duplexPair();
    const [sent, got] = await Promise.all([sendLane(a, { kind: 'memory', data }), receiveLane(b, { kind: 'blob', dir: d })]);
    expect(sent.success).toBe(true);
    expect(got.path).toBe(join(d, sha(data)));
    expect(sha(await readFile(got.path!))).toBe(sha(data));
    expect(await readdir(d)).toEqual([sha(data)]);
    // same data again: same name, still one file
    const [c, e] = duplexPair();
    await Promise.all([sendLane(c, { kind: 'memory', data }), receiveLane(e, { kind: 'blob', dir: d })]);
    expect(await readdir(d)).toEqual([sha(data)]);
    // true hash, corrupted data: status 1, no new file, no temp file
    const [f, g] = duplexPair();
    const bad = Uint8Array.from(data.subarray(0, 4096));
    bad[10] ^= 1;
    const [status, r] = await Promise.all([
      rawSend(f, [encodeLaneHeader(bad.length), bad, createHash('sha256').update(data.subarray(0, 4096)).digest()]),
      receiveLane(g, { kind: 'blob', dir: d }),
    ]);
    expect(status).toBe(1);
    expect(r.success).toBe(false);
    expect(await readdir(d)).toEqual([sha(data)]);
  });

  it('small blocks and tiny network chunks still arrive intact', async () => {
    const data = randomBytes(700 * KiB + 1);
    const [a, b] = duplexPair({ maxChunk: 1000, highWaterMark: 4 * KiB });
    const [sent, got] = await Promise.all([
      sendLane(a, { kind: 'memory', data }, { blockBytes: 300 * KiB, maxBlocksInFlight: 2 }),
      receiveLane(b, { kind: 'memory' }, { blockBytes: 256 * KiB, maxBlocksInFlight: 2 }),
    ]);
    expect(sent.success).toBe(true);
    expect(sha(got.data!)).toBe(sha(data));
  });
});

describe('file source blocks', () => {
  it('leased blocks are the file in order, from a bounded ring of reused SharedArrayBuffers', async () => {
    const d = await freshDir('leased');
    const data = randomBytes(10 * 64 * KiB + 5);
    const path = join(d, 'src.bin');
    await writeFile(path, data);
    const src = await openSource({ kind: 'file', path });
    try {
      const buffers = new Set<ArrayBufferLike>();
      const parts: Uint8Array[] = [];
      const held: { release(): void }[] = [];
      for await (const lease of src.leasedBlocks(64 * KiB, 2, 1)) {
        expect(lease.data.buffer).toBeInstanceOf(SharedArrayBuffer);
        buffers.add(lease.data.buffer);
        parts.push(lease.data.slice()); // copy before the block is reused
        held.push(lease);
        if (held.length > 1) held.shift()!.release(); // hold at most one block, like a slow consumer
      }
      held.forEach((l) => l.release());
      expect(Buffer.concat(parts).equals(data)).toBe(true);
      expect(parts.map((p) => p.byteLength)).toEqual([...Array(10).fill(64 * KiB), 5]);
      expect(buffers.size).toBeLessThanOrEqual(3); // readAhead + maxHeld
    } finally {
      await src.close();
    }
  });
});

describe('failures', () => {
  it('oversized size header → status 2, SIZE_LIMIT, no file created', async () => {
    const d = await freshDir('oversized');
    const data = randomBytes(3 * MiB);
    const [a, b] = duplexPair();
    const [sent, got] = await Promise.all([
      sendLane(a, { kind: 'memory', data }),
      receiveLane(b, { kind: 'file', path: join(d, 'out.bin') }, { maxBytes: MiB }),
    ]);
    expect(got).toMatchObject({ success: false, outcome: 'rejected', status: 2, bytes: 3 * MiB });
    expect(got.error?.code).toBe('SIZE_LIMIT');
    expect(sent.success).toBe(false);
    expect(sent.error?.code).toBe('REMOTE_ERROR');
    expect(await readdir(d)).toEqual([]);
  });

  it('a raw huge size header (2^50) against the memory sink default cap → status 2, nothing allocated', async () => {
    const [a, b] = duplexPair();
    const [status, got] = await Promise.all([rawSend(a, [encodeLaneHeader(2 ** 50)], false), receiveLane(b, { kind: 'memory' })]);
    expect(status).toBe(2);
    expect(got.outcome).toBe('rejected');
    expect(got.error?.code).toBe('SIZE_LIMIT');
  });

  it('size header above Number.MAX_SAFE_INTEGER → PROTOCOL_ERROR, status 2', async () => {
    const [a, b] = duplexPair();
    const huge = new Uint8Array(8).fill(0xff);
    const [status, got] = await Promise.all([rawSend(a, [huge], false), receiveLane(b, { kind: 'memory' })]);
    expect(status).toBe(2);
    expect(got.error?.code).toBe('PROTOCOL_ERROR');
  });

  it('corrupted data with the true hash → status 1, no file kept (temp removed)', async () => {
    const d = await freshDir('corrupt');
    const data = randomBytes(2 * MiB + 5);
    const corrupted = Buffer.from(data);
    corrupted[MiB + 17] ^= 0x01;
    const [a, b] = duplexPair();
    const [status, got] = await Promise.all([
      rawSend(a, [encodeLaneHeader(data.byteLength), corrupted, createHash('sha256').update(data).digest()]),
      receiveLane(b, { kind: 'file', path: join(d, 'out.bin') }),
    ]);
    expect(status).toBe(1);
    expect(got).toMatchObject({ success: false, outcome: 'failed', status: 1, sha256: sha(corrupted) });
    expect(got.error?.code).toBe('CHECKSUM_MISMATCH');
    expect(await readdir(d)).toEqual([]);
  });

  it('sender sees status 1 as CHECKSUM_MISMATCH and status 2 as REMOTE_ERROR', async () => {
    for (const [status, code] of [
      [1, 'CHECKSUM_MISMATCH'],
      [2, 'REMOTE_ERROR'],
    ] as const) {
      const data = randomBytes(1000);
      const [a, b] = duplexPair();
      const receiver = rawReceiveAndAnswer(b, 8 + 1000 + 32, status);
      const [sent] = await Promise.all([sendLane(a, { kind: 'memory', data }), receiver]);
      expect(sent).toMatchObject({ success: false, checksumVerified: false, bytesTransferred: 1000 });
      expect(sent.error?.code).toBe(code);
    }
  });

  it('missing source → SOURCE_NOT_FOUND (sendLane and transferToPeers; no stream opened)', async () => {
    const [a, b] = duplexPair();
    const [sent, got] = await Promise.all([
      sendLane(a, { kind: 'file', path: join(dir, 'does-not-exist') }, { peer: 'p' }),
      receiveLane(b, { kind: 'memory' }),
    ]);
    expect(sent).toMatchObject({ peer: 'p', success: false, bytesTransferred: 0 });
    expect(sent.error?.code).toBe('SOURCE_NOT_FOUND');
    expect(got.success).toBe(false);

    let opened = 0;
    const results = await transferToPeers(
      async () => {
        opened++;
        return duplexPair()[0];
      },
      { kind: 'file', path: join(dir, 'does-not-exist') },
      ['x', 'y'],
    );
    expect(opened).toBe(0);
    expect(results.map((r) => [r.peer, r.success, r.error?.code])).toEqual([
      ['x', false, 'SOURCE_NOT_FOUND'],
      ['y', false, 'SOURCE_NOT_FOUND'],
    ]);
  });

  it('receiver vanishes mid-transfer → failed TransferResult with an error, no hang', async () => {
    const data = randomBytes(8 * MiB);
    const [a, b] = duplexPair();
    const receiver = (async () => {
      const r = b.readable.getReader();
      let n = 0;
      while (n < 200 * KiB) n += (await r.read()).value!.byteLength;
      b.abort(new Error('receiver crashed'));
    })();
    const [sent] = await Promise.all([sendLane(a, { kind: 'memory', data }), receiver]);
    expect(sent.success).toBe(false);
    expect(sent.checksumVerified).toBe(false);
    expect(sent.error?.code).toBe('STREAM_ABORTED');
    expect(sent.bytesTransferred).toBeLessThan(data.byteLength);
  });

  it('receiver closes without a status → CONNECTION_CLOSED', async () => {
    const [a, b] = duplexPair();
    const receiver = (async () => {
      const r = b.readable.getReader();
      let n = 0;
      while (n < 8 + 10 + 32) n += (await r.read()).value!.byteLength;
      await b.writable.close();
    })();
    const [sent] = await Promise.all([sendLane(a, { kind: 'memory', data: randomBytes(10) }), receiver]);
    expect(sent.success).toBe(false);
    expect(sent.error?.code).toBe('CONNECTION_CLOSED');
  });

  it('sender vanishes mid-transfer → receiver fails, temp file removed', async () => {
    const d = await freshDir('sender-vanishes');
    const [a, b] = duplexPair();
    let sawTemp = false;
    const sender = (async () => {
      const w = a.writable.getWriter();
      await w.write(encodeLaneHeader(5 * MiB));
      await w.write(randomBytes(MiB + 100));
      // wait until the receiver has created its temp file (bounded by the test timeout), then vanish
      while (!(sawTemp = (await readdir(d)).some((n) => n.endsWith('.part')))) await new Promise((r) => setTimeout(r, 2));
      a.abort(new Error('sender crashed'));
    })();
    const [, got] = await Promise.all([sender, receiveLane(b, { kind: 'file', path: join(d, 'out.bin') })]);
    expect(sawTemp).toBe(true);
    expect(got.success).toBe(false);
    expect(got.outcome).toBe('failed');
    expect(got.error?.code).toBe('STREAM_ABORTED');
    expect(got.status).toBeNull();
    expect(await readdir(d)).toEqual([]);
  });

  it('truncated header → PROTOCOL_ERROR, status 2', async () => {
    const [a, b] = duplexPair();
    const [status, got] = await Promise.all([rawSend(a, [Uint8Array.of(3, 0, 0)]), receiveLane(b, { kind: 'memory' })]);
    expect(status).toBe(2);
    expect(got.error?.code).toBe('PROTOCOL_ERROR');
    expect(got.error?.message).toMatch(/header/);
  });

  it('truncated data / trailer → PROTOCOL_ERROR, status 2, nothing kept', async () => {
    const d = await freshDir('truncated');
    for (const parts of [
      [encodeLaneHeader(1000), randomBytes(999)],
      [encodeLaneHeader(10), randomBytes(10), randomBytes(31)],
    ]) {
      const [a, b] = duplexPair();
      const [status, got] = await Promise.all([rawSend(a, parts), receiveLane(b, { kind: 'file', path: join(d, 'out') })]);
      expect(status).toBe(2);
      expect(got.error?.code).toBe('PROTOCOL_ERROR');
      expect(await readdir(d)).toEqual([]);
    }
  });

  it('a receiver that never answers → TIMEOUT; an AbortSignal → ABORTED', async () => {
    const [a, b] = duplexPair();
    void b.readable.getReader().read();
    const clock = new SimulatedClock(); // the lane machine's timers; advanced by hand, no real wait
    const sent = await sendLane(a, { kind: 'memory', data: randomBytes(10) }, {
      clock,
      timeoutMs: 100,
      onState: (s) => s === 'working.verifying' && clock.increment(100),
    });
    expect(sent.error?.code).toBe('TIMEOUT');

    const [c, e] = duplexPair();
    const ac = new AbortController();
    const pending = receiveLane(e, { kind: 'memory' }, { signal: ac.signal });
    void c;
    ac.abort('test');
    const got = await pending;
    expect(got.error?.code).toBe('ABORTED');
  });

  it('file sink into a missing directory → SOURCE_NOT_FOUND (errno ENOENT), status 2', async () => {
    const [a, b] = duplexPair();
    const [sent, got] = await Promise.all([
      sendLane(a, { kind: 'memory', data: randomBytes(100) }),
      receiveLane(b, { kind: 'file', path: join(dir, 'no', 'such', 'dir', 'f') }),
    ]);
    expect(got.error?.code).toBe('SOURCE_NOT_FOUND');
    expect(got.status).toBe(2);
    expect(sent.error?.code).toBe('REMOTE_ERROR');
  });
});

/** Reads `n` bytes and answers `status`. */
async function rawReceiveAndAnswer(stream: DuplexStream, n: number, status: number): Promise<void> {
  const r = stream.readable.getReader();
  let got = 0;
  while (got < n) {
    const x = await r.read();
    if (x.done) break;
    got += x.value.byteLength;
  }
  const w = stream.writable.getWriter();
  await w.write(Uint8Array.of(status));
  await w.close().catch(() => undefined); // a sender that got a failure status resets the stream
}

describe('backpressure', () => {
  it('a slow receiver pauses the sender (flowing → paused → flowing) and the data stays intact', async () => {
    const data = randomBytes(6 * MiB);
    const [a, b] = duplexPair({ highWaterMark: 32 * KiB });
    const states: string[] = [];
    let pausedSeen!: () => void;
    const paused = new Promise<void>((r) => (pausedSeen = r));
    const sender = sendLane(a, { kind: 'memory', data }, {
      onState: (s) => {
        states.push(s);
        if (s === 'working.sending.streaming.paused') pausedSeen();
      },
    });
    const receiver = (async () => {
      await paused; // do not read until the sender reports the pause
      return receiveLane(b, { kind: 'memory' });
    })();
    const [sent, got] = await Promise.all([sender, receiver]);
    expect(sent.success).toBe(true);
    expect(sha(got.data!)).toBe(sha(data));
    const i = states.indexOf('working.sending.streaming.paused');
    expect(states[i - 1]).toBe('working.sending.streaming.flowing');
    expect(states.slice(i)).toContain('working.sending.streaming.flowing');
    // hysteresis: far fewer pause cycles than blocks
    expect(states.filter((s) => s === 'working.sending.streaming.paused').length).toBeLessThan(6);
  });
});

describe('transferToPeers', () => {
  it('ships to several peers in parallel, one result per peer, failures as results', async () => {
    const d = await freshDir('peers');
    const src = join(d, 'src.bin');
    const data = randomBytes(3 * MiB + 11);
    await writeFile(src, data);
    const received: Record<string, Promise<ReceiveResult>> = {};
    const openStream = async (peer: string): Promise<DuplexStream> => {
      if (peer === 'down') throw new OctopiiError('CONNECTION_REFUSED', 'connect refused');
      const [a, b] = duplexPair();
      received[peer] = receiveLane(b, { kind: 'file', path: join(d, `${peer}.bin`) }, { maxBytes: peer === 'small' ? 1000 : undefined });
      return a;
    };
    const progress: Record<string, number> = {};
    const results: TransferResult[] = await transferToPeers(openStream, { kind: 'file', path: src }, ['p1', 'p2', 'down', 'small', 'p3'], {
      onProgress: (peer, bytes) => (progress[peer] = bytes),
    });
    expect(results.map((r) => [r.peer, r.success, r.error?.code])).toEqual([
      ['p1', true, undefined],
      ['p2', true, undefined],
      ['down', false, 'CONNECTION_REFUSED'],
      ['small', false, 'REMOTE_ERROR'],
      ['p3', true, undefined],
    ]);
    for (const p of ['p1', 'p2', 'p3']) {
      expect((await received[p]!).success).toBe(true);
      expect(sha(await readFile(join(d, `${p}.bin`)))).toBe(sha(data));
      expect(progress[p]).toBe(data.byteLength);
    }
    expect((await received.small!).outcome).toBe('rejected');
  });
});
