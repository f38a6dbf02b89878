/**
 * `npm run demo [FILE]`: three octopii nodes on loopback, each its own process.
 * Two run `octopii serve`; the third ships FILE (default: the running Node binary) to both in
 * parallel with `octopii send --to A --to B --peer-id … --json`, pinning each receiver's node ID.
 * The demo then hashes each received file itself, compares it with the source, prints a report
 * (per peer: bytes, MB/s, verified) and exits non-zero on any mismatch or failure.
 * The servers log at level `error` on stderr (their routine lines — transfer finished, the sender
 * gone, stopped — are not the demo's story; its report is); `OCTOPII_LOG_LEVEL=info` shows them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../src/nodeFlags.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'bin', 'octopii.js');
const file = resolve(process.argv[2] ?? process.execPath);
const transportArgs = process.env.OCTOPII_TRANSPORT ? ['--transport', process.env.OCTOPII_TRANSPORT] : [];
/** The servers' stderr log level: errors only, unless OCTOPII_LOG_LEVEL asks for more. */
const logArgs = ['--log-level', process.env.OCTOPII_LOG_LEVEL ?? 'error'];

const sha256File = (path: string): Promise<string> =>
  new Promise((ok, fail) => {
    const h = createHash('sha256');
    createReadStream(path, { highWaterMark: 1 << 20 })
      .on('data', (b) => h.update(b))
      .on('end', () => ok(h.digest('hex')))
      .on('error', fail);
  });

interface JsonLine {
  event: string;
  [k: string]: unknown;
}

/** Starts `octopii serve`; resolves with its `listening` line and an iterator over later lines. */
function startServer(name: string, work: string): Promise<{ proc: ChildProcess; listening: JsonLine; lines: JsonLine[] }> {
  const proc = spawn(
    process.execPath,
    [...NODE_FLAGS, cli, 'serve', '--listen', '127.0.0.1:0', '--dir', join(work, name, 'inbox'), '--identity', join(work, name, 'identity.pem'), ...logArgs, ...transportArgs],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines: JsonLine[] = [];
  return new Promise((ok, fail) => {
    proc.once('exit', (code) => fail(new Error(`${name} exited early with code ${code}`)));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as JsonLine;
      if (msg.event === 'listening') ok({ proc, listening: msg, lines });
      else lines.push(msg);
    });
  });
}

function run(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((ok) => {
    const p = spawn(process.execPath, [...NODE_FLAGS, cli, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    p.stdout!.on('data', (b) => (stdout += b));
    p.on('exit', (code) => ok({ code: code ?? 1, stdout }));
  });
}

async function main(): Promise<number> {
  const size = (await stat(file)).size;
  const work = await mkdtemp(join(tmpdir(), 'octopii-demo-'));
  const servers: ChildProcess[] = [];
  try {
    console.log(`octopii demo: shipping ${file} (${(size / 2 ** 20).toFixed(1)} MiB) from node A to nodes B and C`);
    const [b, c] = await Promise.all([startServer('B', work), startServer('C', work)]);
    servers.push(b.proc, c.proc);
    for (const [n, s] of [['B', b], ['C', c]] as const) {
      console.log(`  node ${n}: ${s.listening.nodeId} on ${s.listening.address} (${s.listening.transport})`);
    }
    const sourceHash = await sha256File(file);
    const send = await run([
      'send', file,
      '--to', String(b.listening.address), '--peer-id', String(b.listening.nodeId),
      '--to', String(c.listening.address), '--peer-id', String(c.listening.nodeId),
      '--identity', join(work, 'A', 'identity.pem'), '--json', ...transportArgs,
    ]);
    const results = JSON.parse(send.stdout) as Array<{ peer: string; success: boolean; bytesTransferred: number; durationMs: number; error?: { code: string; message: string } }>;
    // Give each receiver a moment to print its line (it answers the status byte first).
    const deadline = Date.now() + 10_000;
    while ((b.lines.length === 0 || c.lines.length === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));

    let ok = send.code === 0;
    console.log('\n  peer  bytes        MB/s     verified');
    for (const [i, [n, s]] of ([['B', b], ['C', c]] as const).entries()) {
      const r = results[i]!;
      const got = s.lines.find((l) => l.event === 'received');
      const diskHash = got ? await sha256File(String(got.file)) : 'none';
      const verified = r.success && got !== undefined && got.sha256 === sourceHash && diskHash === sourceHash && got.bytes === size;
      ok &&= verified;
      const mbps = r.durationMs > 0 ? r.bytesTransferred / 1e6 / (r.durationMs / 1000) : 0;
      console.log(
        `  ${n}     ${String(r.bytesTransferred).padEnd(12)} ${mbps.toFixed(1).padStart(7)}  ${verified ? 'yes' : 'NO'}` +
          (r.error ? `  (${r.error.code}: ${r.error.message})` : '') +
          (verified ? '' : `  (disk ${diskHash.slice(0, 16)}…, source ${sourceHash.slice(0, 16)}…)`),
      );
    }
    console.log(ok ? '\nall transfers verified: SHA-256 of every received file equals the source' : '\nFAILED: a transfer did not verify');
    return ok ? 0 : 1;
  } finally {
    for (const p of servers) p.kill('SIGTERM');
    await Promise.all(servers.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    await rm(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error('demo failed:', e);
    process.exit(1);
  },
);
