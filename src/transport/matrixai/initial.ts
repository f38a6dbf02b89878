/**
 * The ALPN protocols a QUIC v1 client offers, read from its Initial packet's ClientHello before
 * the server makes the connection (RFC 9001 §5.2 Initial secrets, §5.3 AEAD, §5.4 header
 * protection; RFC 9000 §17.2.2 Initial packet, §19.6 CRYPTO frame; RFC 8446 §4.1.2 ClientHello;
 * RFC 7301 §3.1 ALPN extension). Initial packets are protected with keys anyone can derive from
 * the packet's destination connection ID: this proves nothing about the client, it only lets the
 * server pick per connection what its TLS layer asks for (see transport.ts, client certificates).
 */
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';

/** RFC 9001 §5.2: initial_salt of QUIC version 1. */
const INITIAL_SALT_V1 = Buffer.from('38762cf7f55934b34d179ae6a4c80cadccbb7f0a', 'hex');
const QUIC_V1 = 0x00000001;
const FRAME_PADDING = 0x00;
const FRAME_PING = 0x01;
const FRAME_CRYPTO = 0x06;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXTENSION_ALPN = 16;

const hmac = (key: Buffer, data: Buffer) => createHmac('sha256', key).update(data).digest();

/** TLS 1.3 HKDF-Expand-Label (RFC 8446 §7.1) with SHA-256 and an empty context; `length` ≤ 32. */
function expandLabel(secret: Buffer, label: string, length: number): Buffer {
  const full = Buffer.from(`tls13 ${label}`, 'ascii');
  const info = Buffer.concat([Buffer.from([length >> 8, length & 0xff, full.length]), full, Buffer.from([0])]);
  return hmac(secret, Buffer.concat([info, Buffer.from([1])])).subarray(0, length);
}

/** A cursor over bytes; every read throws RangeError past the end (caught by the caller). */
class Reader {
  constructor(private readonly b: Uint8Array, public at = 0) {}
  get left(): number {
    return this.b.length - this.at;
  }
  bytes(n: number): Uint8Array {
    if (n < 0 || n > this.left) throw new RangeError('truncated');
    const out = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  u8(): number {
    return this.bytes(1)[0]!;
  }
  uint(n: number): number {
    let v = 0;
    for (const x of this.bytes(n)) v = v * 256 + x;
    return v;
  }
  /** QUIC variable-length integer (RFC 9000 §16). */
  varint(): number {
    const first = this.b[this.at];
    if (first === undefined) throw new RangeError('truncated');
    const len = 1 << (first >> 6);
    const raw = this.bytes(len);
    let v = raw[0]! & 0x3f;
    for (let i = 1; i < len; i++) v = v * 256 + raw[i]!;
    return v;
  }
}

/** The unprotected payload of the first (Initial) packet of `datagram`, or undefined. */
function initialPayload(datagram: Uint8Array): Uint8Array | undefined {
  const r = new Reader(datagram);
  const first = r.u8();
  // Long header, fixed bit, type Initial (0b00).
  if ((first & 0xf0) !== 0xc0) return undefined;
  if (r.uint(4) !== QUIC_V1) return undefined;
  const dcid = Buffer.from(r.bytes(r.u8()));
  r.bytes(r.u8()); // scid
  r.bytes(r.varint()); // token
  const length = r.varint();
  const pnOffset = r.at;
  if (length > r.left || length < 20) return undefined;

  const initialSecret = hmac(INITIAL_SALT_V1, dcid); // HKDF-Extract
  const clientSecret = expandLabel(initialSecret, 'client in', 32);
  const key = expandLabel(clientSecret, 'quic key', 16);
  const iv = expandLabel(clientSecret, 'quic iv', 12);
  const hp = expandLabel(clientSecret, 'quic hp', 16);

  const packet = Buffer.from(datagram.subarray(0, pnOffset + length)); // a copy: unmasked below
  const sample = packet.subarray(pnOffset + 4, pnOffset + 20);
  const mask = createCipheriv('aes-128-ecb', hp, null).update(sample);
  packet[0] = packet[0]! ^ (mask[0]! & 0x0f);
  const pnLength = (packet[0]! & 0x03) + 1;
  let pn = 0;
  for (let i = 0; i < pnLength; i++) {
    packet[pnOffset + i] = packet[pnOffset + i]! ^ mask[1 + i]!;
    pn = pn * 256 + packet[pnOffset + i]!;
  }
  const nonce = Buffer.from(iv);
  for (let i = 0; i < 6; i++) nonce[11 - i] = nonce[11 - i]! ^ (Math.floor(pn / 2 ** (8 * i)) & 0xff);
  const header = packet.subarray(0, pnOffset + pnLength);
  const sealed = packet.subarray(pnOffset + pnLength);
  const decipher = createDecipheriv('aes-128-gcm', key, nonce);
  decipher.setAAD(header);
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
}

/** The CRYPTO stream bytes from offset 0 that the frames of `payload` carry contiguously. */
function cryptoPrefix(payload: Uint8Array): Uint8Array {
  const r = new Reader(payload);
  const pieces: { offset: number; data: Uint8Array }[] = [];
  while (r.left > 0) {
    const type = r.varint();
    if (type === FRAME_PADDING || type === FRAME_PING) continue;
    if (type !== FRAME_CRYPTO) break; // an ACK or anything else: what came before is enough
    const offset = r.varint();
    pieces.push({ offset, data: r.bytes(r.varint()) });
  }
  pieces.sort((a, b) => a.offset - b.offset);
  const out: Uint8Array[] = [];
  let end = 0;
  for (const p of pieces) {
    if (p.offset > end) break;
    if (p.offset + p.data.length > end) out.push(p.data.subarray(end - p.offset));
    end = Math.max(end, p.offset + p.data.length);
  }
  return Buffer.concat(out);
}

/** ALPN names of a complete ClientHello handshake message, or undefined if it is cut short. */
function clientHelloAlpns(hello: Uint8Array): string[] | undefined {
  const r = new Reader(hello);
  if (r.u8() !== HANDSHAKE_CLIENT_HELLO) return undefined;
  const body = new Reader(r.bytes(r.uint(3)));
  body.bytes(2 + 32); // legacy_version, random
  body.bytes(body.u8()); // legacy_session_id
  body.bytes(body.uint(2)); // cipher_suites
  body.bytes(body.u8()); // legacy_compression_methods
  const extensions = new Reader(body.bytes(body.uint(2)));
  while (extensions.left > 0) {
    const type = extensions.uint(2);
    const data = extensions.bytes(extensions.uint(2));
    if (type !== EXTENSION_ALPN) continue;
    const list = new Reader(data);
    const names = new Reader(list.bytes(list.uint(2)));
    const out: string[] = [];
    while (names.left > 0) out.push(Buffer.from(names.bytes(names.u8())).toString('latin1'));
    return out;
  }
  return [];
}

/**
 * The ALPN protocol names the client offers in the QUIC v1 Initial packet that starts
 * `datagram` (`[]` when its ClientHello has no ALPN extension), or `undefined` when that cannot
 * be read from this datagram alone: not a v1 Initial, authentication fails, or the ClientHello
 * continues in a later packet (e.g. a post-quantum key share). Never throws.
 */
export function offeredAlpns(datagram: Uint8Array): string[] | undefined {
  try {
    const payload = initialPayload(datagram);
    return payload === undefined ? undefined : clientHelloAlpns(cryptoPrefix(payload));
  } catch {
    return undefined;
  }
}
