/**
 * TLS certificates for the QUIC transports, made from the node's Ed25519 identity with
 * @peculiar/x509. The certificate is self-signed; trust comes from the key:
 * a peer is who its certificate key says it is (docs/PROTOCOL.md "Peer verification").
 */
import 'reflect-metadata'; // @peculiar/x509 (through tsyringe) needs the reflect polyfill
import * as x509 from '@peculiar/x509';
import { webcrypto, X509Certificate, randomBytes } from 'node:crypto';
import type { Identity } from '../identity.js';
import { nodeIdFromPublicKey, rawPublicKey } from '../identity.js';
import { OctopiiError } from '../errors.js';

type X509Crypto = Parameters<typeof x509.cryptoProvider.set>[0];
type X509Key = x509.X509CertificateCreateSelfSignedParams['keys']['privateKey'];
x509.cryptoProvider.set(webcrypto as unknown as X509Crypto);

export interface NodeCertificate {
  /** PEM certificate. */
  certPem: string;
  /** PKCS#8 PEM private key (the identity key). */
  keyPem: string;
  /** DER bytes of the certificate. */
  der: Uint8Array;
}

/** Self-signed X.509 certificate (Ed25519, CN = node ID, valid 10 years from an hour ago). */
export async function createNodeCertificate(identity: Identity): Promise<NodeCertificate> {
  const subtle = webcrypto.subtle;
  const alg = { name: 'Ed25519' };
  const privateKey = await subtle.importKey(
    'pkcs8',
    identity.privateKey.export({ format: 'der', type: 'pkcs8' }),
    alg,
    true,
    ['sign'],
  );
  const publicKey = await subtle.importKey('raw', identity.publicKey, alg, true, ['verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(randomBytes(8)).toString('hex').replace(/^[89a-f]/, '1'),
    name: `CN=${identity.nodeId}`,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 10 * 365 * 86400_000),
    signingAlgorithm: alg,
    // At least one extension: an empty extensions block is invalid DER for webpki (rustls)
    // peers, e.g. the seed's Rust Octopii (RFC 5280 §4.1: extensions SEQUENCE SIZE (1..MAX)).
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
    keys: { privateKey: privateKey as unknown as X509Key, publicKey: publicKey as unknown as X509Key },
  });
  return { certPem: cert.toString('pem'), keyPem: identity.privateKeyPem, der: new Uint8Array(cert.rawData) };
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
