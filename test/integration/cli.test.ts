/**
 * The `octopii` command (issue 2 item 6) as a user runs it: `node bin/octopii.js id|serve|send`
 * in child processes, real QUIC on 127.0.0.1, temp identities and data dirs (never ~/.octopii).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isNodeId } from '../../src/identity.js';
import { ServeProcess, killAll, runCli } from '../helpers/cliProcess.js';
import { rm, sha256File, tempDir, writeRandomFile } from '../helpers/laneFixtures.js';

let root: string;
beforeAll(async () => {
  root = await tempDir('octopii-cli-');
});
afterAll(async () => {
  await killAll();
  if (root) await rm(root, { recursive: true, force: true });
});

/** `octopii id` for an identity file: the node ID it prints. */
async function nodeIdOf(identityFile: string): Promise<string> {
  const r = await runCli(['id', '--identity', identityFile]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

/** Starts `octopii serve` on 127.0.0.1 with its own identity and inbox; resolves after its listening line. */
async function serve(name: string, extra: string[] = []) {
  const dir = join(root, `${name}-inbox`);
  const identity = join(root, `${name}.pem`);
  const p = new ServeProcess(['--listen', '127.0.0.1:0', '--dir', dir, '--identity', identity, '--data-dir', join(root, `${name}-data`), ...extra]);
  const listening = await p.nextLine();
  expect(listening).toMatchObject({ event: 'listening', nodeId: expect.any(String), address: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
  return { p, dir, identity, nodeId: listening.nodeId as string, address: listening.address as string, transport: listening.transport as string };
}

/** `octopii send FILE ...` with a fixed sender identity; parses stdout as JSON when `--json`. */
async function send(file: string, args: string[]) {
  const r = await runCli(['send', file, '--identity', join(root, 'sender.pem'), '--data-dir', join(root, 'sender-data'), ...args]);
  let json: unknown;
  if (args.includes('--json') && r.stdout.trim()) json = JSON.parse(r.stdout);
  return { ...r, json: json as Record<string, any> };
}

describe('octopii id', () => {
  it('prints a node ID, the same one twice, and creates the identity file with mode 0600', async () => {
    const file = join(root, 'id-test', 'identity.pem');
    const first = await runCli(['id', '--identity', file]);
    expect(first.code, first.stderr).toBe(0);
    const id = first.stdout.trim();
    expect(id).toMatch(/^12D3KooW[1-9A-HJ-NP-Za-km-z]+$/);
    expect(isNodeId(id)).toBe(true);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const second = await runCli(['id', '--identity', file]);
    expect(second.code).toBe(0);
    expect(second.stdout.trim()).toBe(id);
  });

  it('--data-dir keeps the identity at DIR/identity.pem; another dir is another node', async () => {
    const dir = join(root, 'id-data');
    const a = await runCli(['id', '--data-dir', dir]);
    expect(a.code, a.stderr).toBe(0);
    expect((await stat(join(dir, 'identity.pem'))).mode & 0o777).toBe(0o600);
    expect(await nodeIdOf(join(dir, 'identity.pem'))).toBe(a.stdout.trim());
    const b = await runCli(['id', '--data-dir', join(root, 'id-data-2')]);
    expect(b.stdout.trim()).not.toBe(a.stdout.trim());
  });
});

describe('octopii serve / send on the default transport', () => {
  let a: Awaited<ReturnType<typeof serve>>;
  let b: Awaited<ReturnType<typeof serve>>;
  let senderId: string;
  let file: string;
  let fileSha: string;
  const size = 3 * 1024 * 1024 + 7;

  beforeAll(async () => {
    senderId = await nodeIdOf(join(root, 'sender.pem'));
    [a, b] = await Promise.all([serve('a'), serve('b')]);
    file = await writeRandomFile(join(root, 'payload.bin'), size);
    fileSha = await sha256File(file);
  });

  it('the default transport is quinn', () => {
    expect(a.transport).toBe('quinn');
  });

  it('send --json prints the TransferResult and exits 0; serve prints a received line', async () => {
    const r = await send(file, ['--to', a.address, '--peer-id', a.nodeId, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ peer: a.address, success: true, checksumVerified: true, bytesTransferred: size, sha256: fileSha });
    expect(r.json.durationMs).toEqual(expect.any(Number));
    const line = await a.p.nextLine();
    expect(line).toEqual({ event: 'received', file: join(a.dir, fileSha), bytes: size, sha256: fileSha, peer: senderId });
    expect(await sha256File(line.file as string)).toBe(fileSha);
  });

  it('send without --json says so on stderr and exits 0', async () => {
    const r = await send(file, ['--to', a.address]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`sent ${size} bytes`);
    expect(await a.p.nextLine()).toMatchObject({ event: 'received', sha256: fileSha, peer: senderId });
  });

  it('send --to A --to B ships to both servers and prints an array', async () => {
    const r = await send(file, ['--to', a.address, '--to', b.address, '--peer-id', a.nodeId, '--peer-id', b.nodeId, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(Array.isArray(r.json)).toBe(true);
    expect(r.json).toHaveLength(2);
    expect(r.json.map((x: { peer: string }) => x.peer)).toEqual([a.address, b.address]);
    for (const x of r.json as unknown as { success: boolean; sha256: string }[]) expect(x).toMatchObject({ success: true, sha256: fileSha });
    for (const s of [a, b]) {
      expect(await s.p.nextLine()).toEqual({ event: 'received', file: join(s.dir, fileSha), bytes: size, sha256: fileSha, peer: senderId });
    }
  });

  it('send to a wrong --peer-id exits non-zero with PEER_VERIFICATION_FAILED, nothing received', async () => {
    const r = await send(file, ['--to', a.address, '--peer-id', b.nodeId, '--json']);
    expect(r.code).not.toBe(0);
    expect(r.json).toMatchObject({ success: false, bytesTransferred: 0, error: { code: 'PEER_VERIFICATION_FAILED' } });
  });

  it('send of a missing file exits non-zero with SOURCE_NOT_FOUND', async () => {
    const r = await send(join(root, 'does-not-exist.bin'), ['--to', a.address, '--json']);
    expect(r.code).not.toBe(0);
    expect(r.json).toMatchObject({ success: false, error: { code: 'SOURCE_NOT_FOUND' } });
  });

  it('--peer-id together with --insecure is rejected', async () => {
    const r = await send(file, ['--to', a.address, '--peer-id', a.nodeId, '--insecure', '--json']);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('INVALID_ARGUMENT');
  });

  it('after the failures both servers still receive; the next lines are exactly those transfers', async () => {
    const r = await send(file, ['--to', b.address, '--to', a.address, '--json']);
    expect(r.code, r.stderr).toBe(0);
    // No line was printed for the refused or never-started transfers above.
    expect(await a.p.nextLine()).toMatchObject({ event: 'received', sha256: fileSha, peer: senderId });
    expect(await b.p.nextLine()).toMatchObject({ event: 'received', sha256: fileSha, peer: senderId });
  });

  it('serve exits 0 on SIGTERM and on SIGINT', async () => {
    expect(await a.p.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(await b.p.stop('SIGINT')).toEqual({ code: 0, signal: null });
  });
});

describe.each(['matrixai', 'quinn'] as const)('octopii serve / send with --transport %s', (transport) => {
  it('ships a file, serve prints the received line, and exits 0 on SIGINT', async () => {
    const senderId = await nodeIdOf(join(root, 'sender.pem'));
    const s = await serve(`t-${transport}`, ['--transport', transport]);
    expect(s.transport).toBe(transport);
    const file = await writeRandomFile(join(root, `payload-${transport}.bin`), 1024 * 1024 + 3);
    const sha = await sha256File(file);
    const r = await send(file, ['--to', s.address, '--peer-id', s.nodeId, '--transport', transport, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ success: true, checksumVerified: true, sha256: sha, bytesTransferred: 1024 * 1024 + 3 });
    expect(await s.p.nextLine()).toEqual({ event: 'received', file: join(s.dir, sha), bytes: 1024 * 1024 + 3, sha256: sha, peer: senderId });
    expect(await s.p.stop('SIGINT')).toEqual({ code: 0, signal: null });
  });
});
