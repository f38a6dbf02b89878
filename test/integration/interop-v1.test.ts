/**
 * Shipping Lane v1 interop: an independent
 * implementation of seed 001's wire format — `test/interop/lane-v1-peer`, Rust quinn 0.9 +
 * rustls 0.20 from Debian's crate packages, ALPN `octopii`, a fresh self-signed ECDSA P-256
 * certificate (what the seed's rcgen makes by default) — against the `octopii` CLI:
 *  - `lane-v1-peer send` → `octopii serve --insecure`, with the peer's client certificate and
 *    without one (`--no-client-cert`: the seed's Rust Octopii client, rustls
 *    `with_no_client_auth`);
 *  - `octopii send --insecure --json` → `lane-v1-peer serve`, a server that asks for no client
 *    certificate (the seed's) and one that asks for an optional one (`--request-client-cert`);
 *  - without `--insecure`, octopii refuses the peer on both sides (with or without its client
 *    certificate) and nothing is stored.
 * The peer is built by test/interop/build-peer.sh (idempotent; CI builds it before the tests).
 * If it cannot be built, every test here fails: there is no skip.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const buildScript = join(root, 'test/interop/build-peer.sh');
const octopiiBin = join(root, 'bin/octopii.js');

/** Upper bound for any single process step; a hang fails the test instead of stalling it. */
const STEP_MS = 60_000;

let peerBin = '';
let work = '';
const children = new Set<ChildProcess>();

type Json = Record<string, unknown>;

interface Proc {
  child: ChildProcess;
  /** JSON lines seen on stdout so far. */
  events: Json[];
  stderr: () => string;
  /** Resolves with the first stdout JSON line matching `pred` (past or future). */
  waitFor(pred: (e: Json) => boolean, what: string): Promise<Json>;
  /** Resolves with the exit code (signal exits give -1). */
  exited: Promise<number>;
}

function run(cmd: string, args: string[]): Proc {
  const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const events: Json[] = [];
  let waiters: Array<() => void> = [];
  const wake = (): void => {
    const ws = waiters;
    waiters = [];
    for (const w of ws) w();
  };
  let err = '';
  let closed = false;
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      events.push(JSON.parse(line) as Json);
    } catch {
      events.push({ event: 'non-json', line });
    }
    wake();
  });
  // 'close' (not 'exit'): fires after stdout is drained, so `events` is complete by then.
  const exited = new Promise<number>((res) => {
    child.once('close', (code) => {
      closed = true;
      children.delete(child);
      res(code ?? -1);
      wake();
    });
  });
  const waitFor = (pred: (e: Json) => boolean, what: string) =>
    new Promise<Json>((res, rej) => {
      const context = () => `${cmd} ${args.join(' ')}\nstdout: ${JSON.stringify(events)}\nstderr: ${err}`;
      const timer = setTimeout(() => rej(new Error(`timed out waiting for ${what} from ${context()}`)), STEP_MS);
      const check = (): void => {
        const hit = events.find(pred);
        if (hit) {
          clearTimeout(timer);
          res(hit);
        } else if (closed) {
          clearTimeout(timer);
          rej(new Error(`exited before ${what}: ${context()}`));
        } else waiters.push(check);
      };
      check();
    });
  return { child, events, stderr: () => err, waitFor, exited };
}

const octopii = (...args: string[]): Proc => run(process.execPath, [octopiiBin, ...args]);
const peer = (...args: string[]): Proc => run(peerBin, args);

