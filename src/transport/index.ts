/**
 * Transport selection (issue 3 item 3): node-to-node traffic uses one of the QUIC transports,
 * chosen by one config option (`transport: 'quinn' | 'matrixai'`, CLI `--transport`).
 * `insecure` (seed 001 v1 interop) needs ALPN `octopii`, which only @matrixai/quic speaks.
 */
import type { Transport, TransportOptions } from './types.js';
import { OctopiiError } from '../errors.js';

export * from './types.js';

export type QuicTransportName = 'quinn' | 'matrixai';

/**
 * Creates (does not listen) the named transport; `quinnThreads` only concerns quinn (see
 * QuinnTransportOptions.runtimeThreads). Throws INVALID_ARGUMENT for an unknown name.
 */
export async function createTransport(kind: QuicTransportName, options: TransportOptions & { quinnThreads?: number }): Promise<Transport> {
  switch (kind) {
    case 'matrixai': {
      const { MatrixaiTransport } = await import('./matrixai.js');
      return MatrixaiTransport.create(options);
    }
    case 'quinn': {
      const { QuinnTransport } = await import('./quinn.js');
      return QuinnTransport.create({ ...options, runtimeThreads: options.quinnThreads });
    }
    default:
      throw new OctopiiError('INVALID_ARGUMENT', `unknown transport "${String(kind)}" (quinn | matrixai)`);
  }
}
