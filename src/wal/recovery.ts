/**
 * Recovery: replays every segment of a WAL directory, frame by frame, into a {@link WalState}.
 *
 * A frame that is not whole and valid is one of two things (the distinction etcd's decoder makes
 * between a torn write and `ErrCRCMismatch`, and LevelDB's log reader between a truncated tail
 * and a corrupt record):
 * - a **torn tail**: it is in the last segment and no whole, valid frame follows it anywhere in
 *   that file. Batches are written one at a time and each is synced before the next is written,
 *   so only the last batch can be partial, and it was never acknowledged. It is cut off (the file
 *   is truncated to the end of the last valid frame and synced) and recovery goes on.
 * - **corruption**: it is in an earlier segment, or is a segment's header frame (offset 0: it was
 *   synced before the segment got its name), or a valid frame follows it. Such a frame was
 *   synced once; recovery refuses to guess and throws WAL_CORRUPT naming the segment and offset.
 *   A frame whose checksum holds but whose records do not parse, or entries that leave a gap,
 *   are corruption too. A missing segment in the sequence is corruption, and so is a compacted WAL
 *   whose first live entry does not follow its snapshot marker.
 */
import { OctopiiError } from '../errors.js';
import { findNextFrame, forEachRecord, readFrame } from './codec.js';
import type { WalFs } from './fs.js';
import { listSegments, type SegmentInfo } from './segments.js';
import { WalState } from './state.js';
import type { WalEntry } from './types.js';

/** A segment as recovered: where its valid frames end. */
export interface RecoveredSegment extends SegmentInfo {
  /** Bytes of whole, valid frames (the file's size after any torn tail was cut). */
  readonly validBytes: number;
}

export interface Recovery {
  readonly state: WalState;
  readonly segments: RecoveredSegment[];
  /** Live entries after the snapshot marker, their data copied out of the segment buffers. */
  readonly entries: WalEntry[];
  /** Bytes cut from the last segment (0 if the tail was clean). */
  readonly tornBytes: number;
  /** Leftover temporary files of an interrupted rotation (names). */
  readonly temporaries: string[];
}

const corrupt = (seg: SegmentInfo, offset: number, why: string) =>
  new OctopiiError('WAL_CORRUPT', `WAL segment ${seg.name} at offset ${offset}: ${why}`);

/**
 * Replays the WAL in `dir`. With `repair`, a torn tail is truncated on disk (and synced);
 * without it the file is left as it is (recovery still stops at the last valid frame).
 *
 * @throws OctopiiError WAL_CORRUPT (segment name and byte offset in the message); IO_ERROR and
 *   the other filesystem codes from the file layer, as they come.
 */
export async function recover(fs: WalFs, dir: string, repair: boolean): Promise<Recovery> {
  const { segments: infos, temporaries } = await listSegments(fs, dir);
  const data: Uint8Array[] = [];
  const state = new WalState(data);
  const segments: RecoveredSegment[] = [];
  let tornBytes = 0;
  if ((infos[0]?.seq ?? 0) > 0) state.allowJump();
  for (let i = 0; i < infos.length; i++) {
    const seg = infos[i]!;
    if (i > 0 && seg.seq !== infos[i - 1]!.seq + 1) {
      throw corrupt(seg, 0, `segment ${infos[i - 1]!.seq + 1} is missing before it`);
    }
    const last = i === infos.length - 1;
    const buf = await fs.readAll(seg.path);
    let at = 0;
    while (at < buf.byteLength) {
      const frame = readFrame(buf, at);
      if (!frame.ok) {
        if (!last) throw corrupt(seg, at, `${frame.reason} (not the last segment)`);
        if (at === 0) throw corrupt(seg, at, `${frame.reason} (the header frame, synced before the segment was named)`);
        const next = findNextFrame(buf, at);
        if (next !== -1) throw corrupt(seg, at, `${frame.reason}, and a valid frame follows at ${next}`);
        tornBytes = buf.byteLength - at;
        if (repair) {
          const f = await fs.openWrite(seg.path);
          try {
            await f.truncate(at);
            await f.datasync();
          } finally {
            await f.close();
          }
        }
        break;
      }
      try {
        forEachRecord(buf, frame.payloadStart, frame.end, (r, dataOffset) => state.apply(r, seg.seq, dataOffset));
      } catch (e) {
        if (e instanceof RangeError) throw corrupt(seg, at, e.message);
        throw e;
      }
      at = frame.end;
    }
    segments.push({ ...seg, validBytes: at });
  }
  if (!state.isContiguous) {
    const seg = segments[0]!;
    throw corrupt(seg, 0, `entries ${(state.snapshot?.index ?? 0) + 1}…${state.firstIndex - 1} are missing (the first segment starts above the snapshot marker)`);
  }
  const entries: WalEntry[] = data.map((d, k) => {
    const index = state.firstIndex + k;
    return { index, term: state.term(index)!, data: new Uint8Array(d) };
  });
  state.stopCollecting();
  return { state, segments, entries, tornBytes, temporaries };
}
