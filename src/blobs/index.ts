/** Shipping Lane v2: content-addressed blobs with per-block verification and resume. */
export { BLOCK_BYTES, blockCount, rootOf, rootFromLeaves, proofOf, verifyProof, rootHex, parseRoot } from './tree.js';
export { BlobStore, type BlobStoreOptions, type BlockHasher, type BlockProof, type ByteRange, type PutResult, type BlobStoreStats } from './store.js';
export { serveBlobs, blobProvideLogic, type ServeBlobsOptions } from './provide.js';
export { fetchBlob, blobFetchLogic, FETCH_BLOCKS_IN_FLIGHT, type FetchBlobOptions } from './fetch.js';
export { encodeTicket, decodeTicket, type BlobTicket } from './ticket.js';
export { addDirectory, addPaths, readCollection, exportCollection, encodeManifest, decodeManifest, checkCollectionPath, EXECUTABLE_MODE, type CollectionEntry } from './collection.js';
export { fetchCollection, COLLECTION_BLOBS_IN_FLIGHT, type CollectionFetchOptions, type CollectionFetchResult, type CollectionProgress } from './fetchCollection.js';
export { listBlobs, type BlobListing } from './inventory.js';
export { fetchBlobMulti, type MultiFetchResult, type MultiFetchOptions, type ProviderReport } from './multi.js';
export type { BlobFetchOutput } from '../../machines/blobFetch.js';
