/**
 * The lane's receiver hardening and backpressure, on the real implementation with real files:
 * the pumps hold at most `maxBlocksInFlight` blocks because the machine pauses them (these
 * rows fail if `paused` stops pausing), a verified blob survives a peer that re-sends it and
 * leaves, a stalled stream holds no file, extra bytes are refused, and the reason frame
 * (docs/PROTOCOL.md "Lane reasons") matches its golden vector.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActor, type AnyActorLogic, type AnyActorRef } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeLaneHeader, receiveLane, sendLane, type LaneSinkHandle } from '../../src/lane/index.js';
import { decodeLaneReasonBody, decodeLaneReasonLength, encodeLaneReason } from '../../src/lane/reason.js';
import { sharedHashPool } from '../../src/hash/index.js';
import { OctopiiError } from '../../src/errors.js';
import type { DuplexStream } from '../../src/transport/types.js';
import { duplexPair } from '../helpers/duplexPair.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest();
const pool = sharedHashPool();
let dir: string;
beforeAll(async () => {
  pool.retain();
  dir = await mkdtemp(join(tmpdir(), 'octopii-lane-hard-'));
});
afterAll(async () => {
  await pool.release();
  await rm(dir, { recursive: true, force: true });
});

async function freshDir(name: string): Promise<string> {
  const d = join(dir, name);
  await mkdir(d, { recursive: true });
  return d;
}

/** `inner` with a writable that counts the bytes handed to it and not yet accepted by `inner` (the pump's bytes in flight). */
function countingWrites(inner: DuplexStream): { stream: DuplexStream; maxHeld: () => number } {
  const w = inner.writable.getWriter();
  let held = 0;
  let max = 0;
  const writable = new WritableStream<Uint8Array>(
    {
      async write(chunk) {
        await w.write(chunk);
        held -= chunk.byteLength;
      },
      close: () => w.close(),
      abort: (r) => w.abort(r),
    },
    {
      highWaterMark: Number.POSITIVE_INFINITY,
      size: (chunk: Uint8Array) => {
        held += chunk.byteLength; // called as the pump calls write()
        max = Math.max(max, held);
        return chunk.byteLength;
      },
    },
  );
  return { stream: { id: inner.id, readable: inner.readable, writable, abort: (r) => inner.abort(r) }, maxHeld: () => max };
}

/** `inner` with a readable that counts the bytes the receiver pulled (pulled only on demand); `onPull` after each chunk. */
function countingReads(inner: DuplexStream, onPull: (pulled: number) => void): { stream: DuplexStream; pulled: () => number } {
  let pulled = 0;
  const readable = inner.readable.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>(
      {
        transform(chunk, c) {
          pulled += chunk.byteLength;
          onPull(pulled);
          c.enqueue(chunk);
        },
      },
      { highWaterMark: 1 }, // one chunk queued in front of the transform (0 would never let pipeTo write)
      { highWaterMark: 0 },
    ),
  );
  return { stream: { id: inner.id, readable, writable: inner.writable, abort: (r) => inner.abort(r) }, pulled: () => pulled };
}

describe('backpressure is the machine’s', () => {
  it('sender: a slow reader never gets more than maxBlocksInFlight blocks pushed at it', async () => {
    const block = 256 * KiB;
    const maxInFlight = 2;
    const data = randomBytes(8 * MiB);
    const [a, b] = duplexPair({ highWaterMark: 16 * KiB });
    const counted = countingWrites(a);
    const states: string[] = [];
    const reader = (async () => {
      const r = b.readable.getReader();
      for (let got = 0; got < 8 + data.byteLength + 32; ) {
        const x = await r.read();
        if (x.done) break;
        got += x.value.byteLength;
        if (got % (256 * KiB) < 16 * KiB) await new Promise((res) => setTimeout(res, 1)); // slow
      }
      const w = b.writable.getWriter();
      await w.write(Uint8Array.of(0));
      await w.close();
    })();
    const [sent] = await Promise.all([
      sendLane(counted.stream, { kind: 'memory', data }, { blockBytes: block, maxBlocksInFlight: maxInFlight, onState: (s) => states.push(s) }),
      reader,
    ]);
    expect(counted.maxHeld()).toBeLessThanOrEqual(maxInFlight * block + 8 + 32);
    expect(sent.success).toBe(true);
    expect(states).toContain('working.sending.streaming.paused');
  });

  it('receiver: a slow sink never has more than maxBlocksInFlight blocks read ahead of it', async () => {
    const block = 64 * KiB;
    const maxInFlight = 2;
    const data = randomBytes(3 * MiB);
    const [a, b] = duplexPair({ highWaterMark: 16 * KiB });
    let written = 0;
    let maxAhead = 0;
    // the bytes read ahead of the sink only grow when a chunk is pulled: measure exactly then
    const counted = countingReads(b, (pulled) => (maxAhead = Math.max(maxAhead, pulled - 8 - written)));
    const sink = {
      kind: 'custom' as const,
      open: async (): Promise<LaneSinkHandle> => ({
        async write(chunk) {
          await new Promise((r) => setTimeout(r, 2)); // slow disk
          written += chunk.byteLength;
        },
        async commit() {},
        async discard() {},
      }),
    };
    const states: string[] = [];
    const [sent, got] = await Promise.all([
      sendLane(a, { kind: 'memory', data }),
      receiveLane(counted.stream, sink, { blockBytes: block, maxBlocksInFlight: maxInFlight, onState: (s) => states.push(s) }),
    ]);
    // blocks waiting for the sink + the one being filled + two network chunks of slack (counter's queue)
    expect(maxAhead).toBeLessThanOrEqual((maxInFlight + 1) * block + 32 * KiB);
    expect(sent.success && got.success).toBe(true);
    expect(states).toContain('receiving.streaming.paused');
  });
});

