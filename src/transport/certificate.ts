/**
 * TLS certificates for the QUIC transports, made from the node's Ed25519 identity. The
 * certificate is self-signed; trust comes from the key: a peer is who its
 * certificate key says it is (docs/PROTOCOL.md "Peer verification").
 *
 * The certificate is DER-encoded here directly (RFC 5280 §4.1, Ed25519 per RFC 8410) and signed
 * with node:crypto: an X.509 library (@peculiar/x509 with reflect-metadata, what this file used
 * before) added ~17 MiB of resident memory to every node on the matrixai transport for one
 * certificate made at start-up (`npm run bench:memory -- --transport matrixai`). Reading peer
 * certificates uses node:crypto's X509Certificate.
 */
import { X509Certificate, randomBytes, sign } from 'node:crypto';
import type { Identity } from '../identity.js';
import { nodeIdFromPublicKey, rawPublicKey } from '../identity.js';
import { OctopiiError } from '../errors.js';

export interface NodeCertificate {
  /** PEM certificate. */
  certPem: string;
  /** PKCS#8 PEM private key (the identity key). */
  keyPem: string;
  /** DER bytes of the certificate. */
  der: Uint8Array;
}

// DER (X.690 §8, §10): definite lengths, minimal encodings.
function tlv(tag: number, ...content: Uint8Array[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), body]);
}
const seq = (...c: Uint8Array[]) => tlv(0x30, ...c);
const bitString = (bytes: Uint8Array) => tlv(0x03, Buffer.from([0]), bytes);
/** id-Ed25519 (1.3.101.112), no parameters (RFC 8410 §3). */
const ED25519 = seq(Buffer.from([0x06, 0x03, 0x2b, 0x65, 0x70]));
/** Name with one RDN: commonName (2.5.4.3) as UTF8String. */
const commonName = (cn: string) => seq(tlv(0x31, seq(Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]), tlv(0x0c, Buffer.from(cn, 'utf8')))));
/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5), seconds, Zulu. */
function time(ms: number): Buffer {
  const iso = new Date(Math.floor(ms / 1000) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '') + 'Z';
  const year = Number(iso.slice(0, 4));
  return year < 2050 ? tlv(0x17, Buffer.from(digits.slice(2), 'ascii')) : tlv(0x18, Buffer.from(digits, 'ascii'));
}
/**
 * basicConstraints (2.5.29.19), critical, cA false (the DEFAULT, so an empty SEQUENCE). At least
 * one extension: an empty extensions block is invalid DER for webpki (rustls) peers, e.g. the
 * seed's Rust Octopii (RFC 5280 §4.1: extensions SEQUENCE SIZE (1..MAX)).
 */
const EXTENSIONS = tlv(0xa3, seq(seq(Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x13]), tlv(0x01, Buffer.from([0xff])), tlv(0x04, seq()))));

/** Self-signed X.509 v3 certificate (Ed25519, CN = node ID, valid 10 years from an hour ago). */
export async function createNodeCertificate(identity: Identity): Promise<NodeCertificate> {
  const serial = randomBytes(8);
  serial[0] = (serial[0]! & 0x7f) | 0x10; // positive, no leading zero byte: minimal DER INTEGER
  const now = Date.now();
  const name = commonName(identity.nodeId);
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))), // version v3
    tlv(0x02, serial),
    ED25519,
    name, // issuer
    seq(time(now - 3600_000), time(now + 10 * 365 * 86400_000)),
    name, // subject
    seq(ED25519, bitString(identity.publicKey)),
    EXTENSIONS,
  );
  const der = seq(tbs, ED25519, bitString(sign(null, tbs, identity.privateKey)));
  const certPem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
  return { certPem, keyPem: identity.privateKeyPem, der: new Uint8Array(der) };
}

/**
 * Node ID proven by a peer's DER certificate: the certificate must carry an Ed25519 key and be
 * signed by that key. Returns null when the certificate is not an Ed25519 self-signed one (a
 * foreign peer, admissible only with `insecure`). Throws PEER_VERIFICATION_FAILED when an
 * Ed25519 certificate's signature does not verify or it is outside its validity period.
 */
export function nodeIdFromCertificate(der: Uint8Array): string | null {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch (e) {
    throw new OctopiiError('PEER_VERIFICATION_FAILED', 'peer certificate is not valid X.509', { cause: e });
  }
  if (cert.publicKey.asymmetricKeyType !== 'ed25519') return null;
  if (!cert.verify(cert.publicKey)) {
    throw new OctopiiError('PEER_VERIFICATION_FAILED', 'peer certificate signature does not match its key');
  }
  const now = Date.now();
  if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) < now) {
    throw new OctopiiError('PEER_VERIFICATION_FAILED', 'peer certificate is outside its validity period');
  }
  return nodeIdFromPublicKey(rawPublicKey(cert.publicKey));
}