async function exitOf(p: Proc): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => {
    timer = setTimeout(() => {
      p.child.kill('SIGKILL');
      rej(new Error(`process did not exit\nstdout: ${JSON.stringify(p.events)}\nstderr: ${p.stderr()}`));
    }, STEP_MS);
  });
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Stops a server process with SIGINT and returns its exit code. */
async function stop(p: Proc): Promise<number> {
  p.child.kill('SIGINT');
  return exitOf(p);
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

let fileSeq = 0;
async function makeFile(size: number): Promise<{ path: string; sha256: string }> {
  const path = join(work, `src-${fileSeq++}-${size}.bin`);
  const data = randomBytes(size);
  await writeFile(path, data);
  return { path, sha256: createHash('sha256').update(data).digest('hex') };
}

async function freshDir(name: string): Promise<string> {
  const dir = join(work, `${name}-${fileSeq++}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** `octopii serve` on `listen` with its own identity; resolves once it printed `listening`. */
async function octopiiServe(listen: string, insecure: boolean): Promise<{ proc: Proc; address: string; dir: string }> {
  const dir = await freshDir('octopii-in');
  const state = await freshDir('octopii-state');
  const args = ['serve', '--listen', listen, '--dir', dir, '--identity', join(state, 'identity.pem'), '--data-dir', state];
  if (insecure) args.push('--insecure');
  const proc = octopii(...args);
  const listening = await proc.waitFor((e) => e.event === 'listening', 'the listening line');
  expect(typeof listening.nodeId).toBe('string');
  return { proc, address: String(listening.address), dir };
}

async function peerServe(listen: string, ...flags: string[]): Promise<{ proc: Proc; address: string; dir: string }> {
  const dir = await freshDir('peer-in');
  const proc = peer('serve', '--listen', listen, '--dir', dir, ...flags);
  const listening = await proc.waitFor((e) => e.event === 'listening', 'the listening line');
  return { proc, address: String(listening.address), dir };
}

async function octopiiSend(file: string, to: string, insecure: boolean): Promise<{ code: number; proc: Proc }> {
  const state = await freshDir('octopii-sender');
  const args = ['send', file, '--to', to, '--json', '--identity', join(state, 'identity.pem'), '--data-dir', state];
  if (insecure) args.push('--insecure');
  const proc = octopii(...args);
  return { code: await exitOf(proc), proc };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'octopii-interop-'));
  // Builds (or finds up to date) the Rust peer; a failure here fails every test below.
  peerBin = await new Promise<string>((res, rej) => {
    execFile('bash', [buildScript], { cwd: root, timeout: 20 * 60_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const path = stdout.trim().split('\n').pop() ?? '';
      if (error || !path) rej(new Error(`test/interop/build-peer.sh failed: ${error?.message ?? 'no path printed'}\n${stderr}`));
      else res(path);
    });
  });
}, 20 * 60_000);

afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('lane-v1-peer (the independent Rust implementation) against itself', () => {
  it('ships files over IPv4 and IPv6 with matching SHA-256', async () => {
    for (const listen of ['127.0.0.1:0', '[::1]:0']) {
      const server = await peerServe(listen);
      for (const size of [0, 65_537]) {
        const src = await makeFile(size);
        const send = peer('send', src.path, '--to', server.address);
        expect(await exitOf(send), `lane-v1-peer send failed: ${send.stderr()}`).toBe(0);
        expect(send.events).toContainEqual({ event: 'sent', bytes: size, status: 0 });
        const got = await server.proc.waitFor((e) => e.event === 'received' && e.bytes === size, `received ${size}`);
        expect(got).toMatchObject({ status: 0, sha256: src.sha256 });
        expect(await sha256File(String(got.file))).toBe(src.sha256);
      }
      expect(await stop(server.proc)).toBe(0);
    }
  });
});

describe('lane-v1-peer serve --sync data (fdatasync before the status byte, the baseline of bench/cli-vs-quinn.ts)', () => {
  it('receives from lane-v1-peer send and from octopii send --insecure with matching SHA-256', async () => {
    const server = await peerServe('127.0.0.1:0', '--sync', 'data');
    const a = await makeFile(1024 * 1024 + 7);
    const send = peer('send', a.path, '--to', server.address);
    expect(await exitOf(send), `lane-v1-peer send failed: ${send.stderr()}`).toBe(0);
    const first = await server.proc.waitFor((e) => e.event === 'received' && e.sha256 === a.sha256, 'the first received line');
    expect(first).toMatchObject({ status: 0, bytes: 1024 * 1024 + 7 });
    expect(await sha256File(String(first.file))).toBe(a.sha256);
    const b = await makeFile(65_537);
    const { code, proc } = await octopiiSend(b.path, server.address, true);
    expect(code, `${JSON.stringify(proc.events)}\n${proc.stderr()}`).toBe(0);
    const second = await server.proc.waitFor((e) => e.event === 'received' && e.sha256 === b.sha256, 'the second received line');
    expect(second).toMatchObject({ status: 0, bytes: 65_537 });
    expect(await sha256File(String(second.file))).toBe(b.sha256);
    expect(await stop(server.proc)).toBe(0);
  });
});

describe('octopii serve --insecure receives from lane-v1-peer send', () => {
  it.each([
    ['127.0.0.1:0', 0],
    ['127.0.0.1:0', 1],
    ['127.0.0.1:0', 65_537],
    ['127.0.0.1:0', 1024 * 1024 + 7],
    ['[::1]:0', 65_536],
  ])('on %s, %i bytes', async (listen, size) => {
    const server = await octopiiServe(listen, true);
    const src = await makeFile(size);
    const send = peer('send', src.path, '--to', server.address);
    const code = await exitOf(send);
    expect(send.events, send.stderr()).toContainEqual({ event: 'sent', bytes: size, status: 0 });
    expect(code).toBe(0);
    const got = await server.proc.waitFor((e) => e.event === 'received', 'a received line');
    expect(got).toMatchObject({ bytes: size, sha256: src.sha256 });
    expect(got).toHaveProperty('peer');
    expect(await sha256File(String(got.file))).toBe(src.sha256);
    expect(await stop(server.proc)).toBe(0);
  });

  it.each([
    ['127.0.0.1:0', 0],
    ['127.0.0.1:0', 65_537],
    ['127.0.0.1:0', 1024 * 1024 + 7],
    ['[::1]:0', 65_536],
  ])('from a client without a certificate (the seed\'s Rust Octopii) on %s, %i bytes', async (listen, size) => {
    const server = await octopiiServe(listen, true);
    const src = await makeFile(size);
    const send = peer('send', src.path, '--to', server.address, '--no-client-cert');
    const code = await exitOf(send);
    expect(send.events, send.stderr()).toContainEqual({ event: 'sent', bytes: size, status: 0 });
    expect(code).toBe(0);
    const got = await server.proc.waitFor((e) => e.event === 'received', 'a received line');
    expect(got).toMatchObject({ bytes: size, sha256: src.sha256 });
    // No node ID: the sender is known by its address.
    expect(String(got.peer)).toMatch(/^(127\.0\.0\.1|\[::1\]):\d+$/);
    expect(await sha256File(String(got.file))).toBe(src.sha256);
    expect(await stop(server.proc)).toBe(0);
  });

  it('takes several transfers one after another on one server', async () => {
    const server = await octopiiServe('127.0.0.1:0', true);
    const hashes: string[] = [];
    for (const size of [2, 127, 3 * 65_536]) {
      const src = await makeFile(size);
      hashes.push(src.sha256);
      expect(await exitOf(peer('send', src.path, '--to', server.address))).toBe(0);
    }
    for (const h of hashes) await server.proc.waitFor((e) => e.event === 'received' && e.sha256 === h, `received ${h}`);
    expect(await stop(server.proc)).toBe(0);
  });
});

describe('octopii send --insecure ships to lane-v1-peer serve', () => {
  it.each([
    ['127.0.0.1:0', 0],
    ['127.0.0.1:0', 7],
    ['127.0.0.1:0', 65_535],
    ['127.0.0.1:0', 1024 * 1024 + 7],
    ['[::1]:0', 65_537],
  ])('to %s, %i bytes', async (listen, size) => {
    const server = await peerServe(listen);
    const src = await makeFile(size);
    const { code, proc } = await octopiiSend(src.path, server.address, true);
    expect(code, `${JSON.stringify(proc.events)}\n${proc.stderr()}`).toBe(0);
    const result = proc.events.find((e) => 'success' in e);
    expect(result).toMatchObject({ success: true, checksumVerified: true, bytesTransferred: size });
    const got = await server.proc.waitFor((e) => e.event === 'received', 'a received line');
    expect(got).toMatchObject({ status: 0, bytes: size, sha256: src.sha256, clientCert: false });
    expect(await sha256File(String(got.file))).toBe(src.sha256);
    expect(await stop(server.proc)).toBe(0);
  });

  it.each([
    ['127.0.0.1:0', 0],
    ['127.0.0.1:0', 1024 * 1024 + 7],
    ['[::1]:0', 65_537],
  ])('to a server that asks for a client certificate, on %s, %i bytes: octopii presents its own', async (listen, size) => {
    const server = await peerServe(listen, '--request-client-cert');
    const src = await makeFile(size);
    const { code, proc } = await octopiiSend(src.path, server.address, true);
    expect(code, `${JSON.stringify(proc.events)}\n${proc.stderr()}`).toBe(0);
    const result = proc.events.find((e) => 'success' in e);
    expect(result).toMatchObject({ success: true, checksumVerified: true, bytesTransferred: size });
    const got = await server.proc.waitFor((e) => e.event === 'received', 'a received line');
    expect(got).toMatchObject({ status: 0, bytes: size, sha256: src.sha256, clientCert: true });
    expect(await sha256File(String(got.file))).toBe(src.sha256);
    expect(await stop(server.proc)).toBe(0);
  });
});

describe('without --insecure the foreign peer is refused', () => {
  it('octopii serve refuses lane-v1-peer send; nothing is received', async () => {
    const server = await octopiiServe('127.0.0.1:0', false);
    const src = await makeFile(4096);
    const send = peer('send', src.path, '--to', server.address);
    expect(await exitOf(send)).not.toBe(0);
    expect(send.events.some((e) => e.event === 'sent' && e.status === 0)).toBe(false);
    // Refused during the handshake: no stream was ever accepted, so nothing can arrive later.
    expect(await stop(server.proc)).toBe(0);
    expect(server.proc.events.filter((e) => e.event === 'received')).toEqual([]);
    expect(await readdir(server.dir)).toEqual([]);
  });

  it('octopii serve refuses lane-v1-peer send --no-client-cert; nothing is received', async () => {
    const server = await octopiiServe('127.0.0.1:0', false);
    const src = await makeFile(4096);
    const send = peer('send', src.path, '--to', server.address, '--no-client-cert');
    expect(await exitOf(send)).not.toBe(0);
    expect(send.events.some((e) => e.event === 'sent' && e.status === 0)).toBe(false);
    // Refused during the handshake (certificate_required): no stream was ever accepted.
    expect(await stop(server.proc)).toBe(0);
    expect(server.proc.events.filter((e) => e.event === 'received')).toEqual([]);
    expect(await readdir(server.dir)).toEqual([]);
  });

  it('octopii send exits 0 within seconds when the receiver process exits right after its answer', async () => {
    // lane-v1-peer serve --once vanishes ~20 ms after handing over the status byte: no FIN,
    // no CONNECTION_CLOSE. The sender once printed success and then hung in close.
    const dir = await freshDir('peer-once');
    const server = peer('serve', '--listen', '127.0.0.1:0', '--dir', dir, '--once');
    const listening = await server.waitFor((e) => e.event === 'listening', 'the listening line');
    const src = await makeFile(1 << 20);
    const state = await freshDir('octopii-sender');
    const send = octopii('send', src.path, '--to', String(listening.address), '--json', '--insecure',
      '--identity', join(state, 'identity.pem'), '--data-dir', state);
    await send.waitFor((e) => e.success === true, 'the success line');
    const answeredAt = performance.now();
    expect(await exitOf(send)).toBe(0);
    const exitMs = performance.now() - answeredAt;
    console.log(`octopii send exited ${exitMs.toFixed(0)} ms after printing success`);
    expect(exitMs).toBeLessThan(5_000);
    expect(await exitOf(server)).toBe(0);
    const got = server.events.find((e) => e.event === 'received');
    expect(got).toMatchObject({ bytes: 1 << 20, sha256: src.sha256, status: 0 });
  });

  it('octopii send refuses lane-v1-peer serve; nothing is received', async () => {
    const server = await peerServe('127.0.0.1:0');
    const src = await makeFile(4096);
    const { code, proc } = await octopiiSend(src.path, server.address, false);
    expect(code).not.toBe(0);
    // --json prints the TransferResult on failure too: refused, not crashed.
    const result = proc.events.find((e) => 'success' in e);
    expect(result, `${JSON.stringify(proc.events)}\n${proc.stderr()}`).toMatchObject({
      success: false,
      checksumVerified: false,
      error: { code: expect.any(String) },
    });
    expect(await stop(server.proc)).toBe(0);
    expect(server.proc.events.filter((e) => e.event === 'received')).toEqual([]);
    expect(await readdir(server.dir)).toEqual([]);
  });
});
