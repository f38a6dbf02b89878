/**
 * The file sink's early write-back (src/lane/sink.ts SINK_WRITEBACK_BYTES): background
 * fdatasyncs while the writes go on leave the stored file byte-identical, and a discard while
 * one runs removes the temporary file.
 */
import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSink, SINK_WRITEBACK_BYTES } from '../../src/lane/sink.js';

const BLOCK = 1 << 20;
const SIZE = 2 * SINK_WRITEBACK_BYTES + 3 * BLOCK + 123; // two write-backs and a tail

describe('file sink write-back', () => {
  it(`a ${SIZE}-byte blob written in 1 MiB blocks is stored byte for byte under its SHA-256`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'octopii-sink-'));
    try {
      const data = randomBytes(SIZE);
      const sha256 = createHash('sha256').update(data).digest('hex');
      const sink = await openSink({ kind: 'blob', dir }, SIZE);
      for (let off = 0; off < SIZE; off += BLOCK) await sink.write(data.subarray(off, Math.min(off + BLOCK, SIZE)));
      await sink.commit(sha256);
      expect(sink.result()).toEqual({ path: join(dir, sha256) });
      expect(await readdir(dir)).toEqual([sha256]);
      expect(createHash('sha256').update(await readFile(join(dir, sha256))).digest('hex')).toBe(sha256);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writev of uneven chunks (as the network hands them out) stores them in order, byte for byte', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'octopii-sink-'));
    try {
      const data = randomBytes(SIZE);
      const sha256 = createHash('sha256').update(data).digest('hex');
      const sink = await openSink({ kind: 'blob', dir }, SIZE);
      const cuts = [0, 1, 1, 16_384, 100_000, 262_144, 7]; // an empty chunk too
      let off = 0;
      for (let i = 0; off < SIZE; i++) {
        const batch: Uint8Array[] = [];
        for (const n of cuts) {
          batch.push(data.subarray(off, Math.min(off + n + i, SIZE)));
          off = Math.min(off + n + i, SIZE);
        }
        await sink.writev(batch);
      }
      await sink.commit(sha256);
      expect(createHash('sha256').update(await readFile(join(dir, sha256))).digest('hex')).toBe(sha256);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a discard right after a write-back started leaves nothing behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'octopii-sink-'));
    try {
      const sink = await openSink({ kind: 'blob', dir }, 2 * SINK_WRITEBACK_BYTES);
      const block = randomBytes(BLOCK);
      for (let off = 0; off < SINK_WRITEBACK_BYTES; off += BLOCK) await sink.write(block); // the last write starts one
      await sink.discard();
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
