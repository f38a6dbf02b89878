/**
 * Collections: a directory as one blob — a manifest listing `{ path, root, size }` per file —
 * so a tree of files is named, fetched and verified by one root (iroh-blobs' `Collection` /
 * HashSeq is the model). The manifest is canonical JSON (UTF-8, entries sorted by path):
 *
 * ```json
 * {"octopii-collection":1,"entries":[{"path":"a/b.txt","root":"<64 hex>","size":12},{"path":"run.sh","root":"…","size":80,"mode":493}]}
 * ```
 * `mode` (optional, 0o755 = 493 or 0o644 = 420) keeps the executable bit: a file any of whose
 * execute bits was set is 0o755, others have no `mode` (written 0o644); no other bits travel.
 * Paths are relative, '/'-separated; a manifest with an absolute path, a `..`, `.` or empty
 * segment, a backslash or NUL, or duplicate paths is refused (INVALID_ARGUMENT) before anything
 * is written — a collection from a peer can never write outside the export directory.
 * `addDirectory` and `addPaths` tag the manifest `tag`; that one tag keeps every member through
 * gc() (src/blobs/liveness.ts).
 */
import { constants } from 'node:fs';
import { copyFile, mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { OctopiiError, toOctopiiError } from '../errors.js';
import type { BlobStore } from './store.js';
import { checkBlockBytes, parseRoot, rootHex } from './tree.js';

export interface CollectionEntry {
  /** Relative path, '/'-separated. */
  path: string;
  /** Root of the file's blob, hex. */
  root: string;
  /** File size, bytes. */
  size: number;
  /** 0o755 for an executable file; absent otherwise (written 0o644). */
  mode?: number;
}

/** The only mode a manifest carries: executable (see the module note). */
export const EXECUTABLE_MODE = 0o755;

const MANIFEST_KEY = 'octopii-collection';
/** The bytes every manifest begins with (canonical JSON puts the version key first). */
export const MANIFEST_PREFIX = new TextEncoder().encode(`{"${MANIFEST_KEY}":`);

/** Throws INVALID_ARGUMENT unless `path` is a safe relative '/'-separated path. */
export function checkCollectionPath(path: string): void {
  const bad = (why: string) => new OctopiiError('INVALID_ARGUMENT', `collection path ${JSON.stringify(path)} ${why}`);
  if (path.length === 0 || path.length > 4096) throw bad('is empty or too long');
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) throw bad('is absolute');
  if (path.includes('\\') || path.includes('\0')) throw bad('holds a backslash or NUL');
  for (const seg of path.split('/')) if (seg === '' || seg === '.' || seg === '..') throw bad(`has a "${seg}" segment`);
}

/** The canonical manifest bytes of `entries` (sorted by path). Throws INVALID_ARGUMENT for a bad path or duplicates. */
export function encodeManifest(entries: readonly CollectionEntry[]): Uint8Array {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  sorted.forEach((e, i) => {
    checkCollectionPath(e.path);
    if (i > 0 && sorted[i - 1]!.path === e.path) throw new OctopiiError('INVALID_ARGUMENT', `duplicate collection path ${JSON.stringify(e.path)}`);
  });
  return new TextEncoder().encode(
    JSON.stringify({ [MANIFEST_KEY]: 1, entries: sorted.map((e) => ({ path: e.path, root: e.root, size: e.size, ...(e.mode === EXECUTABLE_MODE ? { mode: EXECUTABLE_MODE } : {}) })) }),
  );
}

