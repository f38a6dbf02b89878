/**
 * The quinn transport (kind `'quinn'`), one concept per file under src/transport/quinn/:
 * `binding.ts` (the native binding), `errors.ts` (its message → code mapping), `cancel.ts`,
 * `stream.ts`, `connection.ts`, `transport.ts` (see its file comment). This file keeps the
 * import path `src/transport/quinn.js` valid.
 */
export { QuinnTransport, DEFAULT_QUINN_TUNING, type QuinnTransportOptions, type QuinnTuning } from './quinn/transport.js';
export { quinnRuntimeThreads, parseRemoteMultiaddr } from './quinn/binding.js';
export { mapError } from './quinn/errors.js';
