/**
 * The upload limits of a blob provider: one token bucket for the node and one per peer
 * (src/blobs/tokenBucket.ts), shared by every `blobs` stream the node serves. Each block a
 * stream is about to send reserves its bytes in both; the stream waits the longer of the two
 * delays in its machine's `throttled` state (machines/blobProvide.ts). A peer's own cap never
 * slows another peer; the node cap is shared by all.
 *
 *   const limits = new UploadLimits({ maxUploadRate: 10e6, maxUploadRatePerPeer: 2e6 });
 *   limits.reserve('12D3KooW…', 1 << 20, clock.now())   // → ms to wait before sending
 */
import { OctopiiError } from '../errors.js';
import { reserve, tokenBucket, type TokenBucket } from './tokenBucket.js';

export interface UploadLimitOptions {
  /** Upload cap of the whole node, bytes per second; unset = none. */
  maxUploadRate?: number;
  /** Upload cap towards each peer, bytes per second; unset = none. */
  maxUploadRatePerPeer?: number;
  /** Burst of each bucket, bytes (default: one block, 1 MiB — the smallest that lets a block go without waiting when idle). */
  burstBytes?: number;
}

export class UploadLimits {
  #node: TokenBucket | null;
  readonly #peers = new Map<string, TokenBucket>();
  readonly #perPeer: number | undefined;
  readonly #burst: number;

  /** Throws INVALID_ARGUMENT for a rate that is not a positive finite number. */
  constructor(options: UploadLimitOptions) {
    for (const k of ['maxUploadRate', 'maxUploadRatePerPeer'] as const) {
      const v = options[k];
      if (v !== undefined && !(v > 0 && Number.isFinite(v))) throw new OctopiiError('INVALID_ARGUMENT', `${k} must be a positive number of bytes per second, got ${v}`);
    }
    this.#burst = options.burstBytes ?? 1 << 20;
    this.#node = options.maxUploadRate !== undefined ? tokenBucket({ bytesPerSecond: options.maxUploadRate, burstBytes: this.#burst }) : null;
    this.#perPeer = options.maxUploadRatePerPeer;
  }

  /** True when any cap is set. */
  get active(): boolean {
    return this.#node !== null || this.#perPeer !== undefined;
  }

  /** Reserves `bytes` towards `peer` at `now` (ms); returns the wait before sending them, ms. */
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
