import { describe, expect, it } from 'vitest';
import { chmod, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  generateIdentity,
  isNodeId,
  loadOrCreateIdentity,
  nodeIdFromPublicKey,
  publicKeyFromNodeId,
} from '../../src/identity.js';
import { createNodeCertificate, nodeIdFromCertificate } from '../../src/transport/certificate.js';
import { loadConfig, identityFileOf } from '../../src/config.js';
import { OctopiiError } from '../../src/errors.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return e instanceof OctopiiError ? e.code : `not an OctopiiError: ${String(e)}`;
  }
  return undefined;
};

describe('node ID (docs/PROTOCOL.md "Node ID")', () => {
  it('is the base58btc libp2p peer ID of the Ed25519 key and decodes back to it', () => {
    const id = generateIdentity();
    expect(id.nodeId).toMatch(/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/);
    expect(nodeIdFromPublicKey(id.publicKey)).toBe(id.nodeId);
    expect(Buffer.from(publicKeyFromNodeId(id.nodeId))).toEqual(Buffer.from(id.publicKey));
  });

  it('refuses what is not an Ed25519 node ID with INVALID_IDENTITY', () => {
    expect(code(() => publicKeyFromNodeId('hello'))).toBe('INVALID_IDENTITY');
    expect(code(() => publicKeyFromNodeId('0OIl'))).toBe('INVALID_IDENTITY'); // not base58
    expect(code(() => nodeIdFromPublicKey(new Uint8Array(31)))).toBe('INVALID_IDENTITY');
    // a valid base58 string of the wrong multihash (sha2-256 peer ID shape)
    expect(isNodeId('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N')).toBe(false);
  });

  it('the certificate made from an identity proves that identity and no other', async () => {
    const a = generateIdentity();
    const cert = await createNodeCertificate(a);
    expect(nodeIdFromCertificate(cert.der)).toBe(a.nodeId);
    expect(nodeIdFromCertificate(cert.der)).not.toBe(generateIdentity().nodeId);
    const tampered = Uint8Array.from(cert.der);
    tampered[tampered.length - 1] ^= 0xff; // break the signature
    expect(() => nodeIdFromCertificate(tampered)).toThrowError(OctopiiError);
  });
});

describe('identity file', () => {
  it('is created on first use with mode 0600 and loaded unchanged afterwards', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'octopii-id-'));
    const file = join(dir, 'nested', 'identity.pem');
    const first = await loadOrCreateIdentity(file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).toContain('BEGIN PRIVATE KEY');
    const again = await loadOrCreateIdentity(file);
    expect(again.nodeId).toBe(first.nodeId);
  });

  it('a file that is not an Ed25519 key is refused with INVALID_IDENTITY, not overwritten', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'octopii-id-'));
    const file = join(dir, 'identity.pem');
    await writeFile(file, 'garbage');
    await chmod(file, 0o600);
    await expect(loadOrCreateIdentity(file)).rejects.toMatchObject({ code: 'INVALID_IDENTITY' });
    expect(await readFile(file, 'utf8')).toBe('garbage');
  });

  it.each([0o644, 0o666, 0o640, 0o604])('mode 0%o (group/others can read) is refused, saying how to fix it, like ssh', async (mode) => {
    const dir = await mkdtemp(join(tmpdir(), 'octopii-id-'));
    const file = join(dir, 'identity.pem');
    await writeFile(file, generateIdentity().privateKeyPem);
    await chmod(file, mode);
    const err = await loadOrCreateIdentity(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OctopiiError);
    expect((err as OctopiiError).code).toBe('INVALID_IDENTITY');
    expect((err as OctopiiError).message).toContain(`(mode 0${mode.toString(8)})`);
    expect((err as OctopiiError).message).toContain(`chmod 600 ${file}`);
    expect((await stat(file)).mode & 0o777).toBe(mode); // untouched
  });

  it("permissions: 'fix' chmods it to 0600, reports the old mode, and loads the key", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'octopii-id-'));
    const file = join(dir, 'identity.pem');
    const id = generateIdentity();
    await writeFile(file, id.privateKeyPem);
    await chmod(file, 0o644);
    const fixed: [string, number][] = [];
    const loaded = await loadOrCreateIdentity(file, { permissions: 'fix', onFixed: (f, m) => fixed.push([f, m]) });
    expect(loaded.nodeId).toBe(id.nodeId);
    expect(fixed).toEqual([[file, 0o644]]);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await loadOrCreateIdentity(file)).nodeId).toBe(id.nodeId); // now accepted as it is
  });
});