describe('the receiver writes the network’s chunks without coalescing them first', () => {
  it('uneven network chunks reach a custom sink as blocks of blockBytes (the last shorter), in order, each its own buffer', async () => {
    const block = 64 * KiB;
    const data = randomBytes(5 * block + 1234);
    const [a, b] = duplexPair();
    const blocks: Uint8Array[] = [];
    const sink = {
      kind: 'custom' as const,
      open: async (): Promise<LaneSinkHandle> => ({
        async write(chunk) {
          blocks.push(chunk); // kept, not copied: the lane never reuses a block
        },
        async commit() {},
        async discard() {},
      }),
    };
    const peer = (async () => {
      const w = a.writable.getWriter();
      await w.write(encodeLaneHeader(data.byteLength));
      const cuts = [1, 7_000, 65_535, 100_000, 3]; // never a block boundary
      for (let off = 0, i = 0; off < data.byteLength; i++) {
        const n = Math.min(cuts[i % cuts.length]!, data.byteLength - off);
        await w.write(data.subarray(off, off + n));
        off += n;
      }
      await w.write(sha(data));
      await w.close();
      const r = a.readable.getReader();
      return (await r.read()).value?.[0];
    })();
    const got = await receiveLane(b, sink, { blockBytes: block });
    expect(await peer).toBe(0);
    expect(got.success).toBe(true);
    expect(blocks.map((x) => x.byteLength)).toEqual([block, block, block, block, block, 1234]);
    expect(Buffer.concat(blocks).equals(data)).toBe(true);
  });
});

describe('a verified blob is never removed', () => {
  it('a peer that re-sends content the receiver holds and stops reading leaves the blob in place', async () => {
    const d = await freshDir('blob-kept');
    const data = randomBytes(MiB + 3);
    const name = sha(data).toString('hex');
    await writeFile(join(d, name), data); // already held
    const [a, b] = duplexPair();
    const peer = (async () => {
      const w = a.writable.getWriter();
      await a.readable.cancel(new OctopiiError('STREAM_ABORTED', 'not listening')); // never reads the status
      await w.write(encodeLaneHeader(data.byteLength));
      await w.write(data);
      await w.write(sha(data));
      await w.close();
    })();
    const [, got] = await Promise.all([peer, receiveLane(b, { kind: 'blob', dir: d })]);
    expect(got.success).toBe(false);
    expect(got.status).toBeNull(); // the status could not be delivered
    expect(got.path).toBe(join(d, name)); // … but the verified data is stored
    expect(await readdir(d)).toEqual([name]);
    expect(sha(await readFile(join(d, name)))).toEqual(sha(data));
  });

  it('an abort after the commit keeps the file, and a failed transfer never touches an existing blob', async () => {
    const d = await freshDir('blob-abort');
    const data = randomBytes(5000);
    const name = sha(data).toString('hex');
    await writeFile(join(d, name), data);
    // true hash, wrong data → status 1: the existing blob of the true hash stays
    const bad = Uint8Array.from(data);
    bad[7]! ^= 1;
    const [a, b] = duplexPair();
    const peer = (async () => {
      const w = a.writable.getWriter();
      await w.write(encodeLaneHeader(bad.byteLength));
      await w.write(bad);
      await w.write(sha(data));
      await w.close();
      return (await a.readable.getReader().read()).value?.[0];
    })();
    const [status, got] = await Promise.all([peer, receiveLane(b, { kind: 'blob', dir: d })]);
    expect(status).toBe(1);
    expect(got.error?.code).toBe('CHECKSUM_MISMATCH');
    expect(await readdir(d)).toEqual([name]);
    // abort once acknowledging: the file stays
    const [c, e] = duplexPair();
    const ac = new AbortController();
    const [, got2] = await Promise.all([
      sendLane(c, { kind: 'memory', data }),
      receiveLane(e, { kind: 'blob', dir: d }, { signal: ac.signal, onState: (s) => s === 'acknowledging' && ac.abort('late') }),
    ]);
    expect(got2.error?.code).toBe('ABORTED');
    expect(got2.path).toBe(join(d, name));
    expect(sha(await readFile(join(d, name)))).toEqual(sha(data));
  });
});

