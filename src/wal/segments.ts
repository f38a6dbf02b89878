/**
 * Segment files: naming, listing, and creating a new one atomically.
 *
 * A WAL directory holds `<seq>-<firstIndex>.wal` files (both 16 lowercase hex digits, as etcd's
 * `walName`): `seq` orders them (0, 1, 2 … with no gap; compaction removes a prefix), and
 * `firstIndex` is the index the next entry was expected to have when the segment was made (for
 * people; the WAL does not rely on it). Every segment begins with a header frame holding the hard
 * state and snapshot marker in force when it was created (etcd writes the same at the head of
 * each file), so a segment never depends on the ones before it for that state, and compaction can
 * drop them.
 *
 * A new segment is written as `<name>.tmp`, synced, renamed into place and the directory synced
 * (etcd's file pipeline does the same with preallocated files): a crash leaves either no segment
 * or a whole one with its header; a leftover `.tmp` is removed at open.
 */
import { join } from 'node:path';
import { encodeFrame, encodeRecords, type WalRecord } from './codec.js';
import type { WalFile, WalFs } from './fs.js';
import type { HardState, SnapshotMarker } from './types.js';

/** A segment of a WAL directory. */
export interface SegmentInfo {
  readonly seq: number;
  readonly firstIndex: number;
  readonly name: string;
  readonly path: string;
}

const NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;
const hex16 = (n: number): string => n.toString(16).padStart(16, '0');

/** The file name of segment `seq` whose first entry is expected at `firstIndex`. */
export const segmentName = (seq: number, firstIndex: number): string => `${hex16(seq)}-${hex16(firstIndex)}.wal`;

/** Segments of `dir`, by ascending `seq`, and the names of leftover temporary files. */
export async function listSegments(fs: WalFs, dir: string): Promise<{ segments: SegmentInfo[]; temporaries: string[] }> {
  const names = await fs.list(dir);
  const segments: SegmentInfo[] = [];
  const temporaries: string[] = [];
  for (const name of names) {
    const m = NAME.exec(name);
    if (m) segments.push({ seq: parseInt(m[1]!, 16), firstIndex: parseInt(m[2]!, 16), name, path: join(dir, name) });
    else if (name.endsWith('.wal.tmp')) temporaries.push(name);
  }
  segments.sort((a, b) => a.seq - b.seq);
  return { segments, temporaries };
}

/** The records of a segment's header frame. */
export function headerRecords(hardState: HardState, snapshot: SnapshotMarker | null): WalRecord[] {
  const records: WalRecord[] = [{ type: 'hardState', hardState }];
  if (snapshot) records.push({ type: 'snapshot', snapshot });
  return records;
}

/**
 * Creates segment `seq` with its header frame, durably (temporary file, fdatasync, rename,
 * directory fsync). Resolves with the open file and the header's size in bytes; on failure the
 * temporary file is removed (best effort) and the error is thrown as it came.
 */
export async function createSegment(
  fs: WalFs,
  dir: string,
  seq: number,
  firstIndex: number,
  header: readonly WalRecord[],
): Promise<{ info: SegmentInfo; file: WalFile; size: number }> {
  const name = segmentName(seq, firstIndex);
  const path = join(dir, name);
  const tmp = `${path}.tmp`;
  let file: WalFile | undefined;
  try {
    file = await fs.create(tmp);
    const frame = encodeFrame([encodeRecords(header).bytes]);
    await file.write(frame, 0);
    await file.datasync();
    await fs.rename(tmp, path);
    await fs.syncDir(dir);
    return { info: { seq, firstIndex, name, path }, file, size: frame.byteLength };
  } catch (e) {
    await file?.close().catch(() => undefined);
    await fs.remove(tmp).catch(() => undefined);
    throw e;
  }
}
