/**
 * Reused leaf-message buffers for hashing verified blocks in the HashPool without a copy per
 * block: a SharedArrayBuffer view goes to a hash worker as it is (src/hash/pool.ts), where a
 * plain buffer is copied into a fresh one that is moved to the worker — a 1 MiB ArrayBuffer per
 * block that lives in the worker's heap until its next GC (two workers held tens of MiB of them
 * while a 1 GiB blob was fetched). A buffer is taken, filled (leaf prefix + block), hashed and
 * given back; at most {@link LEAF_BUFFERS_KEPT} are kept for reuse.
 *
 *   const buf = leafBuffers.take(len);            // ≥ LEAF_PREFIX_BYTES + len bytes (plain memory when small)
 *   try { buf.set(block, LEAF_PREFIX_BYTES); leaf = await pool.sha256(leafMessage(buf, i, len)); }
 *   finally { leafBuffers.give(buf); }
 */
import { BLOCK_BYTES, LEAF_PREFIX_BYTES } from './tree.js';

/** Full-block buffers kept for reuse, process-wide (blocks hashed at once: a few fetch sessions' in-flight windows). */
export const LEAF_BUFFERS_KEPT = 16;

const FULL = LEAF_PREFIX_BYTES + BLOCK_BYTES;

export class LeafBuffers {
  readonly #free: Uint8Array[] = [];

  /** A view of at least `LEAF_PREFIX_BYTES + blockLen` bytes: a reused SharedArrayBuffer of a full block's size when the block is over a quarter of one, else a plain buffer of its own. */
  take(blockLen: number): Uint8Array {
    const need = LEAF_PREFIX_BYTES + blockLen;
    if (need > FULL) return new Uint8Array(new SharedArrayBuffer(need));
    // Small blocks (the tail of a blob, a small file) get their own buffer: a 1 MiB one per 10 kB file costs more than a copy.
    if (need < FULL / 4) return new Uint8Array(need);
    return this.#free.pop() ?? new Uint8Array(new SharedArrayBuffer(FULL));
  }

  /** Gives back a buffer from {@link take} once its hash job is done. */
  give(buf: Uint8Array): void {
    if (buf.byteLength === FULL && this.#free.length < LEAF_BUFFERS_KEPT) this.#free.push(buf);
  }
}

/** The process's leaf buffers (the store's putBlock and the fetch sessions share them). */
export const leafBuffers = new LeafBuffers();
