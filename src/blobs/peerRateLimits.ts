/**
 * Rate caps of a node towards its peers: one token bucket for the node and one per peer
 * (src/blobs/tokenBucket.ts). Each block reserves its bytes in both and waits the longer of the
 * two delays; a peer's own cap never slows another peer, the node cap is shared by all. The
 * upload side (src/blobs/uploadLimits.ts, blobProvide `throttled`) and the download side
 * (src/blobs/downloadLimits.ts, blobFetch `throttled`) are this with their own option names.
 *
 *   const caps = new PeerRateLimits({ node: 10e6, perPeer: 2e6 }, { node: 'maxUploadRate', perPeer: 'maxUploadRatePerPeer' });
 *   caps.reserve('peer:12D3KooW…', 1 << 20, clock.now())   // → ms to wait, 0 = at once
 */
import { OctopiiError } from '../errors.js';
import { reserve, tokenBucket, type TokenBucket } from './tokenBucket.js';

/** Default burst of each bucket, bytes: one default block (1 MiB), so an idle node sends or reads a block at once. */
export const DEFAULT_BURST_BYTES = 1 << 20;

export interface PeerRates {
  /** Cap of the whole node, bytes per second; unset = none. */
  node?: number | undefined;
  /** Cap towards each peer, bytes per second; unset = none. */
  perPeer?: number | undefined;
  /** Burst of each bucket, bytes (default {@link DEFAULT_BURST_BYTES}). */
  burstBytes?: number | undefined;
}

export class PeerRateLimits {
  #node: TokenBucket | null;
  readonly #peers = new Map<string, TokenBucket>();
  readonly #perPeer: number | undefined;
  readonly #burst: number;

  /** Throws INVALID_ARGUMENT, naming the option (`names`), for a rate that is not a positive finite number. */
  constructor(rates: PeerRates, names: { node: string; perPeer: string }) {
    for (const k of ['node', 'perPeer'] as const) {
      const v = rates[k];
      if (v !== undefined && !(v > 0 && Number.isFinite(v))) throw new OctopiiError('INVALID_ARGUMENT', `${names[k]} must be a positive number of bytes per second, got ${v}`);
    }
    this.#burst = rates.burstBytes ?? DEFAULT_BURST_BYTES;
    this.#node = rates.node !== undefined ? tokenBucket({ bytesPerSecond: rates.node, burstBytes: this.#burst }) : null;
    this.#perPeer = rates.perPeer;
  }

  /** True when any cap is set. */
  get active(): boolean {
    return this.#node !== null || this.#perPeer !== undefined;
  }

  /** Reserves `bytes` towards `peer` at `now` (ms); returns the wait before moving them, ms. */
  reserve(peer: string, bytes: number, now: number): number {
    let wait = 0;
    if (this.#node) {
      const r = reserve(this.#node, bytes, now);
      this.#node = r.bucket;
      wait = r.waitMs;
    }
    if (this.#perPeer !== undefined) {
      if (this.#peers.size > 1024) for (const [k, b] of this.#peers) if (b.paidUntil <= now) this.#peers.delete(k); // a full bucket is the default
      const r = reserve(this.#peers.get(peer) ?? tokenBucket({ bytesPerSecond: this.#perPeer, burstBytes: this.#burst }), bytes, now);
      this.#peers.set(peer, r.bucket);
      wait = Math.max(wait, r.waitMs);
    }
    return wait;
  }
}
