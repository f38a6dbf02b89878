/** ALPN of each connection protocol on @matrixai/quic (src/transport/types.ts `ConnectionProtocol`). */
import type { ConnectionProtocol } from '../types.js';

/** TLS ALPN of each {@link ConnectionProtocol}. */
export const ALPN: Record<ConnectionProtocol, string> = { octopii: 'octopii/2', 'lane-v1': 'octopii' };

/** The protocol of a negotiated ALPN (`undefined` for one we never offer). */
export function protocolOfAlpn(alpn: string): ConnectionProtocol | undefined {
  return alpn === ALPN.octopii ? 'octopii' : alpn === ALPN['lane-v1'] ? 'lane-v1' : undefined;
}
