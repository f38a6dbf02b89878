/** Peer admission for @matrixai/quic TLS `verifyCallback` (src/transport/types.ts `PeerPolicy`). */
import { OctopiiError } from '../../errors.js';
import { nodeIdFromCertificate } from '../certificate.js';
import { CryptoAlert } from './errors.js';

/**
 * Decides whether a peer certificate chain is admitted. Returns the peer's node ID (null for an
 * admitted foreign peer under `insecure`) or a refusal.
 */
export function judgePeer(
  certs: Uint8Array[],
  policy: { expectedNodeId?: string; allowPeers?: readonly string[]; insecure?: boolean },
): { nodeId: string | null } | { refusal: OctopiiError; alert: number } {
  const leaf = certs[0];
  if (!leaf) {
    return policy.insecure && !policy.expectedNodeId
      ? { nodeId: null }
      : { refusal: new OctopiiError('PEER_VERIFICATION_FAILED', 'peer presented no certificate'), alert: CryptoAlert.BadCertificate };
  }
  let nodeId: string | null;
  try {
    nodeId = nodeIdFromCertificate(leaf);
  } catch (e) {
    const refusal = e instanceof OctopiiError ? e : new OctopiiError('PEER_VERIFICATION_FAILED', String(e));
    return { refusal, alert: CryptoAlert.BadCertificate };
  }
  if (policy.expectedNodeId !== undefined) {
    return nodeId === policy.expectedNodeId
      ? { nodeId }
      : {
          refusal: new OctopiiError('PEER_VERIFICATION_FAILED',
            `peer is ${nodeId ?? 'not an Ed25519 node'}, expected ${policy.expectedNodeId}`),
          alert: CryptoAlert.BadCertificate,
        };
  }
  if (nodeId === null) {
    return policy.insecure
      ? { nodeId: null }
      : {
          refusal: new OctopiiError('PEER_VERIFICATION_FAILED',
            'peer certificate is not an Ed25519 node certificate (use insecure to admit it)'),
          alert: CryptoAlert.UnsupportedCertificate,
        };
  }
  if (policy.allowPeers && policy.allowPeers.length > 0 && !policy.allowPeers.includes(nodeId)) {
    return { refusal: new OctopiiError('PEER_VERIFICATION_FAILED', `peer ${nodeId} is not in allowPeers`), alert: CryptoAlert.AccessDenied };
  }
  return { nodeId };
}
