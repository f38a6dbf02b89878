/**
 * Blob tickets: a root and where to fetch it, as one compact string to paste (iroh-blobs'
 * `BlobTicket` is the model): `blob` + lower-case unpadded base32 (RFC 4648) of
 *
 * ```
 * version u8 = 1 ‖ root 32 B ‖ count u8 (0..16) ‖ count × (Ed25519 public key 32 B ‖ length u8 ‖ address ASCII)
 * ```
 * The public key is the provider's node ID in raw form (src/identity.ts), so the fetcher
 * verifies the provider it dials. Pure.
 */
import { base32nopad } from '@scure/base';
import { OctopiiError } from '../errors.js';
import { nodeIdFromPublicKey, publicKeyFromNodeId } from '../nodeId.js';
import type { PeerRef } from '../node/node.js';

export const TICKET_PREFIX = 'blob';
export const TICKET_VERSION = 1;
export const TICKET_MAX_PROVIDERS = 16;

export interface BlobTicket {
  root: Uint8Array;
  /** Providers with their node ID (required: a ticket names whom to trust). */
  providers: Array<Required<PeerRef>>;
}

/** Encodes a ticket. Throws INVALID_ARGUMENT for a bad root, too many providers, an address over 255 bytes or a bad node ID. */
export function encodeTicket(t: BlobTicket): string {
  if (t.root.byteLength !== 32) throw new OctopiiError('INVALID_ARGUMENT', 'a blob root is 32 bytes');
  if (t.providers.length > TICKET_MAX_PROVIDERS) throw new OctopiiError('INVALID_ARGUMENT', `at most ${TICKET_MAX_PROVIDERS} providers in a ticket`);
  const parts: Uint8Array[] = [Uint8Array.of(TICKET_VERSION), t.root, Uint8Array.of(t.providers.length)];
  for (const p of t.providers) {
    const addr = new TextEncoder().encode(p.address);
    if (addr.byteLength > 255 || !/^[\x21-\x7e]+$/.test(p.address)) throw new OctopiiError('INVALID_ARGUMENT', `address ${JSON.stringify(p.address)} cannot go in a ticket`);
    parts.push(publicKeyFromNodeId(p.nodeId), Uint8Array.of(addr.byteLength), addr);
  }
  const bytes = new Uint8Array(parts.reduce((a, b) => a + b.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    bytes.set(p, off);
    off += p.byteLength;
  }
  return TICKET_PREFIX + base32nopad.encode(bytes).toLowerCase();
}

/** Decodes a ticket. Throws INVALID_ARGUMENT for anything that is not one (prefix, base32, version, truncation, trailing bytes). */
export function decodeTicket(s: string): BlobTicket {
  const bad = (why: string) => new OctopiiError('INVALID_ARGUMENT', `not a blob ticket: ${why}`);
  if (!s.startsWith(TICKET_PREFIX)) throw bad(`no "${TICKET_PREFIX}" prefix`);
  let bytes: Uint8Array;
  try {
    bytes = base32nopad.decode(s.slice(TICKET_PREFIX.length).toUpperCase());
  } catch {
    throw bad('bad base32');
  }
  if (bytes.byteLength < 34) throw bad('truncated');
  if (bytes[0] !== TICKET_VERSION) throw bad(`version ${bytes[0]}`);
  const root = bytes.slice(1, 33);
  const count = bytes[33]!;
  if (count > TICKET_MAX_PROVIDERS) throw bad(`${count} providers`);
  let off = 34;
  const providers: Array<Required<PeerRef>> = [];
  for (let i = 0; i < count; i++) {
    if (off + 33 > bytes.byteLength) throw bad('truncated');
    const nodeId = nodeIdFromPublicKey(bytes.slice(off, off + 32));
    const len = bytes[off + 32]!;
    off += 33;
    if (off + len > bytes.byteLength) throw bad('truncated');
    providers.push({ nodeId, address: new TextDecoder().decode(bytes.subarray(off, off + len)) });
    off += len;
  }
  if (off !== bytes.byteLength) throw bad('trailing bytes');
  return { root, providers };
}
