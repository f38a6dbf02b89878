/**
 * Tags of a blob store (src/blobs/store.ts): `tags/<name>` holds a root in hex and keeps that
 * blob — and, for a collection manifest, every member (src/blobs/liveness.ts) — through gc.
 * A tag is written in tmp/, fdatasync'd, renamed in and its directory synced.
 */
import { readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { OctopiiError } from '../errors.js';
import { syncDir, writeFileSynced } from './fsutil.js';
import { rootHex } from './tree.js';

/** What a tag name may be: a file name that is no path, 1–128 characters. */
export const TAG_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/** Names `root` with tag `name` in the store at `dir` (replacing what it named), or removes the tag with `null`. Throws INVALID_ARGUMENT for a bad name. */
export async function writeTag(dir: string, name: string, root: Uint8Array | null): Promise<void> {
  if (!TAG_PATTERN.test(name)) throw new OctopiiError('INVALID_ARGUMENT', `invalid tag name ${JSON.stringify(name)}`);
  const path = join(dir, 'tags', name);
  if (root === null) return void (await rm(path, { force: true }));
  const tmp = join(dir, 'tmp', `tag-${name}`);
  await writeFileSynced(tmp, Buffer.from(rootHex(root) + '\n'), () => undefined);
  await rename(tmp, path);
  await syncDir(join(dir, 'tags'));
}

/** Every tag of the store at `dir`: name → root hex, by name. */
export async function readTags(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of (await readdir(join(dir, 'tags'))).sort()) out.set(name, (await readFile(join(dir, 'tags', name), 'utf8')).trim());
  return out;
}
