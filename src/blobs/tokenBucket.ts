/**
 * A token bucket as pure arithmetic (the GCRA form: one number of state, the "theoretical
 * arrival time" of the next byte), for the upload limits of the `blobs` stream kind. No clock
 * and no timers here: the caller passes `now` (ms, its injected clock) and waits the returned
 * delay as a delayed transition of its machine (machines/blobProvide.ts `throttled`).
 *
 * Sources: J. Turner's token bucket; GCRA, ATM Forum UNI 3.1 §3.6.2.4 (virtual scheduling).
 *
 *   let b = tokenBucket({ bytesPerSecond: 10e6, burstBytes: 1 << 20 });
 *   const { bucket, waitMs } = reserve(b, 1 << 20, now);   // send after waitMs, then b = bucket
 */

export interface TokenBucketLimits {
  /** Sustained rate, bytes per second (> 0). */
  bytesPerSecond: number;
  /** Bytes that may go at once after an idle spell (≥ 0); default one second's worth. */
  burstBytes?: number;
}

export interface TokenBucket {
  readonly bytesPerSecond: number;
  readonly burstBytes: number;
  /** When (ms) everything reserved so far has been paid for at the rate. */
  readonly paidUntil: number;
}

/** A full bucket. Throws RangeError for a rate that is not a positive finite number or a negative burst. */
export function tokenBucket(limits: TokenBucketLimits): TokenBucket {
  const { bytesPerSecond } = limits;
  if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond)) throw new RangeError(`bytesPerSecond must be a positive number, got ${bytesPerSecond}`);
  const burstBytes = limits.burstBytes ?? bytesPerSecond;
  if (!(burstBytes >= 0)) throw new RangeError(`burstBytes must be ≥ 0, got ${burstBytes}`);
  return { bytesPerSecond, burstBytes, paidUntil: -Infinity };
}

/**
 * Reserves `bytes` at `now` (ms): the bucket after the reservation and how long to wait before
 * sending them (ms, 0 = at once). A send may start while the debt of earlier sends is within the
 * burst; its own bytes are paid after it. Over any long span the bytes sent are at most
 * `bytesPerSecond · span + burstBytes + one send`.
 */
export function reserve(bucket: TokenBucket, bytes: number, now: number): { bucket: TokenBucket; waitMs: number } {
  const msPerByte = 1000 / bucket.bytesPerSecond;
  const sendAt = Math.max(now, bucket.paidUntil - bucket.burstBytes * msPerByte);
  return { bucket: { ...bucket, paidUntil: Math.max(bucket.paidUntil, sendAt) + bytes * msPerByte }, waitMs: sendAt - now };
}