/** Parses and checks a manifest. Throws INVALID_ARGUMENT for anything unsafe or malformed. */
export function decodeManifest(bytes: Uint8Array): CollectionEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new OctopiiError('INVALID_ARGUMENT', 'collection manifest is not UTF-8 JSON');
  }
  const d = doc as { [MANIFEST_KEY]?: unknown; entries?: unknown };
  if (!d || d[MANIFEST_KEY] !== 1 || !Array.isArray(d.entries)) throw new OctopiiError('INVALID_ARGUMENT', 'not a version-1 collection manifest');
  const entries = d.entries.map((e: unknown) => {
    const o = e as Partial<CollectionEntry>;
    if (typeof o?.path !== 'string' || typeof o.root !== 'string' || !Number.isSafeInteger(o.size) || (o.size as number) < 0 || (o.mode !== undefined && o.mode !== EXECUTABLE_MODE)) {
      throw new OctopiiError('INVALID_ARGUMENT', `malformed collection entry ${JSON.stringify(e)}`);
    }
    parseRoot(o.root);
    return { path: o.path, root: o.root, size: o.size as number, ...(o.mode === EXECUTABLE_MODE ? { mode: EXECUTABLE_MODE } : {}) };
  });
  encodeManifest(entries); // path and duplicate checks
  return entries;
}

/** Regular files under `dir` (absolute path, and path relative to `base`); counts what is skipped (symlinks, sockets, devices). */
async function walk(dir: string, base: string, out: Array<{ file: string; rel: string }>, skipped: { count: number }): Promise<void> {
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) await walk(p, base, out, skipped);
    else if (d.isFile()) out.push({ file: p, rel: relative(base, p) });
    else skipped.count++; // symlinks, sockets, devices: not part of a collection
  }
}

/** Runs `task` over `items` with at most `limit` running at once; rejects with the first error (the rest still settle). */
export async function eachLimited<T>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { e: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        await task(items[i]!, i);
      } catch (e) {
        failure ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.e;
}

/** Files added at once by {@link addPaths}: each add waits on two fdatasyncs, so several overlap them (measured on `node_modules`, 7,830 files: 31 s one at a time). */
export const ADD_FILES_IN_FLIGHT = 8;

/**
 * Adds `files` and then their manifest, tagged `tag`, all at `blockBytes` (default 1 MiB): the
 * tag keeps every member (see src/blobs/liveness.ts); until it is written each member is
 * pinned, so a gc() of this store object cannot take it (a gc in another process in that window
 * could).
 */
async function addCollection(store: BlobStore, files: ReadonlyArray<{ file: string; path: string }>, tag: string, blockBytes: number | undefined): Promise<{ root: Uint8Array; entries: CollectionEntry[] }> {
  const entries = new Array<CollectionEntry>(files.length);
  const releases: Array<() => void> = [];
  const shape = blockBytes !== undefined ? { blockBytes } : {};
  try {
    await eachLimited(files, ADD_FILES_IN_FLIGHT, async (f, i) => {
      const [root, st] = await Promise.all([store.add(f.file, shape), stat(f.file)]);
      releases.push(store.pin(root));
      entries[i] = { path: f.path, root: rootHex(root), size: await store.size(root), ...(st.mode & 0o111 ? { mode: EXECUTABLE_MODE } : {}) };
    });
    return { root: await store.add(encodeManifest(entries), { tag, ...shape }), entries };
  } finally {
    for (const release of releases) release();
  }
}

/**
 * Adds every regular file under `dir` and the manifest (paths relative to `dir`); returns the
 * manifest's root and the entries. `blockBytes`: the block size of every member and of the
 * manifest (default 1 MiB; src/blobs/tree.ts). Throws INVALID_ARGUMENT for a bad block size.
 */
export async function addDirectory(store: BlobStore, dir: string, options: { tag: string; blockBytes?: number }): Promise<{ root: Uint8Array; entries: CollectionEntry[] }> {
  if (options.blockBytes !== undefined) checkBlockBytes(options.blockBytes);
  const found: Array<{ file: string; rel: string }> = [];
  await walk(dir, dir, found, { count: 0 });
  const files = found.map((f) => ({ file: f.file, path: f.rel.split(sep).join('/') })).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return addCollection(store, files, options.tag, options.blockBytes);
}

