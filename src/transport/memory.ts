/**
 * The in-memory transport for whole-node simulations, one concept per file under
 * src/transport/memory/: `network.ts` (the simulated wire and its faults; see its file comment),
 * `transport.ts`, `connection.ts`, `link.ts`, `streamPair.ts`, `pipe.ts`, `shared.ts`. This
 * file keeps the import path `src/transport/memory.js` valid.
 */
export { MemoryNetwork, type MemoryNetworkOptions, type Delivery, type LinkInfo } from './memory/network.js';
export { MemoryTransport } from './memory/transport.js';
export { MemoryConnection } from './memory/connection.js';
