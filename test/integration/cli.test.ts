/**
 * The `octopii` command as a user runs it: `node bin/octopii.js id|serve|send` in child
 * processes, real QUIC on 127.0.0.1, temp identities and data dirs (never ~/.octopii). Every test
 * stands alone: it makes its own files and servers or waits for the lines of its own transfer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isNodeId } from '../../src/identity.js';
import { NODE_FLAGS } from '../../src/nodeFlags.js';
import { OCTOPII_BIN, ServeProcess, killAll, runCli } from '../helpers/cliProcess.js';
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
  // Two servers shared by the tests below to save start-up time. Each test ships its own file
  // (its own SHA-256) and waits for the line of that file, so the tests pass alone, in any order
  // and after another one failed: none depends on a line another test left or consumed.
  let a: Awaited<ReturnType<typeof serve>>;
  let b: Awaited<ReturnType<typeof serve>>;
  let senderId: string;
  let n = 0;

  beforeAll(async () => {
    senderId = await nodeIdOf(join(root, 'sender.pem'));
    [a, b] = await Promise.all([serve('a'), serve('b')]);
  });
  afterAll(async () => {
    await Promise.all([a?.p.stop('SIGTERM'), b?.p.stop('SIGTERM')]);
  });

  /** A fresh random file of `size` bytes for one test, and its SHA-256. */
  async function payload(size = 3 * 1024 * 1024 + 7) {
    const file = await writeRandomFile(join(root, `payload-${++n}.bin`), size);
    return { file, size, sha: await sha256File(file) };
  }
  /** The next line of `server` about the file with this SHA-256; `skipped`: the lines before it. */
  const lineOf = (server: typeof a, sha: string) => server.p.lineWhere((l) => l.sha256 === sha);

  it('the default transport is quinn', () => {
    expect(a.transport).toBe('quinn');
  });

  it("serve logs each transfer on stderr (pino JSON lines): a start and an end line with one transfer ID", async () => {
    const { file, sha } = await payload(1024 * 1024 + 3);
    const r = await send(file, ['--to', b.address, '--peer-id', b.nodeId, '--json']);
    expect(r.code, r.stderr).toBe(0);
    await lineOf(b, sha);
    const logs = () => b.p.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const deadline = Date.now() + 10_000;
    while (!logs().some((l) => l.event === 'transfer.finished' && l.sha256 === sha) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    const finished = logs().find((l) => l.event === 'transfer.finished' && l.sha256 === sha)!;
    expect(finished).toMatchObject({ level: 30, nodeId: b.nodeId, peer: `peer:${senderId}`, direction: 'receive', outcome: 'acknowledged' });
    expect(logs().filter((l) => l.transfer === finished.transfer).map((l) => l.event)).toEqual(['transfer.started', 'transfer.finished']);
  });

  it('send --json prints the TransferResult and exits 0; serve prints a received line', async () => {
    const { file, size, sha } = await payload();
    const r = await send(file, ['--to', a.address, '--peer-id', a.nodeId, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ peer: a.address, success: true, checksumVerified: true, bytesTransferred: size, sha256: sha });
    expect(r.json.durationMs).toEqual(expect.any(Number));
    const { line } = await lineOf(a, sha);
    expect(line).toEqual({ event: 'received', file: join(a.dir, sha), bytes: size, sha256: sha, peer: senderId });
    expect(await sha256File(line.file as string)).toBe(sha);
  });

  it('send without --json says so on stderr and exits 0', async () => {
    const { file, size, sha } = await payload();
    const r = await send(file, ['--to', a.address]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`sent ${size} bytes to ${a.address} in \\d`));
    expect((await lineOf(a, sha)).line).toMatchObject({ event: 'received', peer: senderId });
  });

  it('send --to A --to B ships to both servers and prints an array', async () => {
    const { file, size, sha } = await payload();
    const r = await send(file, ['--to', a.address, '--to', b.address, '--peer-id', a.nodeId, '--peer-id', b.nodeId, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(Array.isArray(r.json)).toBe(true);
    expect(r.json).toHaveLength(2);
    expect(r.json.map((x: { peer: string }) => x.peer)).toEqual([a.address, b.address]);
    for (const x of r.json as unknown as { success: boolean; sha256: string }[]) expect(x).toMatchObject({ success: true, sha256: sha });
    for (const s of [a, b]) {
      expect((await lineOf(s, sha)).line).toEqual({ event: 'received', file: join(s.dir, sha), bytes: size, sha256: sha, peer: senderId });
    }
  });

  it('send to a wrong --peer-id exits 1 with PEER_VERIFICATION_FAILED; the server prints nothing for it and still receives', async () => {
    const refused = await payload(1024);
    const r = await send(refused.file, ['--to', a.address, '--peer-id', b.nodeId, '--json']);
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ success: false, bytesTransferred: 0, error: { code: 'PEER_VERIFICATION_FAILED' } });
    // A transfer after it arrives, and no line about the refused one came before it.
    const next = await payload(1024);
    const ok = await send(next.file, ['--to', a.address, '--peer-id', a.nodeId, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const { line, skipped } = await lineOf(a, next.sha);
    expect(line).toMatchObject({ event: 'received', sha256: next.sha });
    expect(skipped.filter((l) => l.sha256 === refused.sha || l.event === 'failed')).toEqual([]);
  });

  it('send of a missing file exits 1 with SOURCE_NOT_FOUND for every --to, before connecting', async () => {
    const r = await send(join(root, 'does-not-exist.bin'), ['--to', a.address, '--to', b.address, '--json']);
    expect(r.code).toBe(1);
    expect(r.json).toHaveLength(2);
    for (const x of r.json as unknown as object[]) expect(x).toMatchObject({ success: false, error: { code: 'SOURCE_NOT_FOUND' } });
  });

  it('--peer-id together with --insecure is a usage error (exit 2) naming both flags', async () => {
    const { file } = await payload(1024);
    const r = await send(file, ['--to', a.address, '--peer-id', a.nodeId, '--insecure', '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("option '--peer-id <id>' cannot be used with option '--insecure'");
  });
});

describe('octopii serve exits 0 on a signal', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s', async (signal) => {
    const s = await serve(`signal-${signal}`);
    expect(await s.p.stop(signal)).toEqual({ code: 0, signal: null });
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

describe('usage errors exit 2 before anything starts', () => {
  it('send without --to', async () => {
    const r = await runCli(['send', join(root, 'nothing.bin'), '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("error: required option '--to <host:port>' not specified");
  });

  it.each([
    [['send', 'f', '--to', '127.0.0.1:1', '--timeout', 'abc'], "option '--timeout <ms>' argument 'abc' is invalid"],
    [['send', 'f', '--to', '127.0.0.1:1', '--peer-id', 'hello'], "option '--peer-id <id>' argument 'hello' is invalid"],
    [['serve', '--listen', '127.0.0.1:0', '--dir', 'x', '--max-bytes', '10 parsecs'], "option '--max-bytes <size>' argument '10 parsecs' is invalid"],
  ])('%j', async (args, message) => {
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('a bad OCTOPII_* variable names the variable (exit 2)', async () => {
    const r = await runCli(['id', '--identity', join(root, 'env.pem')], { env: { OCTOPII_HASH_THREADS: 'lots' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('octopii: INVALID_ARGUMENT: invalid configuration: hashThreads (OCTOPII_HASH_THREADS): expected a whole number, got "lots"');
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });
});

describe('serve refuses to start on a receive directory it cannot use (exit 1, one line, never listening)', () => {
  async function refused(dir: string) {
    const r = await runCli(['serve', '--listen', '127.0.0.1:0', '--dir', dir, '--identity', join(root, 'dirs.pem')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(''); // no `listening` line
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    return r.stderr.trim();
  }

  it('--dir naming a regular file: NOT_A_DIRECTORY', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, 'x');
    expect(await refused(file)).toBe(`octopii: NOT_A_DIRECTORY: receive directory ${file} exists and is not a directory`);
  });

  it('--dir that cannot be created (under a file): NOT_A_DIRECTORY with the reason', async () => {
    const file = join(root, 'another-file');
    await writeFile(file, 'x');
    expect(await refused(join(file, 'inbox'))).toBe(
      `octopii: NOT_A_DIRECTORY: cannot create receive directory ${join(file, 'inbox')}: a parent of it is not a directory (ENOTDIR)`,
    );
  });

  // Root ignores mode bits, so read-only means a read-only mount: a bind mount private to the
  // serve process (its own mount namespace), where the machine allows it.
  const canMountReadOnly = (() => {
    const r = spawnSync('unshare', ['-m', 'sh', '-c', 'd=$(mktemp -d) && mount --bind -o ro "$d" "$d" && ! touch "$d/x" 2>/dev/null; s=$?; rmdir "$d" 2>/dev/null; exit $s'], { stdio: 'ignore' });
    return r.status === 0;
  })();

  it.skipIf(!canMountReadOnly)('--dir on a read-only mount: PERMISSION_DENIED, found by writing a probe file', async () => {
    const dir = join(root, 'ro-inbox');
    await mkdir(dir);
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
      const child = spawn(
        'unshare',
        ['-m', 'sh', '-c', 'd="$1"; shift; mount --bind -o ro "$d" "$d" && exec "$@"', 'sh', dir, process.execPath, ...NODE_FLAGS, OCTOPII_BIN, 'serve', '--listen', '127.0.0.1:0', '--dir', dir, '--identity', join(root, 'dirs.pem')],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += String(d)));
      child.stderr.on('data', (d) => (stderr += String(d)));
      child.once('close', (code) => done({ code, stdout, stderr }));
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe(`octopii: PERMISSION_DENIED: cannot write to receive directory ${dir}: read-only file system (EROFS)`);
  });
});

describe('serve removes the unfinished receives of a crashed run', () => {
  it('deletes .incoming.<hex>.part files, says so in one JSON line before listening, keeps everything else', async () => {
    const dir = join(root, 'crashed-inbox');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, '.incoming.0123456789ab.part'), Buffer.alloc(1000));
    await writeFile(join(dir, '.incoming.abcdefabcdef.part'), Buffer.alloc(500));
    await writeFile(join(dir, 'notes.part'), 'mine');
    const p = new ServeProcess(['--listen', '127.0.0.1:0', '--dir', dir, '--identity', join(root, 'crashed.pem')]);
    expect(await p.nextLine()).toEqual({ event: 'cleaned', files: 2, bytes: 1500 });
    expect(await p.nextLine()).toMatchObject({ event: 'listening' });
    expect(await readdir(dir)).toEqual(['notes.part']);
    expect(await p.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});

describe('identity file permissions', () => {
  it.each([['644', 0o644], ['666', 0o666]])('mode 0%s is refused with the chmod that fixes it; --fix-permissions fixes it', async (_, mode) => {
    const file = join(root, `perm-${mode.toString(8)}.pem`);
    const id = await nodeIdOf(file);
    await chmod(file, mode);
    const refused = await runCli(['id', '--identity', file]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain(`octopii: INVALID_IDENTITY: identity file ${file} is accessible by others (mode 0${mode.toString(8)})`);
    expect(refused.stderr).toContain(`chmod 600 ${file}`);
    expect((await stat(file)).mode & 0o777).toBe(mode);
    const fixed = await runCli(['id', '--identity', file, '--fix-permissions']);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(fixed.stdout.trim()).toBe(id);
    expect(fixed.stderr).toContain(`${file} had mode 0${mode.toString(8)}; changed to 0600`);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('serve refuses such a file too, before listening', async () => {
    const file = join(root, 'perm-serve.pem');
    await nodeIdOf(file);
    await chmod(file, 0o644);
    const r = await runCli(['serve', '--listen', '127.0.0.1:0', '--dir', join(root, 'perm-inbox'), '--identity', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('INVALID_IDENTITY');
  });
});

describe('send failure messages', () => {
  it('give the real elapsed time, not one attempt\'s timeout', async () => {
    // Nothing listens on this port: every dial times out (three attempts of at most --timeout each).
    const file = join(root, 'tiny.bin');
    await writeFile(file, 'x');
    const r = await send(file, ['--to', '127.0.0.1:9', '--timeout', '300']);
    expect(r.code).toBe(1);
    const m = /^send to 127\.0\.0\.1:9 failed after (\d+) ms: (\w+): /m.exec(r.stderr) ?? /^send to 127\.0\.0\.1:9 failed after ([\d.]+) s: (\w+): /m.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const elapsedMs = r.stderr.includes(' s: ') ? Number(m![1]) * 1000 : Number(m![1]);
    expect(elapsedMs).toBeGreaterThanOrEqual(300);
  });
});
