/**
 * The receive directory checks `octopii serve` runs before it starts (src/storage/receiveDir.ts):
 * real directories for what root can produce, a file-layer seam for read-only and full disks
 * (root ignores mode bits; test/integration/cli.test.ts adds a real read-only bind mount).
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { mkdtemp, readdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanStaleParts, prepareReceiveDir, STALE_PART, type ReceiveDirFs } from '../../src/storage/receiveDir.js';
import { OctopiiError } from '../../src/errors.js';

const temp = () => mkdtemp(join(tmpdir(), 'octopii-recvdir-'));

const errno = (code: string, syscall: string, path: string): NodeJS.ErrnoException =>
  Object.assign(new Error(`${code}: ${syscall} '${path}'`), { code, syscall, path });

/** The real file system, except `override`. */
const fsWith = (override: Partial<ReceiveDirFs>): ReceiveDirFs => ({
  mkdir: (p) => fsp.mkdir(p),
  stat: (p) => fsp.stat(p),
  lstat: (p) => fsp.lstat(p),
  writeFile: (p, d, o) => fsp.writeFile(p, d, o),
  rm: (p, o) => fsp.rm(p, o),
  readdir: (p) => fsp.readdir(p),
  ...override,
});

async function failure(p: Promise<unknown>): Promise<OctopiiError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(OctopiiError);
  return e as OctopiiError;
}

describe('prepareReceiveDir', () => {
  it('creates a missing directory (and its parents), returns its absolute path, leaves no probe behind', async () => {
    const root = await temp();
    const dir = join(root, 'a', 'b', 'inbox');
    expect(await prepareReceiveDir(dir)).toBe(dir);
    expect((await fsp.stat(dir)).isDirectory()).toBe(true);
    expect(await readdir(dir)).toEqual([]);
    expect(await prepareReceiveDir(dir)).toBe(dir); // an existing one is fine too
  });

  it('refuses a regular file with NOT_A_DIRECTORY naming the path', async () => {
    const root = await temp();
    const file = join(root, 'inbox');
    await writeFile(file, 'x');
    const e = await failure(prepareReceiveDir(file));
    expect(e.code).toBe('NOT_A_DIRECTORY');
    expect(e.message).toBe(`receive directory ${file} exists and is not a directory`);
  });

  it('a directory that cannot be created (a parent is a file, a dangling link) is NOT_A_DIRECTORY, not SOURCE_NOT_FOUND', async () => {
    const root = await temp();
    await writeFile(join(root, 'file'), 'x');
    const under = await failure(prepareReceiveDir(join(root, 'file', 'inbox')));
    expect(under.code).toBe('NOT_A_DIRECTORY');
    expect(under.message).toContain(`cannot create receive directory ${join(root, 'file', 'inbox')}: a parent of it is not a directory`);
    await symlink(join(root, 'missing', 'target'), join(root, 'dangling'));
    const dangling = await failure(prepareReceiveDir(join(root, 'dangling')));
    expect(dangling.code).toBe('NOT_A_DIRECTORY');
    expect(dangling.message).toContain('symbolic link to a missing target');
  });

  it.skipIf(!existsSync('/proc/self'))('a directory the file system refuses (/proc) fails with the reason instead of hanging', async () => {
    const dir = '/proc/octopii-test/inbox';
    const e = await failure(prepareReceiveDir(dir));
    expect(e.code).toBe('IO_ERROR');
    expect(e.message).toBe(`cannot create receive directory ${dir}: no such file or directory (ENOENT)`);
  }, 5_000);

  it('a read-only directory is PERMISSION_DENIED, found by really writing a probe file', async () => {
    const dir = await temp();
    const fs = fsWith({ writeFile: async (p) => Promise.reject(errno('EROFS', 'open', p)) });
    const e = await failure(prepareReceiveDir(dir, fs));
    expect(e.code).toBe('PERMISSION_DENIED');
    expect(e.message).toBe(`cannot write to receive directory ${dir}: read-only file system (EROFS)`);
  });

  it('an unwritable one is PERMISSION_DENIED, a full disk DISK_FULL, an uncreatable one names the reason', async () => {
    const dir = await temp();
    const eacces = await failure(prepareReceiveDir(dir, fsWith({ writeFile: async (p) => Promise.reject(errno('EACCES', 'open', p)) })));
    expect([eacces.code, eacces.message]).toEqual(['PERMISSION_DENIED', `cannot write to receive directory ${dir}: permission denied (EACCES)`]);
    const full = await failure(prepareReceiveDir(dir, fsWith({ writeFile: async (p) => Promise.reject(errno('ENOSPC', 'open', p)) })));
    expect(full.code).toBe('DISK_FULL');
    const mk = await failure(prepareReceiveDir(join(dir, 'new'), fsWith({ mkdir: async (p) => Promise.reject(errno('EACCES', 'mkdir', p)) })));
    expect([mk.code, mk.message]).toEqual(['PERMISSION_DENIED', `cannot create receive directory ${join(dir, 'new')}: permission denied (EACCES)`]);
  });
});

describe('cleanStaleParts', () => {
  it("removes only the blob sink's own .incoming.<12 hex>.part files and counts them", async () => {
    const dir = await temp();
    const stale = ['.incoming.0123456789ab.part', '.incoming.ffffffffffff.part'];
    await writeFile(join(dir, stale[0]!), Buffer.alloc(1000));
    await writeFile(join(dir, stale[1]!), Buffer.alloc(24));
    const kept = ['.incoming.xyz.part', '.incoming.0123456789ab.part.bak', 'incoming.0123456789ab.part', 'a'.repeat(64), '.big.iso.0123456789ab.part'];
    for (const k of kept) await writeFile(join(dir, k), 'keep');
    await fsp.mkdir(join(dir, '.incoming.aaaaaaaaaaaa.part')); // not a file: kept
    expect(stale.every((s) => STALE_PART.test(s))).toBe(true);
    expect(await cleanStaleParts(dir)).toEqual({ files: 2, bytes: 1024 });
    expect((await readdir(dir)).sort()).toEqual([...kept, '.incoming.aaaaaaaaaaaa.part'].sort());
    expect(await cleanStaleParts(dir)).toEqual({ files: 0, bytes: 0 });
  });
});
