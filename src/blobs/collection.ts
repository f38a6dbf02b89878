/**
 * Collections: a directory as one blob — a manifest listing `{ path, root, size }` per file —
 * so a tree of files is named, fetched and verified by one root (iroh-blobs' `Collection` /
 * HashSeq is the model). The manifest is canonical JSON (UTF-8, entries sorted by path):
 *
 * ```json
 * {"octopii-collection":1,"entries":[{"path":"a/b.txt","root":"<64 hex>","size":12}]}
 * ```
 * Paths are relative, '/'-separated; a manifest with an absolute path, a `..`, `.` or empty
 * segment, a backslash or NUL, or duplicate paths is refused (INVALID_ARGUMENT) before anything
 * is written — a collection from a peer can never write outside the export directory.
 * `addDirectory` tags the manifest `tag` and each member `tag.<n>`, so gc() keeps them.
 */
import { mkdir, open, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { OctopiiError } from '../errors.js';
import type { BlobStore } from './store.js';
import { parseRoot, rootHex } from './tree.js';

export interface CollectionEntry {
  /** Relative path, '/'-separated. */
  path: string;
  /** Root of the file's blob, hex. */
  root: string;
  /** File size, bytes. */
  size: number;
}

const MANIFEST_KEY = 'octopii-collection';

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
  return new TextEncoder().encode(JSON.stringify({ [MANIFEST_KEY]: 1, entries: sorted.map((e) => ({ path: e.path, root: e.root, size: e.size })) }));
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
    if (typeof o?.path !== 'string' || typeof o.root !== 'string' || !Number.isSafeInteger(o.size) || (o.size as number) < 0) {
      throw new OctopiiError('INVALID_ARGUMENT', `malformed collection entry ${JSON.stringify(e)}`);
    }
    parseRoot(o.root);
    return { path: o.path, root: o.root, size: o.size as number };
  });
  encodeManifest(entries); // path and duplicate checks
  return entries;
}

async function walk(dir: string, base: string, out: string[]): Promise<void> {
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) await walk(p, base, out);
    else if (d.isFile()) out.push(relative(base, p));
    // symlinks, sockets, devices: not part of a collection
  }
}

/** Adds every regular file under `dir` and the manifest; returns the manifest's root and the entries. */
export async function addDirectory(store: BlobStore, dir: string, options: { tag: string }): Promise<{ root: Uint8Array; entries: CollectionEntry[] }> {
  const files: string[] = [];
  await walk(dir, dir, files);
  files.sort();
  const entries: CollectionEntry[] = [];
  for (const [i, f] of files.entries()) {
    const root = await store.add(join(dir, f), { tag: `${options.tag}.${i}` });
    entries.push({ path: f.split(sep).join('/'), root: rootHex(root), size: await store.size(root) });
  }
  const root = await store.add(encodeManifest(entries), { tag: options.tag });
  return { root, entries };
}

/** The checked entries of the collection `root` (its manifest read verified). */
export async function readCollection(store: BlobStore, root: Uint8Array): Promise<CollectionEntry[]> {
  return decodeManifest(await store.read(root, { offset: 0, length: await store.size(root) }));
}

/** Writes every file of collection `root` under `outDir` (each read verified, 16 MiB at a time). Every path is checked before the first write. */
export async function exportCollection(store: BlobStore, root: Uint8Array, outDir: string): Promise<CollectionEntry[]> {
  const entries = await readCollection(store, root);
  for (const e of entries) {
    const target = join(outDir, ...e.path.split('/'));
    await mkdir(join(target, '..'), { recursive: true });
    const fh = await open(target, 'w');
    try {
      const r = parseRoot(e.root);
      for (let off = 0; off < e.size; off += 16 << 20) {
        const part = await store.read(r, { offset: off, length: Math.min(16 << 20, e.size - off) });
        await fh.write(part, 0, part.byteLength, off);
      }
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }
  return entries;
}
