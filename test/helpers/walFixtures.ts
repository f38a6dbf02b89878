/**
 * Fixtures for the WAL tests: temporary directories (removed by {@link cleanupWalDirs}), entries
 * with recognisable data, and segment files to cut and flip bits in.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WalEntry } from '../../src/wal/index.js';

const dirs: string[] = [];

/** A fresh, empty temporary directory. */
export async function walTempDir(prefix = 'octopii-wal-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Removes every directory made by {@link walTempDir}. */
export async function cleanupWalDirs(): Promise<void> {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** The data of entry `index`: its decimal index, padded with '.' to `size` bytes (at least the digits). */
export function entryData(index: number, size = 100): Uint8Array {
  const s = String(index);
  return new TextEncoder().encode(s + '.'.repeat(Math.max(0, size - s.length)));
}

/** Entries `from … to` (inclusive) in `term`, with {@link entryData}. */
export function makeEntries(from: number, to: number, term = 1, size = 100): WalEntry[] {
  const out: WalEntry[] = [];
  for (let i = from; i <= to; i++) out.push({ index: i, term, data: entryData(i, size) });
  return out;
}

/** Segment file names of `dir`, in order. */
export async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.wal')).sort();
}

/** Plain `{ index, term, data as text }` rows, for readable assertions. */
export function rows(entries: readonly WalEntry[]): { index: number; term: number; data: string }[] {
  return entries.map((e) => ({ index: e.index, term: e.term, data: new TextDecoder().decode(e.data) }));
}
