/**
 * DirSync (src/blobs/fsutil.ts): directory fsyncs with group commit — calls that come together
 * share one fsync, and a call made while one runs waits for the next (its rename is not covered
 * by an fsync that began before it).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirSync } from '../../src/blobs/fsutil.js';

describe('DirSync', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'octopii-dirsync-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('calls made together share one fsync', async () => {
    const d = new DirSync(dir);
    const a = d.sync();
    const b = d.sync();
    await Promise.all([a, b]);
    expect(a).toBe(b);
  });

  it('a call made while an fsync runs gets the next one, shared with later calls, which ends after it', async () => {
    const d = new DirSync(dir);
    const order: string[] = [];
    const first = d.sync();
    void first.then(() => order.push('first'));
    await new Promise((r) => setImmediate(r)); // the first fsync has started
    const second = d.sync();
    const third = d.sync();
    void second.then(() => order.push('second'));
    await Promise.all([first, second, third]);
    expect({ order, secondIsNew: second !== first, thirdShares: third === second }).toEqual({ order: ['first', 'second'], secondIsNew: true, thirdShares: true });
  });
});
