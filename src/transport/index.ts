/**
 * Transport selection: node-to-node traffic uses one of the QUIC transports,
 * chosen by one config option (`transport: 'quinn' | 'matrixai'`, CLI `--transport`).
 * `insecure` (seed 001 v1 interop) needs ALPN `octopii` (protocol `'lane-v1'`), which only
 * @matrixai/quic speaks.
 */
import type { Transport, TransportOptions } from './types.js';
import { OctopiiError } from '../errors.js';

export * from './types.js';

export type QuicTransportName = 'quinn' | 'matrixai';

/**
 * Creates (does not listen) the named transport; `quinnThreads` (see
 * QuinnTransportOptions.runtimeThreads) and `quinnReceiveWindow` (bytes: the per-stream receive
 * window, the connection's is twice it; see QuinnTuning) only concern quinn. Throws INVALID_ARGUMENT for an unknown name.
 *
 * Interim, until the node speaks octopii's own protocol (hello and kind preamble): an
 * `insecure` matrixai transport dials `'lane-v1'` by default (`dialProtocol`), because an
 * insecure node is the seed's v1 interop path and its streams are raw Shipping Lane v1. Pass
 * `dialProtocol` (or `DialOptions.protocol` per dial) to choose explicitly.
 */
export async function createTransport(
  kind: QuicTransportName,
  options: TransportOptions & { quinnThreads?: number | undefined; quinnReceiveWindow?: number | undefined },
): Promise<Transport> {
  switch (kind) {
    case 'matrixai': {
      const { MatrixaiTransport } = await import('./matrixai.js');
      return MatrixaiTransport.create({ ...options, dialProtocol: options.dialProtocol ?? (options.insecure ? 'lane-v1' : 'octopii') });
    }
    case 'quinn': {
      const { QuinnTransport } = await import('./quinn.js');
      const w = options.quinnReceiveWindow;
      return QuinnTransport.create({
        ...options,
        runtimeThreads: options.quinnThreads,
        ...(w === undefined ? {} : { quinn: { maxStreamData: w, maxConnectionData: 2 * w } }),
      });
    }
    default:
      throw new OctopiiError('INVALID_ARGUMENT', `unknown transport "${String(kind)}" (quinn | matrixai)`);
  }
}
