/**
 * SHA-256 on the calling thread (node:crypto): the hasher for small inputs and for
 * deterministic simulations. It holds the event loop ~0.6 ms per MiB (src/hash/pool.ts has the
 * measurements), so production nodes hash large inputs in a `HashPool`.
 */
import { createHash } from 'node:crypto';
import { OctopiiError } from '../errors.js';
import type { Hasher } from '../runtime/types.js';
import type { Sha256Hasher, UpdateOptions } from './hasher.js';

/** Incremental SHA-256 on the calling thread. */
export class InlineHasher implements Sha256Hasher {
  private h = createHash('sha256');
  private done = false;
  async update(data: Uint8Array, options?: UpdateOptions): Promise<void> {
    if (this.done) throw new OctopiiError('ABORTED', 'hasher finished or aborted');
    this.h.update(data);
    options?.onHashed?.();
  }
  async digest(): Promise<Uint8Array> {
    if (this.done) throw new OctopiiError('ABORTED', 'hasher finished or aborted');
    this.done = true;
    return new Uint8Array(this.h.digest());
  }
  abort(): void {
    this.done = true;
  }
}

/**
 * SHA-256 on the calling thread (node:crypto): deterministic and thread-free, for simulations
 * and tests (`runtime.hasher`); it holds the event loop ~0.6 ms per MiB, so production nodes use
 * a `HashPool` (src/hash/pool.ts).
 */
export const inlineHasher: Hasher = {
  createSha256: () => new InlineHasher(),
};

/** SHA-256 on the calling thread (node:crypto); for small inputs only — it blocks the event loop. */
export function sha256Inline(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

/** Lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
