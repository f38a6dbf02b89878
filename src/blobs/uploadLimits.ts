/**
 * The upload limits of a blob provider: one token bucket for the node and one per peer
 * (src/blobs/peerRateLimits.ts), shared by every `blobs` stream the node serves. Each block a
 * stream is about to send reserves its bytes in both; the stream waits the longer of the two
 * delays in its machine's `throttled` state (machines/blobProvide.ts). A peer's own cap never
 * slows another peer; the node cap is shared by all.
 *
 *   const limits = new UploadLimits({ maxUploadRate: 10e6, maxUploadRatePerPeer: 2e6 });
 *   limits.reserve('12D3KooW…', 1 << 20, clock.now())   // → ms to wait before sending
 */
import { PeerRateLimits } from './peerRateLimits.js';

export interface UploadLimitOptions {
  /** Upload cap of the whole node, bytes per second; unset = none. */
  maxUploadRate?: number;
  /** Upload cap towards each peer, bytes per second; unset = none. */
  maxUploadRatePerPeer?: number;
  /** Burst of each bucket, bytes (default: one block, 1 MiB — the smallest that lets a block go without waiting when idle). */
  burstBytes?: number;
}

export class UploadLimits extends PeerRateLimits {
  /** Throws INVALID_ARGUMENT for a rate that is not a positive finite number. */
  constructor(options: UploadLimitOptions) {
    super({ node: options.maxUploadRate, perPeer: options.maxUploadRatePerPeer, burstBytes: options.burstBytes }, { node: 'maxUploadRate', perPeer: 'maxUploadRatePerPeer' });
  }
}
