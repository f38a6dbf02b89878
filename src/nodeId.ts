/**
 * Node IDs (docs/PROTOCOL.md "Node ID"): the libp2p peer-ID encoding of an Ed25519 public key,
 *   base58btc( 0x00 0x24 ‖ 0x08 0x01 0x12 0x20 ‖ publicKey[32] )
 * (an identity multihash of the protobuf `PublicKey { Type: Ed25519, Data }`; always starts
 * with `12D3KooW`). Bytes and base58 only: the CLI checks `--peer-id` / `--allow-peer` with
 * {@link isNodeId} while parsing options, before (and without) loading node:crypto, which
 * ./identity.ts (keys and identity files) needs.
 */
import { base58 } from '@scure/base';
import { OctopiiError } from './errors.js';

const PEER_ID_PREFIX = Uint8Array.of(0x00, 0x24, 0x08, 0x01, 0x12, 0x20);

/** Node ID of a raw 32-byte Ed25519 public key. Throws INVALID_IDENTITY on a wrong length. */
export function nodeIdFromPublicKey(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new OctopiiError('INVALID_IDENTITY', `Ed25519 public key must be 32 bytes, got ${publicKey.length}`);
  const bytes = new Uint8Array(38);
  bytes.set(PEER_ID_PREFIX);
  bytes.set(publicKey, 6);
  return base58.encode(bytes);
}

/** Raw public key of a node ID. Throws INVALID_IDENTITY when the ID is not an Ed25519 node ID. */
export function publicKeyFromNodeId(nodeId: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = base58.decode(nodeId);
  } catch (e) {
    throw new OctopiiError('INVALID_IDENTITY', `not a node ID: "${nodeId}"`, { cause: e });
  }
  if (bytes.length !== 38 || PEER_ID_PREFIX.some((b, i) => bytes[i] !== b)) {
    throw new OctopiiError('INVALID_IDENTITY', `not an Ed25519 node ID: "${nodeId}"`);
  }
  return bytes.slice(6);
}

export const isNodeId = (s: string): boolean => {
  try {
    publicKeyFromNodeId(s);
    return true;
  } catch {
    return false;
  }
};
