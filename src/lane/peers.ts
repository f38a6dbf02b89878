/**
 * Ship one source to several peers in parallel (seed 001 `TransferResult`).
 */
import { OctopiiError, toOctopiiError } from '../errors.js';
import type { DuplexStream } from '../transport/types.js';
import { sharedHashPool } from '../hash/index.js';
import { sendLane } from './send.js';
import { statSource } from './source.js';
import type { LaneSource, SendLaneOptions, TransferResult } from './types.js';

export interface TransferToPeersOptions extends Omit<SendLaneOptions, 'peer' | 'onProgress' | 'onState'> {
  /** Progress per peer: data bytes written to that peer so far. */
  onProgress?: (peer: string, bytes: number) => void;
  /** Phase changes per peer (laneSend machine state). */
  onState?: (peer: string, state: string) => void;
}

/**
 * Sends `source` to every peer in `peers` at once, one stream each (`openStream(peer)`), and
 * resolves with one {@link TransferResult} per peer, in the order of `peers`. Never rejects:
 * a failed `openStream` or transfer becomes a failed result.
 *
 * The source is checked before any stream is opened: a missing file gives every peer a
 * SOURCE_NOT_FOUND result and `openStream` is never called. A file source is read
 * independently per peer (each with its own bounded read-ahead), so memory is bounded by
 * `peers × maxBlocksInFlight × blockBytes` and the page cache serves the repeated reads.
 */
export async function transferToPeers(
  openStream: (peer: string) => Promise<DuplexStream>,
  source: LaneSource,
  peers: readonly string[],
  options: TransferToPeersOptions = {},
): Promise<TransferResult[]> {
  const failed = (peer: string, e: unknown, started: number): TransferResult => ({
    peer,
    success: false,
    bytesTransferred: 0,
    checksumVerified: false,
    durationMs: performance.now() - started,
    error: toOctopiiError(e, 'CONNECTION_CLOSED').toJSON(),
  });
  const t0 = performance.now();
  try {
    await statSource(source);
  } catch (e) {
    return peers.map((p) => failed(p, e, t0));
  }
  const { onProgress, onState, ...rest } = options;
  // One retain of the shared hash pool for all peers (a peer that dials slowly must not find it
  // stopped and start it again).
  const shared = options.hasher ? undefined : sharedHashPool();
  const hasher = options.hasher ?? shared!.retain();
  return Promise.all(
    peers.map(async (peer) => {
      const started = performance.now();
      try {
        if (options.signal?.aborted) throw new OctopiiError('ABORTED', 'transfer aborted before it started');
        const stream = await openStream(peer);
        return await sendLane(stream, source, {
          ...rest,
          hasher,
          peer,
          ...(onProgress ? { onProgress: (b: number) => onProgress(peer, b) } : {}),
          ...(onState ? { onState: (s: string) => onState(peer, s) } : {}),
        });
      } catch (e) {
        return failed(peer, e, started);
      }
    }),
  ).finally(() => shared?.release());
}