describe('receiver hardening', () => {
  it('a stream that announces a size and stalls holds no file', async () => {
    const d = await freshDir('stall');
    const [a, b] = duplexPair();
    const ac = new AbortController();
    const w = a.writable.getWriter();
    await w.write(encodeLaneHeader(10 * MiB));
    let streaming!: () => void;
    const reached = new Promise<void>((r) => (streaming = r));
    const pending = receiveLane(b, { kind: 'file', path: join(d, 'out') }, { signal: ac.signal, onState: (s) => s === 'receiving.streaming.flowing' && streaming() });
    await reached;
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(await readdir(d)).toEqual([]); // header in, no data byte: no temp file
    await w.write(Uint8Array.of(1)); // the first data byte opens the file
    while ((await readdir(d)).length === 0) await new Promise((r) => setTimeout(r, 2));
    ac.abort(new OctopiiError('UNAVAILABLE', 'peer dead'));
    const got = await pending;
    expect(got.error?.code).toBe('UNAVAILABLE');
    expect(await readdir(d)).toEqual([]); // discarded
  });

  it('a receive stopped from outside (its supervisor stopping) resolves ABORTED with its temp file gone', async () => {
    const d = await freshDir('stopped');
    const [a, b] = duplexPair();
    const w = a.writable.getWriter();
    await w.write(encodeLaneHeader(10 * MiB));
    await w.write(randomBytes(MiB));
    let spawned: AnyActorRef | undefined;
    const spawn = (logic: AnyActorLogic, input?: unknown) => (spawned = createActor(logic, { input }).start());
    const pending = receiveLane(b, { kind: 'file', path: join(d, 'out') }, { spawn });
    while ((await readdir(d)).length === 0) await new Promise((r) => setTimeout(r, 2));
    spawned!.stop();
    const got = await pending;
    expect(got.error?.code).toBe('ABORTED');
    expect(await readdir(d)).toEqual([]); // removed before the result, not after
  });

  it('more than size + 32 bytes → status 2, nothing stored', async () => {
    const d = await freshDir('excess');
    const data = randomBytes(1000);
    const [a, b] = duplexPair();
    const peer = (async () => {
      const w = a.writable.getWriter();
      await w.write(Buffer.concat([encodeLaneHeader(data.byteLength), data, sha(data), Uint8Array.of(0)]));
      await w.close();
      return (await a.readable.getReader().read()).value?.[0];
    })();
    const [status, got] = await Promise.all([peer, receiveLane(b, { kind: 'file', path: join(d, 'out') })]);
    expect(status).toBe(2);
    expect(got.error?.code).toBe('PROTOCOL_ERROR');
    expect(await readdir(d)).toEqual([]);
  });

  it('reasons on both sides: the sender reports the receiver’s SIZE_LIMIT instead of REMOTE_ERROR', async () => {
    const [a, b] = duplexPair();
    const [sent, got] = await Promise.all([
      sendLane(a, { kind: 'memory', data: randomBytes(5000) }, { reasons: true }),
      receiveLane(b, { kind: 'memory' }, { reasons: true, maxBytes: 100 }),
    ]);
    expect(got.outcome).toBe('rejected');
    expect(sent.error).toMatchObject({ code: 'SIZE_LIMIT', origin: 'remote' });
    expect(sent.error?.message).toMatch(/exceeds the cap of 100 bytes/);
  });
});

describe('reason frame (docs/PROTOCOL.md "Lane reasons")', () => {
  const golden = '00 30 7b 22 63 6f 64 65 22 3a 32 30 35 2c 22 6d 65 73 73 61 67 65 22 3a 22 6e 6f 20 73 70 61 63 65 20 6c 65 66 74 20 6f 6e 20 64 65 76 69 63 65 22 7d';

  it('encodes DISK_FULL "no space left on device" as the golden vector', () => {
    const frame = encodeLaneReason({ code: 'DISK_FULL', message: 'no space left on device' });
    expect(Buffer.from(frame).toString('hex').match(/../g)!.join(' ')).toBe(golden);
  });

  it('decodes the golden vector to a remote DISK_FULL; unknown codes → UNKNOWN; junk → PROTOCOL_ERROR', () => {
    const bytes = Buffer.from(golden.replaceAll(' ', ''), 'hex');
    expect(decodeLaneReasonLength(bytes.subarray(0, 2))).toBe(48);
    expect(decodeLaneReasonBody(bytes.subarray(2))).toEqual({ code: 'DISK_FULL', message: 'no space left on device', origin: 'remote' });
    expect(decodeLaneReasonBody(Buffer.from('{"code":65000,"message":"x"}')).code).toBe('UNKNOWN');
    expect(() => decodeLaneReasonBody(Buffer.from('{"code":'))).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
  });
});