/**
 * Adds files and directories as one collection, each under its own name (`share a.txt dir/`
 * gives `a.txt`, `dir/x`, `dir/sub/y` — what `cp -r` would make): the manifest tagged `tag`,
 * which keeps every member. Symlinks and special files are skipped and counted. `blockBytes`:
 * the block size of every member and of the manifest (default 1 MiB: one block size per
 * collection; a fetcher learns each blob's from its provider's header). Throws SOURCE_NOT_FOUND
 * for a missing path, INVALID_ARGUMENT when two paths have the same name or for a bad block size.
 */
export async function addPaths(
  store: BlobStore,
  paths: readonly string[],
  options: { tag: string; blockBytes?: number },
): Promise<{ root: Uint8Array; entries: CollectionEntry[]; skipped: number }> {
  if (options.blockBytes !== undefined) checkBlockBytes(options.blockBytes);
  const found: Array<{ file: string; path: string }> = [];
  const skipped = { count: 0 };
  for (const p of paths) {
    const abs = resolve(p);
    let st;
    try {
      st = await stat(abs);
    } catch (e) {
      throw toOctopiiError(e, 'SOURCE_NOT_FOUND');
    }
    const name = basename(abs) || 'root'; // `share /`
    if (st.isDirectory()) {
      const inside: Array<{ file: string; rel: string }> = [];
      await walk(abs, abs, inside, skipped);
      for (const f of inside) found.push({ file: f.file, path: [name, ...f.rel.split(sep)].join('/') });
    } else if (st.isFile()) found.push({ file: abs, path: name });
    else throw new OctopiiError('INVALID_ARGUMENT', `${p} is neither a file nor a directory`);
  }
  found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (let i = 1; i < found.length; i++) {
    if (found[i - 1]!.path === found[i]!.path) throw new OctopiiError('INVALID_ARGUMENT', `two of the paths give the same name ${JSON.stringify(found[i]!.path)}`);
  }
  return { ...(await addCollection(store, found, options.tag, options.blockBytes)), skipped: skipped.count };
}

/** The checked entries of the collection `root` (its manifest read verified). */
export async function readCollection(store: BlobStore, root: Uint8Array): Promise<CollectionEntry[]> {
  return decodeManifest(await store.read(root, { offset: 0, length: await store.size(root) }));
}

/**
 * Writes every file of collection `root` under `outDir` ({@link ADD_FILES_IN_FLIGHT} files at
 * once): each copied from the store by the kernel (`fs.copyFile` with COPYFILE_FICLONE: a
 * reflink on filesystems that share blocks — btrfs, XFS — else copy_file_range, no bytes through
 * this process), then read back and verified block by block against the blob's outboard (what
 * the user gets is what was verified), its mode set and fdatasync'd. A file that does not verify
 * is removed. Every path is checked before the first write. Measured against the previous
 * read-verify-write through 16 MiB buffers: `npm run bench:blobs-cli`. Throws INVALID_ARGUMENT
 * (unsafe manifest), BLOB_NOT_FOUND (a member not in the store), BLOCK_MISMATCH, DISK_FULL,
 * PERMISSION_DENIED, IO_ERROR.
 */
export async function exportCollection(store: BlobStore, root: Uint8Array, outDir: string): Promise<CollectionEntry[]> {
  const entries = await readCollection(store, root);
  await eachLimited(entries, ADD_FILES_IN_FLIGHT, async (e) => {
    const target = join(outDir, ...e.path.split('/'));
    await mkdir(join(target, '..'), { recursive: true });
    const r = parseRoot(e.root);
    const { path } = await store.dataFile(r);
    try {
      await copyFile(path, target, constants.COPYFILE_FICLONE);
      await store.verifyFile(r, target);
    } catch (err) {
      const error = toOctopiiError(err, 'IO_ERROR');
      if (error.code === 'BLOCK_MISMATCH') await rm(target, { force: true });
      throw error;
    }
    const fh = await open(target, 'r+');
    try {
      await fh.chmod(e.mode ?? 0o644); // copyFile gives the store file's mode
      await fh.datasync();
    } finally {
      await fh.close();
    }
  });
  return entries;
}
