/** Shipping Lane v2: content-addressed blobs with per-block verification and resume. */
export { BLOCK_BYTES, DEFAULT_BLOCK_BYTES, MIN_BLOCK_BYTES, MAX_BLOCK_BYTES, isBlockBytes, checkBlockBytes, blockCount, rootOf, rootFromLeaves, proofOf, verifyProof, rootHex, parseRoot } from './tree.js';
export { BlobStore, type BlobStoreOptions, type BlockHasher, type BlockProof, type ByteRange, type PutResult, type BlobStoreStats, type BlobShape } from './store.js';
export { serveBlobs, blobProvideLogic, type ServeBlobsOptions } from './provide.js';
export { fetchBlob, blobFetchLogic, FETCH_BLOCKS_IN_FLIGHT, FETCH_MAX_WINDOW, checkWindow, type FetchBlobOptions } from './fetch.js';
export { DownloadLimits, type DownloadLimitOptions } from './downloadLimits.js';
export { UploadLimits, type UploadLimitOptions } from './uploadLimits.js';
export { encodeTicket, decodeTicket, type BlobTicket } from './ticket.js';
export { addDirectory, addPaths, readCollection, exportCollection, encodeManifest, decodeManifest, checkCollectionPath, EXECUTABLE_MODE, type CollectionEntry } from './collection.js';
export { fetchBatch, BATCH_BLOBS_IN_FLIGHT, type FetchBatchOptions, type BlobBatchOutput } from './batch.js';
export { fetchCollection, COLLECTION_BLOBS_IN_FLIGHT, BATCH_MEMBER_MAX_BYTES, BATCH_MAX_BLOBS, BATCH_MAX_BYTES, COLLECTION_BATCHES_IN_FLIGHT, type CollectionFetchOptions, type CollectionFetchResult, type CollectionProgress } from './fetchCollection.js';
export { listBlobs, type BlobListing } from './inventory.js';
export { fetchBlobMulti, type MultiFetchResult, type MultiFetchOptions, type ProviderReport } from './multi.js';
export type { BlobFetchOutput } from '../../machines/blobFetch.js';
