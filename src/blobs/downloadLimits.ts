/**
 * The download limits of a blob fetcher: one token bucket for the node and one per provider
 * (src/blobs/peerRateLimits.ts), shared by every fetch given the same instance (a `get` run: all
 * its blobs and providers). After each block a fetch session reads, it reserves the block's
 * bytes on the wire in both; when they say wait, the session stops reading for that long — the
 * blobFetch machine shows `session.streaming.rate.throttled` and times the wait on its clock —
 * and QUIC flow control then holds the provider back. A provider's own cap never slows another
 * provider; the node cap is shared by all.
 *
 *   const limits = new DownloadLimits({ maxDownloadRate: 10e6, maxDownloadRatePerPeer: 4e6 });
 *   await fetchBlob(node, peer, root, store, { limits });
 */
import { PeerRateLimits } from './peerRateLimits.js';

export interface DownloadLimitOptions {
  /** Download cap of the whole node (every fetch given these limits), bytes per second; unset = none. */
  maxDownloadRate?: number | undefined;
  /** Download cap from each provider, bytes per second; unset = none. */
  maxDownloadRatePerPeer?: number | undefined;
  /** Burst of each bucket, bytes (default one 1 MiB block). */
  burstBytes?: number | undefined;
}

export class DownloadLimits extends PeerRateLimits {
  /** Throws INVALID_ARGUMENT for a rate that is not a positive finite number. */
  constructor(options: DownloadLimitOptions) {
    super({ node: options.maxDownloadRate, perPeer: options.maxDownloadRatePerPeer, burstBytes: options.burstBytes }, { node: 'maxDownloadRate', perPeer: 'maxDownloadRatePerPeer' });
  }
}
