/**
 * The @matrixai/quic transport (kind `'matrixai'`), one concept per file under
 * src/transport/matrixai/: `transport.ts` (see its file comment), `connection.ts`, `stream.ts`,
 * `policy.ts` (peer admission), `errors.ts`, `alpn.ts`, `crypto.ts`, `teardown.ts`,
 * `internals.ts`. This file keeps the import path `src/transport/matrixai.js` valid.
 */
export { MatrixaiTransport, type MatrixaiTransportOptions } from './matrixai/transport.js';
export { ALPN } from './matrixai/alpn.js';
