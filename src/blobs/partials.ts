/**
 * The partial blobs of a store (src/blobs/store.ts), `partial/<root>.{data,obao,map}`: each
 * loaded from its verified-block map and outboard header (no block is read), or created by the
 * first verified block (files staged in tmp/, the map renamed in last), then kept open — one
 * {@link PartialLanding} per blob however many blocks arrive at once.
 */
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { OctopiiError, toOctopiiError } from '../errors.js';
import { bitSet, decodeMap, decodeOutboardHeader, encodeEmptyMap, encodeOutboardHeader, leafOffset, OUTBOARD_HEADER_BYTES } from './files.js';
import { syncDir, writeFileSynced } from './fsutil.js';
import { PartialLanding } from './landing.js';
import type { BlobStoreOptions } from './storeTypes.js';
import { blockCount, isBlockBytes, rootHex } from './tree.js';

/** One open partial blob. */
export interface PartialBlob {
  size: number;
  blockBytes: number;
  n: number;
  landing: PartialLanding;
  /** Set once the last block landed: the move into blobs/. */
  completing?: Promise<void>;
}

export class PartialBlobs {
  readonly #open = new Map<string, PartialBlob>();
  readonly #opening = new Map<string, Promise<PartialBlob>>();
  readonly #beforeWrite: BlobStoreOptions['beforeWrite'];

  /** `dir`: the store's directory; `beforeWrite`: the store's test seam (BlobStoreOptions). */
  constructor(
    readonly dir: string,
    beforeWrite: BlobStoreOptions['beforeWrite'],
  ) {
    this.#beforeWrite = beforeWrite;
  }

  #path(hex: string, ext: 'data' | 'obao' | 'map'): string {
    return join(this.dir, 'partial', `${hex}.${ext}`);
  }

  /** The open partial blob `hex`, if this store has it open. */
  get(hex: string): PartialBlob | undefined {
    return this.#open.get(hex);
  }

  /** Whether this store has the partial blob `hex` open. */
  has(hex: string): boolean {
    return this.#open.has(hex);
  }

  /** Forgets the partial blob `hex` (it completed, or gc removed it). */
  forget(hex: string): void {
    this.#open.delete(hex);
  }

  /** The partial blob `root`, loaded from its map (the map and header only: no block is read). */
  async load(hex: string): Promise<PartialBlob | undefined> {
    const cached = this.#open.get(hex);
    if (cached) return cached;
    let head: Uint8Array;
    let map: Uint8Array;
    try {
      map = new Uint8Array(await readFile(this.#path(hex, 'map')));
      const fh = await open(this.#path(hex, 'obao'), 'r');
      try {
        head = new Uint8Array(OUTBOARD_HEADER_BYTES);
        await fh.read(head, 0, OUTBOARD_HEADER_BYTES, 0);
      } finally {
        await fh.close();
      }
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return undefined;
      throw toOctopiiError(e, 'IO_ERROR');
    }
    const h = decodeOutboardHeader(head);
    if (!isBlockBytes(h.blockBytes)) throw new OctopiiError('IO_ERROR', `partial ${hex} names block size ${h.blockBytes}`);
    const n = blockCount(h.size, h.blockBytes);
    const bits = decodeMap(map, n);
    let have = 0;
    for (let i = 0; i < n; i++) if (bitSet(bits, i)) have++;
    const p: PartialBlob = { size: h.size, blockBytes: h.blockBytes, n, landing: this.#landingFor(hex, n, bits, have, h.blockBytes) };
    if (!this.#open.has(hex)) this.#open.set(hex, p); // a concurrent load won: keep one
    return this.#open.get(hex);
  }

  /** The partial blob, loaded or created once however many blocks arrive at the same time. */
  async forBlock(root: Uint8Array, hex: string, size: number, blockBytes: number): Promise<PartialBlob> {
    const cached = this.#open.get(hex);
    if (cached) return cached;
    let opening = this.#opening.get(hex);
    if (!opening) {
      opening = (async () => (await this.load(hex)) ?? (await this.#create(root, size, blockBytes)))();
      this.#opening.set(hex, opening);
      opening.finally(() => this.#opening.delete(hex)).catch(() => undefined);
    }
    return opening;
  }

  #landingFor(hex: string, n: number, bits: Uint8Array, have: number, blockBytes: number): PartialLanding {
    const paths = { data: this.#path(hex, 'data'), obao: this.#path(hex, 'obao'), map: this.#path(hex, 'map') };
    return new PartialLanding(paths, n, bits, have, (file) => this.#beforeWrite?.(file), blockBytes);
  }

  /** Creates the partial blob (files staged in tmp/, the map renamed in last). */
  async #create(root: Uint8Array, size: number, blockBytes: number): Promise<PartialBlob> {
    const hex = rootHex(root);
    const n = blockCount(size, blockBytes);
    const tmp = join(this.dir, 'tmp', `partial-${hex}`);
    this.#beforeWrite?.('outboard');
    const ob = await open(`${tmp}.obao`, 'w');
    try {
      await ob.write(encodeOutboardHeader({ blockBytes, size, root }), 0, OUTBOARD_HEADER_BYTES, 0);
      await ob.truncate(leafOffset(n));
      await ob.datasync();
    } finally {
      await ob.close();
    }
    const data = await open(`${tmp}.data`, 'w');
    try {
      await data.truncate(size);
      await data.datasync();
    } finally {
      await data.close();
    }
    await writeFileSynced(`${tmp}.map`, encodeEmptyMap(n), () => this.#beforeWrite?.('map'));
    await rename(`${tmp}.obao`, this.#path(hex, 'obao'));
    await rename(`${tmp}.data`, this.#path(hex, 'data'));
    await rename(`${tmp}.map`, this.#path(hex, 'map'));
    await syncDir(join(this.dir, 'partial'));
    const p: PartialBlob = { size, blockBytes, n, landing: this.#landingFor(hex, n, new Uint8Array(Math.ceil(n / 8)), 0, blockBytes) };
    this.#open.set(hex, p);
    return p;
  }
}
