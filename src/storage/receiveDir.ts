/**
 * The directory a node receives files into (`octopii serve --dir`, config `receiveDir`): checked
 * before the node starts, so a directory that cannot take a file fails at startup with one clear
 * error instead of failing every transfer later, and swept of the temporary files a crashed
 * receiver left behind.
 *
 *   const dir = await prepareReceiveDir('./inbox');        // absolute path, created if missing
 *   const { files, bytes } = await cleanStaleParts(dir);   // removed leftovers, for a log line
 */
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { OctopiiError, toOctopiiError } from '../errors.js';

/** The file operations used here; tests pass one that fails like a read-only disk. */
export interface ReceiveDirFs {
  /** Creates one directory (not recursive). */
  mkdir: (path: string) => Promise<unknown>;
  stat: (path: string) => Promise<{ isDirectory(): boolean; isFile(): boolean; size: number }>;
  lstat: (path: string) => Promise<{ isSymbolicLink(): boolean }>;
  writeFile: (path: string, data: string, options: { flag: 'wx'; mode: number }) => Promise<void>;
  rm: (path: string, options: { force: true }) => Promise<void>;
  readdir: (path: string) => Promise<string[]>;
}

const nodeFs: ReceiveDirFs = {
  mkdir: (p) => fsp.mkdir(p),
  stat: (p) => fsp.stat(p),
  lstat: (p) => fsp.lstat(p),
  writeFile: (p, d, o) => fsp.writeFile(p, d, o),
  rm: (p, o) => fsp.rm(p, o),
  readdir: (p) => fsp.readdir(p),
};

const reasonOf = (e: unknown): string => {
  const err = e as NodeJS.ErrnoException;
  const text: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded',
    ENOTDIR: 'a parent of it is not a directory',
    ENOENT: 'no such file or directory',
  };
  return err?.code ? `${text[err.code] ?? err.message} (${err.code})` : String((e as Error)?.message ?? e);
};

/**
 * `mkdir -p`, one level at a time. Not `mkdir(path, { recursive: true })`: on Node 20 that never
 * settles when the file system answers ENOENT under an existing parent (measured with `/proc/x`
 * on Node 20.20.2), which would hang `serve` at startup. Throws the errno error of the level that
 * failed; EEXIST when `path` exists and is not a directory.
 */
async function makeDirs(path: string, fs: ReceiveDirFs): Promise<void> {
  try {
    await fs.mkdir(path);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && (await fs.stat(path).then((s) => s.isDirectory(), () => false))) return;
    if (code !== 'ENOENT') throw e;
    const parent = dirname(path);
    // A parent that exists (or the root): the file system refuses this directory itself.
    if (parent === path || (await fs.stat(parent).then(() => true, () => false))) throw e;
  }
  await makeDirs(dirname(path), fs);
  await makeDirs(path, fs);
}

/**
 * Makes `dir` ready to receive into and returns its absolute path: creates it (and its parents)
 * if missing, then proves it takes files by creating and removing a probe file
 * (`.octopii-probe.<hex>`) — the only check that also sees read-only mounts, ACLs and root.
 *
 * Throws an OctopiiError whose message names the path and the reason:
 * NOT_A_DIRECTORY (`dir` is a file, a dangling symbolic link, or a parent of it is not a
 * directory), PERMISSION_DENIED (cannot be created or written: EACCES, EPERM, EROFS), DISK_FULL
 * (ENOSPC, EDQUOT), IO_ERROR otherwise (e.g. ENOENT from a file system that refuses the mkdir).
 */
export async function prepareReceiveDir(dir: string, fs: ReceiveDirFs = nodeFs): Promise<string> {
  const path = resolve(dir);
  try {
    await makeDirs(path, fs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const cannot = `cannot create receive directory ${path}`;
    const dangling = async () =>
      (await fs.lstat(path).then((s) => s.isSymbolicLink(), () => false)) && !(await fs.stat(path).then(() => true, () => false));
    if ((code === 'EEXIST' || code === 'ENOENT') && (await dangling())) {
      throw new OctopiiError('NOT_A_DIRECTORY', `receive directory ${path} is a symbolic link to a missing target`, { cause: e });
    }
    if (code === 'EEXIST') throw new OctopiiError('NOT_A_DIRECTORY', `receive directory ${path} exists and is not a directory`, { cause: e });
    if (code === 'ENOTDIR') throw new OctopiiError('NOT_A_DIRECTORY', `${cannot}: a parent of it is not a directory (ENOTDIR)`, { cause: e });
    if (code === 'ENOENT') throw new OctopiiError('IO_ERROR', `${cannot}: ${reasonOf(e)}`, { cause: e });
    throw new OctopiiError(toOctopiiError(e).code, `${cannot}: ${reasonOf(e)}`, { cause: e });
  }
  const st = await fs.stat(path).catch((e: unknown) => {
    throw new OctopiiError(toOctopiiError(e).code, `cannot use receive directory ${path}: ${reasonOf(e)}`, { cause: e });
  });
  if (!st.isDirectory()) throw new OctopiiError('NOT_A_DIRECTORY', `receive directory ${path} is not a directory`);
  const probe = join(path, `.octopii-probe.${randomBytes(6).toString('hex')}`);
  try {
    await fs.writeFile(probe, '', { flag: 'wx', mode: 0o600 });
  } catch (e) {
    throw new OctopiiError(toOctopiiError(e).code, `cannot write to receive directory ${path}: ${reasonOf(e)}`, { cause: e });
  }
  try {
    await fs.rm(probe, { force: true });
  } catch (e) {
    throw new OctopiiError(toOctopiiError(e).code, `cannot remove files in receive directory ${path}: ${reasonOf(e)}`, { cause: e });
  }
  return path;
}

/**
 * Names of the temporary files a blob receive writes in its directory before the checksum is
 * verified (src/lane/sink.ts `fileSink(dir, 'incoming', …)`: `.incoming.<12 hex>.part`).
 * Keep in step with that file.
 */
export const STALE_PART = /^\.incoming\.[0-9a-f]{12}\.part$/;

/**
 * Removes the unfinished receives (`.incoming.<hex>.part`, see {@link STALE_PART}) left in `dir`
 * by a receiver that crashed or was killed, and nothing else. Call it before the node that owns
 * `dir` starts receiving: a second receiver running on the same directory would lose its
 * in-progress files. Returns how many files and bytes were removed. Throws like `readdir`
 * (through toOctopiiError); a file that vanished meanwhile is skipped.
 */
export async function cleanStaleParts(dir: string, fs: ReceiveDirFs = nodeFs): Promise<{ files: number; bytes: number }> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    throw toOctopiiError(e);
  }
  let files = 0;
  let bytes = 0;
  for (const name of names) {
    if (!STALE_PART.test(name)) continue;
    const file = join(dir, name);
    const st = await fs.stat(file).catch(() => undefined);
    if (!st?.isFile()) continue;
    try {
      await fs.rm(file, { force: true });
    } catch (e) {
      throw new OctopiiError(toOctopiiError(e).code, `cannot remove stale ${file}: ${reasonOf(e)}`, { cause: e });
    }
    files++;
    bytes += st.size;
  }
  return { files, bytes };
}
