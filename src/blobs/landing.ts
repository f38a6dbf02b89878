/**
 * Landing verified blocks in a partial blob with group commit (the WAL's idea, src/wal/, applied
 * to the verified-block map): each block's bytes and leaf are written at their offsets as they
 * come — several at once — and joined to a commit, which fdatasyncs the data and outboard files
 * once, then writes the whole map with the batch's bits set and fdatasyncs it once. So a bit set
 * on disk always means a durable block and leaf.
 *
 * Two ways to land a block:
 * - durable (the default): `land` resolves once the commit holding the block is done; blocks
 *   landing together share the three fdatasyncs (3 per batch instead of 3·N).
 * - deferred (`{ defer: true }`, what a fetch session uses): `land` resolves once the block is
 *   written (in the page cache; its leaf is kept and written by the commit, one write per run
 *   of consecutive blocks — a thread-pool round trip less per block); the block is held in
 *   memory at once (`holds`, `bits`, `have`: a retry in this process does not ask for it again)
 *   and made durable by the next commit: `flush()` (the fetch session calls it every
 *   min(16 MiB, size/8) and when it ends, src/blobs/fetch.ts), or the completion of the blob. A
 *   crash loses at most the blocks written since the last commit: their bits were never on
 *   disk, so they are fetched again — nothing unverified is kept and the map never claims an
 *   unwritten block. Measured (`npm run bench:blobs-cli`, `octopii get` of 1 GiB over quinn on
 *   127.0.0.1, this shared 2-core machine at load 13–19, with in-place hashing): fetch 53–59
 *   MB/s against 29–48 MB/s for durable landing in the same runs.
 *
 * A failed write fails that block only (its bit stays clear). A failed commit (ENOSPC → DISK_FULL,
 * EIO …) fails its waiters and clears the in-memory bits of the deferred blocks it held (after a
 * failed fdatasync their pages cannot be trusted): they are fetched again. The map is written only
 * after the data is durable, so the partial and its map on disk stay usable.
 * Handles stay open while blocks are landing or deferred blocks wait for a commit, and are
 * closed when the partial goes idle.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { bitSet, leafOffset, MAP_HEADER_BYTES } from './files.js';
import { BLOCK_BYTES, HASH_BYTES } from './tree.js';

export type StoreFile = 'data' | 'outboard' | 'map';

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

const setBit = (bits: Uint8Array, i: number): void => void (bits[i >> 3]! |= 1 << (i & 7));
const clearBit = (bits: Uint8Array, i: number): void => void (bits[i >> 3]! &= ~(1 << (i & 7)));

export class PartialLanding {
  /** Blocks held: durable, or (deferred) written and waiting for a commit. Mutated in place. */
  readonly bits: Uint8Array;
  /** Number of bits set in {@link bits}. */
  have: number;
  /** What the map on disk says (after the last commit). */
  #durable: Uint8Array;
  readonly #landing = new Set<number>();
  /** Durable-mode blocks written and waiting for their commit. */
  #queue: Array<Waiter & { index: number }> = [];
  /** Deferred blocks written (bits set; their leaves not yet) and not yet committed. */
  #deferred: Array<{ index: number; leaf: Uint8Array }> = [];
  /** flush() callers waiting for the next commit. */
  #flushers: Waiter[] = [];
  /** The commit loop while it runs. */
  #loop: Promise<void> | undefined;
  /** The commit under way (a flush with nothing left to commit waits for it). */
  #current: Promise<void> | undefined;
  #files: Promise<{ data: FileHandle; obao: FileHandle; map: FileHandle }> | undefined;
  #users = 0;

  constructor(
    readonly paths: { data: string; obao: string; map: string },
    readonly n: number,
    bits: Uint8Array,
    have: number,
    readonly beforeWrite: (file: StoreFile) => void,
    /** The blob's block size, bytes (block i lands at i × blockBytes). */
    readonly blockBytes = BLOCK_BYTES,
  ) {
    this.bits = bits.slice();
    this.#durable = bits.slice();
    this.have = have;
  }

  /** True when block `index` is held (durable, or written and deferred) or on its way. */
  holds(index: number): boolean {
    return bitSet(this.bits, index) || this.#landing.has(index);
  }

  /** Deferred blocks written and not yet durable. */
  get uncommitted(): number {
    return this.#deferred.length;
  }

  /**
   * Writes block `index` (`data`, verified) and its `leaf`. Durable mode: resolves once the
   * commit that makes its bit durable is done. `defer`: resolves once written (held from then
   * on; durable at the next {@link flush}). Resolves false if the block was already held.
   * Throws the write's (or its commit's) error.
   */
  async land(index: number, data: Uint8Array, leaf: Uint8Array, options: { defer?: boolean } = {}): Promise<boolean> {
    if (this.holds(index)) return false;
    this.#landing.add(index);
    this.#users++;
    try {
      const f = await this.#open();
      this.beforeWrite('data');
      await f.data.write(data, 0, data.byteLength, index * this.blockBytes);
      if (options.defer) {
        // Its leaf is written by the commit, with the other deferred leaves (one write per run of consecutive blocks).
        setBit(this.bits, index);
        this.have++;
        this.#deferred.push({ index, leaf });
      } else {
        this.beforeWrite('outboard');
        await f.obao.write(leaf, 0, leaf.byteLength, leafOffset(index));
        await new Promise<void>((resolve, reject) => {
          this.#queue.push({ index, resolve, reject });
          this.#kick();
        });
      }
      return true;
    } finally {
      this.#landing.delete(index);
      this.#users--;
      await this.#closeIfIdle();
    }
  }

  /**
   * Commits every deferred block written so far (their bits durable on disk); with none left
   * to commit, waits for the commit under way (it holds the last ones), if any. Throws the
   * commit's error (those blocks are then no longer held).
   */
  async flush(): Promise<void> {
    if (this.#deferred.length === 0 && this.#queue.length === 0) {
      await this.#current;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      this.#flushers.push({ resolve, reject });
      this.#kick();
    });
  }

  /** Starts the commit loop unless it runs; closes the handles when it ends idle. */
  #kick(): void {
    if (this.#loop) return;
    this.#loop = this.#commitLoop().finally(() => {
      this.#loop = undefined;
    });
    void this.#loop.then(() => this.#closeIfIdle());
  }

  /** Closes the handles when nothing is landing, deferred or committing. */
  async #closeIfIdle(): Promise<void> {
    if (this.#users === 0 && this.#deferred.length === 0 && this.#queue.length === 0 && !this.#loop) await this.close();
  }

  /** Commits batches until no waiter is left; never rejects (each batch's waiters get its error). */
  async #commitLoop(): Promise<void> {
    while (this.#queue.length > 0 || this.#flushers.length > 0) {
      const batch = this.#queue.splice(0);
      const flushers = this.#flushers.splice(0);
      const deferred = this.#deferred.splice(0);
      const commit = (async () => {
        const f = await this.#open();
        await this.#writeLeaves(f.obao, deferred);
        await f.data.datasync();
        await f.obao.datasync();
        const next = this.#durable.slice();
        for (const w of batch) setBit(next, w.index);
        for (const d of deferred) setBit(next, d.index);
        this.beforeWrite('map');
        await f.map.write(next, 0, next.byteLength, MAP_HEADER_BYTES);
        await f.map.datasync();
        this.#durable = next;
      })();
      this.#current = commit;
      commit.catch(() => undefined); // awaited below; a later flush() may await it too
      try {
        await commit;
        for (const w of batch) setBit(this.bits, w.index);
        this.have += batch.length;
        for (const w of [...batch, ...flushers]) w.resolve();
      } catch (e) {
        for (const d of deferred) clearBit(this.bits, d.index);
        this.have -= deferred.length;
        for (const w of [...batch, ...flushers]) w.reject(e);
      }
    }
    this.#current = undefined;
  }

  /** Writes the leaves of `deferred` blocks into the outboard: one write per run of consecutive indexes. */
  async #writeLeaves(obao: FileHandle, deferred: ReadonlyArray<{ index: number; leaf: Uint8Array }>): Promise<void> {
    const sorted = [...deferred].sort((a, b) => a.index - b.index);
    for (let i = 0; i < sorted.length; ) {
      let j = i + 1;
      while (j < sorted.length && sorted[j]!.index === sorted[j - 1]!.index + 1) j++;
      const run = new Uint8Array((j - i) * HASH_BYTES);
      for (let k = i; k < j; k++) run.set(sorted[k]!.leaf, (k - i) * HASH_BYTES);
      this.beforeWrite('outboard');
      await obao.write(run, 0, run.byteLength, leafOffset(sorted[i]!.index));
      i = j;
    }
  }

  #open(): Promise<{ data: FileHandle; obao: FileHandle; map: FileHandle }> {
    this.#files ??= (async () => {
      const data = await open(this.paths.data, 'r+');
      const obao = await open(this.paths.obao, 'r+').catch(async (e: unknown) => {
        await data.close();
        throw e;
      });
      const map = await open(this.paths.map, 'r+').catch(async (e: unknown) => {
        await data.close();
        await obao.close();
        throw e;
      });
      return { data, obao, map };
    })();
    const p = this.#files;
    p.catch(() => {
      if (this.#files === p) this.#files = undefined;
    });
    return p;
  }

  /** Closes the file handles (reopened on the next block), after the commit under way. */
  async close(): Promise<void> {
    await this.#loop;
    const p = this.#files;
    this.#files = undefined;
    if (!p) return;
    const f = await p.catch(() => undefined);
    if (!f) return;
    await Promise.allSettled([f.data.close(), f.obao.close(), f.map.close()]);
  }
}
