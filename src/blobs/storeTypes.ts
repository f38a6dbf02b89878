/**
 * The shapes the blob store (src/blobs/store.ts) takes and gives: block hashing, proofs, blob
 * shapes, ranges, options, statistics and the outcome of an imported block.
 */
import type { BLOCK_BYTES } from './tree.js';

/** One-shot SHA-256 (a `HashPool` is one; the default hashes on the calling thread). */
export interface BlockHasher {
  sha256(data: Uint8Array): Promise<Uint8Array>;
}

/** What proves a block: the blob's size and block size (both bound into the root) and the sibling hashes, bottom-up. */
export interface BlockProof {
  size: number;
  /** The blob's block size, bytes (default 1 MiB, {@link BLOCK_BYTES}). */
  blockBytes?: number;
  siblings: Uint8Array;
}

/** A blob's shape: its size and block size, bytes. */
export interface BlobShape {
  size: number;
  blockBytes: number;
}

/** A byte range of a blob. */
export interface ByteRange {
  offset: number;
  length: number;
}

export interface BlobStoreOptions {
  /** Leaf hashing (default: on the calling thread). Pass the node's HashPool for large blobs. */
  hasher?: BlockHasher;
  /** Test seam: called before each write to a store file; throw (e.g. an ENOSPC errno error) to fail it. */
  beforeWrite?: (file: 'data' | 'outboard' | 'map') => void;
}

/** Bytes the store moved to and from disk, by kind (tests prove resume reads nothing twice). */
export interface BlobStoreStats {
  dataBytesRead: number;
  dataBytesWritten: number;
}

/** The outcome of {@link BlobStore.putBlock}: written, already held, or written and the blob is now complete. */
export type PutResult = 'written' | 'duplicate' | 'complete';

/** Blocks of one complete blob read through one open file (BlobStore.blockReader). */
export interface BlockReader {
  /** Block `index`, verified, with its proof; `release()` once it is sent gives its buffer back for reuse. */
  block(index: number): Promise<{ data: Uint8Array; proof: BlockProof; release(): void }>;
  close(): Promise<void>;
}
