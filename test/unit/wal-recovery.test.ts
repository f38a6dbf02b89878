/**
 * Recovery on real files: a torn tail cut at every byte offset of the last records recovers to
 * the last whole record (and the WAL appends after it); a flipped bit in a middle record is
 * WAL_CORRUPT naming the segment and offset, never skipped.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { copyFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Wal } from '../../src/wal/index.js';
import { isOctopiiError } from '../../src/errors.js';
import { cleanupWalDirs, makeEntries, rows, segmentFiles, walTempDir } from '../helpers/walFixtures.js';

afterEach(cleanupWalDirs);

/** A WAL of entries 1…n, one batch (frame) per entry; resolves with each frame's end offset. */
async function oneFramePerEntry(dir: string, n: number, segmentBytes?: number): Promise<{ file: string; ends: number[] }> {
  const { wal } = await Wal.open(dir, segmentBytes ? { segmentBytes } : {});
  const ends: number[] = [];
  for (let i = 1; i <= n; i++) {
    await wal.append(makeEntries(i, i, 1, 40 + i));
    const files = await segmentFiles(dir);
    ends.push((await stat(join(dir, files.at(-1)!))).size);
  }
  await wal.close();
  return { file: (await segmentFiles(dir)).at(-1)!, ends };
}

const expectCorrupt = async (p: Promise<unknown>, segment: string, offset: number) => {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(isOctopiiError(e, 'WAL_CORRUPT'), String(e)).toBe(true);
  expect((e as Error).message).toContain(segment);
  expect((e as Error).message).toContain(`offset ${offset}`);
};

describe('Wal recovery', () => {
  it('a torn tail cut at every byte of the last 3 records recovers to the last whole record, and appends after it', async () => {
    const src = await walTempDir();
    const { file, ends } = await oneFramePerEntry(src, 12);
    const whole = await readFile(join(src, file));
    const dir = await walTempDir();
    const start = ends[ends.length - 4]!;
    let cuts = 0;
    for (let cut = start; cut <= whole.byteLength; cut++) {
      await writeFile(join(dir, file), whole.subarray(0, cut));
      const lastWhole = ends.filter((e) => e <= cut).length; // entries whose frame is whole
      const { wal, recovered } = await Wal.open(dir);
      expect(recovered.entries.length, `cut at ${cut}`).toBe(lastWhole);
      expect(recovered.tornBytes).toBe(cut - (ends[lastWhole - 1] ?? 0));
      expect(rows(recovered.entries)).toEqual(rows(Array.from({ length: lastWhole }, (_, k) => makeEntries(k + 1, k + 1, 1, 41 + k)[0]!)));
      await wal.append(makeEntries(lastWhole + 1, lastWhole + 1, 2));
      await wal.close();
      const again = await Wal.open(dir);
      expect(again.recovered.entries.map((e) => [e.index, e.term]).at(-1)).toEqual([lastWhole + 1, 2]);
      expect(again.recovered.tornBytes).toBe(0);
      await again.wal.close();
      cuts++;
    }
    expect(cuts).toBeGreaterThan(150);
  });

  it('zeros after the last record (an extended, never-written tail) are a torn tail', async () => {
    const dir = await walTempDir();
    const { file, ends } = await oneFramePerEntry(dir, 3);
    await writeFile(join(dir, file), Buffer.concat([await readFile(join(dir, file)), Buffer.alloc(4096)]));
    const { wal, recovered } = await Wal.open(dir);
    expect(recovered.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    expect(recovered.tornBytes).toBe(4096);
    expect((await stat(join(dir, file))).size).toBe(ends.at(-1));
    await wal.close();
  });

  it('a flipped bit anywhere in a middle record is WAL_CORRUPT naming the segment and offset', async () => {
    const src = await walTempDir();
    const { file, ends } = await oneFramePerEntry(src, 8);
    const whole = await readFile(join(src, file));
    const dir = await walTempDir();
    const frameAt = ends[3]!; // the 5th entry's frame: 4 whole frames follow it
    const frameEnd = ends[4]!;
    // every byte of the frame's header, and a spread of its payload
    const offsets = [...Array.from({ length: 12 }, (_, k) => frameAt + k), frameAt + 13, frameAt + 20, frameAt + 30, frameEnd - 1];
    for (const off of offsets) {
      for (const bit of [0, 7]) {
        const bad = Buffer.from(whole);
        bad[off]! ^= 1 << bit;
        await writeFile(join(dir, file), bad);
        await expectCorrupt(Wal.open(dir), file, frameAt);
      }
    }
    // and the file is left as it was: nothing was cut
    expect((await stat(join(dir, file))).size).toBe(whole.byteLength);
  });

  it("a bad header frame (offset 0) of the last segment is WAL_CORRUPT, not a torn tail", async () => {
    const dir = await walTempDir();
    const { wal } = await Wal.open(dir);
    await wal.close(); // a segment with its header frame only
    const [file] = await segmentFiles(dir);
    const buf = await readFile(join(dir, file!));
    buf[buf.byteLength - 1]! ^= 0x04;
    await writeFile(join(dir, file!), buf);
    await expectCorrupt(Wal.open(dir), file!, 0);
  });

  it('a bad record in a segment before the last is WAL_CORRUPT, even at its end', async () => {
    const dir = await walTempDir();
    await oneFramePerEntry(dir, 30, 1024);
    const files = await segmentFiles(dir);
    expect(files.length).toBeGreaterThan(2);
    const victim = join(dir, files[1]!);
    const buf = await readFile(victim);
    buf[buf.byteLength - 3]! ^= 0x10;
    await writeFile(victim, buf);
    const e = await Wal.open(dir, { segmentBytes: 1024 }).catch((x: unknown) => x);
    expect(isOctopiiError(e, 'WAL_CORRUPT')).toBe(true);
    expect((e as Error).message).toContain(files[1]);
    expect((e as Error).message).toContain('not the last segment');
  });

  it('recovers across segments; a missing middle segment is WAL_CORRUPT', async () => {
    const dir = await walTempDir();
    await oneFramePerEntry(dir, 30, 1024);
    const { wal, recovered } = await Wal.open(dir, { segmentBytes: 1024 });
    expect(recovered.entries.map((e) => e.index)).toEqual(Array.from({ length: 30 }, (_, k) => k + 1));
    await wal.close();
    const files = await segmentFiles(dir);
    const holed = await walTempDir();
    for (const f of files) if (f !== files[1]) await copyFile(join(dir, f), join(holed, f));
    const e = await Wal.open(holed).catch((x: unknown) => x);
    expect(isOctopiiError(e, 'WAL_CORRUPT')).toBe(true);
    expect((e as Error).message).toMatch(/missing/);
  });

  it('a leftover temporary segment of an interrupted rotation is removed at open', async () => {
    const dir = await walTempDir();
    await oneFramePerEntry(dir, 2);
    await writeFile(join(dir, '0000000000000001-0000000000000003.wal.tmp'), Buffer.alloc(100));
    const { wal, recovered } = await Wal.open(dir);
    expect(recovered.entries.length).toBe(2);
    expect(await readdir(dir)).toEqual(['0000000000000000-0000000000000001.wal']);
    await wal.append(makeEntries(3, 3));
    await wal.close();
  });
});
