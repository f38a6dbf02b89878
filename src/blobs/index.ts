/** Shipping Lane v2: content-addressed blobs with per-block verification and resume. */
export { BLOCK_BYTES, blockCount, rootOf, rootFromLeaves, proofOf, verifyProof, rootHex, parseRoot } from './tree.js';
export { BlobStore, type BlobStoreOptions, type BlockHasher, type BlockProof, type ByteRange, type PutResult, type BlobStoreStats } from './store.js';
export { serveBlobs, blobProvideLogic, type ServeBlobsOptions } from './provide.js';
export { fetchBlob, blobFetchLogic, FETCH_BLOCKS_IN_FLIGHT, type FetchBlobOptions } from './fetch.js';
export { encodeTicket, decodeTicket, type BlobTicket } from './ticket.js';
export { addDirectory, readCollection, exportCollection, encodeManifest, decodeManifest, checkCollectionPath, type CollectionEntry } from './collection.js';
export { fetchBlobMulti, type MultiFetchResult, type MultiFetchOptions, type ProviderReport } from './multi.js';
export type { BlobFetchOutput } from '../../machines/blobFetch.js';