describe('config (src/config.ts)', () => {
  it('takes options over OCTOPII_* env vars over a file, and fills defaults', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'octopii-cfg-'));
    const file = join(dir, 'c.json');
    await writeFile(file, JSON.stringify({ listen: '127.0.0.1:1000', maxReceiveBytes: 10, transport: 'matrixai' }));
    const [a, b] = [generateIdentity().nodeId, generateIdentity().nodeId];
    const env = { OCTOPII_LISTEN: '127.0.0.1:2000', OCTOPII_ALLOW_PEERS: `${a},${b}`, OCTOPII_DATA_DIR: dir };
    const cfg = loadConfig({ maxReceiveBytes: 20 }, { env, file });
    expect(cfg.listen).toBe('127.0.0.1:2000');
    expect(cfg.maxReceiveBytes).toBe(20);
    expect(cfg.transport).toBe('matrixai');
    expect(cfg.allowPeers).toEqual([a, b]);
    expect(identityFileOf(cfg)).toBe(join(dir, 'identity.pem'));
    expect(loadConfig({}, { env: {} }).transport).toBe('quinn');
  });

  it('insecure forces the matrixai transport (only it speaks ALPN octopii)', () => {
    expect(loadConfig({ insecure: true, transport: 'quinn' }, { env: {} }).transport).toBe('matrixai');
  });

  it('OCTOPII_QUINN_THREADS sets quinnThreads (unset by default); 0 or a non-number is INVALID_ARGUMENT', () => {
    expect(loadConfig({}, { env: {} }).quinnThreads).toBeUndefined();
    expect(loadConfig({}, { env: { OCTOPII_QUINN_THREADS: '1' } }).quinnThreads).toBe(1);
    expect(loadConfig({ quinnThreads: 3 }, { env: { OCTOPII_QUINN_THREADS: '1' } }).quinnThreads).toBe(3);
    for (const bad of ['0', 'two']) {
      expect(() => loadConfig({}, { env: { OCTOPII_QUINN_THREADS: bad } })).toThrow(/quinnThreads/);
    }
  });

  it('OCTOPII_HASH_THREADS sets hashThreads (unset by default; 0 = on the event loop); -1 or a non-number is INVALID_ARGUMENT naming the variable', () => {
    expect(loadConfig({}, { env: {} }).hashThreads).toBeUndefined();
    expect(loadConfig({}, { env: { OCTOPII_HASH_THREADS: '2' } }).hashThreads).toBe(2);
    expect(loadConfig({}, { env: { OCTOPII_HASH_THREADS: '0' } }).hashThreads).toBe(0);
    expect(loadConfig({ hashThreads: 3 }, { env: { OCTOPII_HASH_THREADS: '2' } }).hashThreads).toBe(3);
    for (const bad of ['-1', 'two', '1.5', '257']) {
      expect(() => loadConfig({}, { env: { OCTOPII_HASH_THREADS: bad } }), bad).toThrow(/hashThreads \(OCTOPII_HASH_THREADS\)/);
    }
  });

  it('numeric OCTOPII_* values are validated, never passed on as NaN', () => {
    expect(loadConfig({}, { env: { OCTOPII_MAX_RECEIVE_BYTES: '1048576' } }).maxReceiveBytes).toBe(1_048_576);
    expect(loadConfig({}, { env: { OCTOPII_MAX_RECEIVE_BYTES: '10MB' } }).maxReceiveBytes).toBe(10_000_000);
    expect(loadConfig({}, { env: { OCTOPII_MAX_RECEIVE_BYTES: '1GiB' } }).maxReceiveBytes).toBe(2 ** 30);
    for (const [name, value, field] of [
      ['OCTOPII_MAX_RECEIVE_BYTES', 'lots', 'maxReceiveBytes'],
      ['OCTOPII_MAX_RECEIVE_BYTES', '-5', 'maxReceiveBytes'],
      ['OCTOPII_QUINN_THREADS', 'NaN', 'quinnThreads'],
      ['OCTOPII_QUINN_THREADS', '2x', 'quinnThreads'],
      ['OCTOPII_INSECURE', 'maybe', 'insecure'],
    ] as const) {
      const err = (() => {
        try {
          loadConfig({}, { env: { [name]: value } });
        } catch (e) {
          return e as OctopiiError;
        }
        return undefined;
      })();
      expect(err?.code, `${name}=${value}`).toBe('INVALID_ARGUMENT');
      expect(err?.message).toContain(`${field} (${name})`);
      expect(err?.message).toContain(JSON.stringify(value));
    }
    // An option given in code overrides a bad variable, which is then not an error.
    expect(loadConfig({ quinnThreads: 1 }, { env: { OCTOPII_QUINN_THREADS: 'x' } }).quinnThreads).toBe(1);
  });

  it('allowPeers takes node IDs only, from code or OCTOPII_ALLOW_PEERS', () => {
    expect(() => loadConfig({ allowPeers: ['notanid'] }, { env: {} })).toThrow(/allowPeers.0: not an Ed25519 node ID: "notanid"/);
    expect(() => loadConfig({}, { env: { OCTOPII_ALLOW_PEERS: 'x' } })).toThrow(/allowPeers.0 \(OCTOPII_ALLOW_PEERS\)/);
  });

  it('reports every invalid field in one INVALID_ARGUMENT', () => {
    let err: unknown;
    try {
      loadConfig({ transport: 'tcp' as never, maxReceiveBytes: -1 }, { env: {} });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OctopiiError);
    expect((err as OctopiiError).code).toBe('INVALID_ARGUMENT');
    expect((err as OctopiiError).message).toMatch(/transport/);
    expect((err as OctopiiError).message).toMatch(/maxReceiveBytes/);
  });
});
