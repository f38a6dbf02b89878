/**
 * Node identity (docs/PROTOCOL.md "Node ID").
 *
 * Each node has an Ed25519 key pair, created on first start and kept in a file (PKCS#8 PEM,
 * mode 0600). The node ID is the libp2p peer-ID encoding of the public key:
 *   base58btc( 0x00 0x24 ‖ 0x08 0x01 0x12 0x20 ‖ publicKey[32] )
 * i.e. an identity multihash of the protobuf `PublicKey { Type: Ed25519, Data }`. It always
 * starts with `12D3KooW`. Using this encoding lets the quinn transport (whose binding reports
 * peers this way) and the @matrixai/quic transport (which derives it from the TLS certificate
 * key) give a node the same ID.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, open, writeFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { OctopiiError, toOctopiiError } from './errors.js';
import { nodeIdFromPublicKey } from './nodeId.js';

// The node ID encoding lives in ./nodeId.ts (no node:crypto: the CLI's option checks use it).
export { isNodeId, nodeIdFromPublicKey, publicKeyFromNodeId } from './nodeId.js';

export interface Identity {
  readonly nodeId: string;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** Raw 32-byte Ed25519 private seed. */
  readonly seed: Uint8Array;
  readonly privateKey: KeyObject;
  /** PKCS#8 PEM of the private key. */
  readonly privateKeyPem: string;
}


/** Raw public key of an Ed25519 KeyObject (public or private). */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== 'ed25519') {
    throw new OctopiiError('INVALID_IDENTITY', `expected an Ed25519 key, got ${pub.asymmetricKeyType}`);
  }
  const jwk = pub.export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
}

export function identityFromPrivateKey(privateKey: KeyObject): Identity {
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new OctopiiError('INVALID_IDENTITY', `identity key must be Ed25519, got ${privateKey.asymmetricKeyType}`);
  }
  const jwk = privateKey.export({ format: 'jwk' });
  const publicKey = new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
  return {
    nodeId: nodeIdFromPublicKey(publicKey),
    publicKey,
    seed: new Uint8Array(Buffer.from(jwk.d!, 'base64url')),
    privateKey,
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
}

/** A fresh identity, not saved anywhere. */
export function generateIdentity(): Identity {
  return identityFromPrivateKey(generateKeyPairSync('ed25519').privateKey);
}

export interface LoadIdentityOptions {
  /**
   * What to do with an identity file that group or others may read or write (any of mode
   * 0o077 set, e.g. 0644): `'refuse'` (default) throws INVALID_IDENTITY with the `chmod 600`
   * that fixes it, like ssh does for a private key; `'fix'` chmods it to 0600 and calls
   * `onFixed(file, oldMode)` first.
   */
  permissions?: 'refuse' | 'fix';
  onFixed?: (file: string, oldMode: number) => void;
}

const octal = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

/**
 * Loads the identity in `file` (PKCS#8 PEM), creating it (mode 0600, and its directory) on first
 * use. Throws INVALID_IDENTITY if the file exists but is not an Ed25519 private key, or if
 * group/others have access to it (see {@link LoadIdentityOptions.permissions}); PERMISSION_DENIED
 * etc. (through toOctopiiError's errno table) when it cannot be read or created.
 */
export async function loadOrCreateIdentity(file: string, options: LoadIdentityOptions = {}): Promise<Identity> {
  let pem: string | undefined;
  try {
    const fh = await open(file, 'r');
    try {
      const { mode } = await fh.stat();
      if ((mode & 0o077) !== 0) {
        if (options.permissions !== 'fix') {
          throw new OctopiiError(
            'INVALID_IDENTITY',
            `identity file ${file} is accessible by others (mode ${octal(mode)}); a private key must be readable by its owner only: ` +
              `run \`chmod 600 ${file}\` (or pass --fix-permissions)`,
          );
        }
        options.onFixed?.(file, mode & 0o777);
        await fh.chmod(0o600);
      }
      pem = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (e instanceof OctopiiError) throw e;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw toOctopiiError(e);
  }
  if (pem !== undefined) {
    try {
      return identityFromPrivateKey(createPrivateKey(pem));
    } catch (e) {
      throw new OctopiiError('INVALID_IDENTITY', `cannot read identity ${file}: ${(e as Error).message}`, { cause: e });
    }
  }
  const id = generateIdentity();
  try {
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, id.privateKeyPem, { mode: 0o600, flag: 'wx' });
    await rename(tmp, file);
  } catch (e) {
    throw toOctopiiError(e);
  }
  return id;
}
