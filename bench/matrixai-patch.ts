/**
 * @matrixai/quic 2.0.9 with and without our hot-path patch, in the same run.
 * Prints figures only; never fails on speed (it fails only if a transfer arrives corrupted).
 *
 *   npx tsx bench/matrixai-patch.ts [--mib 64] [--rpc-seconds 4] [--inflight 64] [--runs 1]
 *                                   [--unpatched DIR] [--only patched|unpatched]
 *
 * What it measures, each in a fresh child process per variant (so the two never share a heap):
 * - throughput: one MatrixaiTransport stream, 127.0.0.1 → 127.0.0.1, `--mib` MiB (default 64)
 *   written from memory in 256 KiB chunks and read into memory; MB/s (10^6 bytes/s) from the
 *   first write to the last byte received; both sides' SHA-256 compared ("intact").
 * - round trips: `--inflight` (default 64) concurrent calls for `--rpc-seconds` s (default 4),
 *   each a new bidirectional stream carrying a ~100 B request and a ~100 B echoed response;
 *   round trips/s counted over completed, verified calls.
 * MatrixaiTransport applies its usual tuning (4 MiB UDP buffers, 64 KiB readable chunks,
 * 32 KiB datagrams on loopback), so the difference is the patch alone.
 *
 * The "unpatched" variant loads @matrixai/quic from another directory through a module resolve
 * hook (node:module `register`). That directory is `--unpatched DIR` (or env
 * MATRIXAI_QUIC_UNPATCHED): a pristine copy of the package, e.g. from `npm pack @matrixai/quic@2.0.9`.
 * Without it, the script makes one: it copies node_modules/@matrixai/quic to
 * node_modules/.cache/octopii-bench/quic-unpatched and reverse-applies
 * patches/@matrixai+quic+2.0.9.patch there (`patch -R -p4`), leaving node_modules untouched.
 * `--only patched` / `--only unpatched` runs one side only (e.g. before the patch exists).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { register } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const INSTALLED = join(ROOT, 'node_modules/@matrixai/quic');
const PATCH_FILE = join(ROOT, 'patches/@matrixai+quic+2.0.9.patch');
const PATCH_MARK = 'octopii hot-path patch';
const MiB = 1 << 20;

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

interface Figures {
  variant: string;
  mbps: number;
  seconds: number;
  intact: boolean;
  rtps: number;
  calls: number;
  callErrors: number;
}

// ------------------------------------------------------------------------------------------
// Child: one variant.

async function child(variant: string, dir: string | undefined): Promise<void> {
  if (dir) {
    // Route `@matrixai/quic` to the other copy; its own dependencies resolve from node_modules
    // because the copy lives below it.
    const entry = pathToFileURL(join(dir, 'dist/index.js')).href;
    const hook = `export async function resolve(s, c, next) {
      if (s === '@matrixai/quic') return { url: ${JSON.stringify(entry)}, shortCircuit: true };
      return next(s, c);
    }`;
    register(`data:text/javascript,${encodeURIComponent(hook)}`);
  }
  const { MatrixaiTransport } = await import('../src/transport/matrixai.js');
  const { generateIdentity } = await import('../src/identity.js');
  const quicIndex = fileURLToPath(import.meta.resolve('@matrixai/quic'));
  const patched = readFileSync(join(dirname(quicIndex), 'QUICConnection.js'), 'utf8').includes(PATCH_MARK);

  const mib = Number(arg('mib', '64'));
  const rpcSeconds = Number(arg('rpc-seconds', '4'));
  const inflight = Number(arg('inflight', '64'));

  const server = await MatrixaiTransport.create({ identity: generateIdentity() });
  const client = await MatrixaiTransport.create({ identity: generateIdentity() });
  try {
    // --- throughput
    let bulkDone: (r: { bytes: number; sha: string }) => void = () => {};
    const bulk = new Promise<{ bytes: number; sha: string }>((r) => (bulkDone = r));
    server.onConnection((c) =>
      c.onStream(async (s) => {
        const reader = s.readable.getReader();
        const first = await reader.read();
        if (first.done) return;
        if (first.value[0] === 0x42) {
          // bulk stream
          const h = createHash('sha256');
          let bytes = 0;
          let chunk: Uint8Array | undefined = first.value;
          while (chunk) {
            h.update(chunk);
            bytes += chunk.byteLength;
            const r = await reader.read();
            chunk = r.done ? undefined : r.value;
          }
          bulkDone({ bytes, sha: h.digest('hex') });
          return;
        }
        // echo stream
        const parts: Uint8Array[] = [first.value];
        for (;;) {
          const r = await reader.read();
          if (r.done) break;
          parts.push(r.value);
        }
        const w = s.writable.getWriter();
        await w.write(Buffer.concat(parts));
        await w.close();
      }),
    );
    const { address } = await server.listen({ address: '127.0.0.1:0' });
    const conn = await client.dial(address, { expectedNodeId: server.nodeId });

    const total = mib * MiB;
    const chunkBytes = 256 * 1024;
    const pattern = randomBytes(chunkBytes);
    pattern[0] = 0x42;
    const sent = createHash('sha256');
    const s = await conn.openStream();
    const w = s.writable.getWriter();
    const t0 = performance.now();
    for (let off = 0; off < total; off += chunkBytes) {
      const piece = Buffer.from(pattern.subarray(0, Math.min(chunkBytes, total - off)));
      piece[1] = (off / chunkBytes) & 0xff; // chunks differ, so reordering would show
      sent.update(piece);
      await w.write(piece);
    }
    await w.close();
    const got = await bulk;
    const seconds = (performance.now() - t0) / 1000;
    const intact = got.bytes === total && got.sha === sent.digest('hex');

    // --- round trips
    let calls = 0;
    let callErrors = 0;
    const until = performance.now() + rpcSeconds * 1000;
    const request = Buffer.alloc(100, 0x52);
    const worker = async () => {
      while (performance.now() < until) {
        try {
          const st = await conn.openStream();
          const ww = st.writable.getWriter();
          await ww.write(request);
          await ww.close();
          const rr = st.readable.getReader();
          let n = 0;
          for (;;) {
            const r = await rr.read();
            if (r.done) break;
            n += r.value.byteLength;
          }
          if (n === request.byteLength) calls++;
          else callErrors++;
        } catch {
          callErrors++;
        }
      }
    };
    const r0 = performance.now();
    await Promise.all(Array.from({ length: inflight }, worker));
    const rpcElapsed = (performance.now() - r0) / 1000;

    const figures: Figures = {
      variant,
      mbps: total / seconds / 1e6,
      seconds,
      intact,
      rtps: calls / rpcElapsed,
      calls,
      callErrors,
    };
    if ((variant === 'patched') !== patched) figures.variant = `${variant} (WARNING: patch marker ${patched ? 'present' : 'absent'})`;
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } finally {
    await client.close();
    await server.close();
  }
}

// ------------------------------------------------------------------------------------------
// Parent: prepares the unpatched copy, runs both variants, prints the comparison.

function unpatchedDir(): string {
  const given = arg('unpatched') ?? process.env.MATRIXAI_QUIC_UNPATCHED;
  if (given) return resolve(given);
  const installed = readFileSync(join(INSTALLED, 'dist/QUICConnection.js'), 'utf8');
  if (!installed.includes(PATCH_MARK)) return INSTALLED; // nothing applied: installed is pristine
  if (!existsSync(PATCH_FILE)) throw new Error(`${PATCH_FILE} missing; pass --unpatched DIR`);
  const dir = join(ROOT, 'node_modules/.cache/octopii-bench/quic-unpatched');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true });
  cpSync(INSTALLED, dir, { recursive: true });
  execFileSync('patch', ['-R', '-p4', '-s', '-d', dir, '-i', PATCH_FILE], { stdio: 'inherit' });
  return dir;
}

function runChild(variant: string, dir: string | undefined): Promise<Figures> {
  return new Promise((resolveP, reject) => {
    const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', variant, ...process.argv.slice(2)];
    const env = { ...process.env, MATRIXAI_BENCH_DIR: dir ?? '' };
    const p = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolveP(JSON.parse(line) as Figures);
      } catch {
        reject(new Error(`${variant} run failed (exit ${code}): ${out}`));
      }
    });
  });
}

async function parent(): Promise<void> {
  const only = arg('only');
  const runs = Number(arg('runs', '1'));
  const variants: [string, string | undefined][] = [];
  if (only !== 'patched') variants.push(['unpatched', unpatchedDir()]);
  if (only !== 'unpatched') variants.push(['patched', undefined]);
  const results = new Map<string, Figures[]>();
  for (let i = 0; i < runs; i++) {
    for (const [v, dir] of variants) {
      const f = await runChild(v, dir === INSTALLED ? undefined : dir);
      console.log(
        `${f.variant.padEnd(10)} run ${i + 1}: ${f.mbps.toFixed(1).padStart(6)} MB/s (${f.seconds.toFixed(2)} s, ` +
          `${f.intact ? 'intact' : 'CORRUPTED'}), ${f.rtps.toFixed(0).padStart(5)} round trips/s ` +
          `(${f.calls} calls, ${f.callErrors} failed)`,
      );
      results.set(v, [...(results.get(v) ?? []), f]);
    }
  }
  const best = (v: string, k: 'mbps' | 'rtps') => Math.max(...(results.get(v) ?? []).map((f) => f[k]));
  if (results.has('patched') && results.has('unpatched')) {
    console.log(
      `patched / unpatched (best of ${runs}): throughput ${(best('patched', 'mbps') / best('unpatched', 'mbps')).toFixed(2)}×, ` +
        `round trips ${(best('patched', 'rtps') / best('unpatched', 'rtps')).toFixed(2)}×`,
    );
  }
  const corrupted = [...results.values()].flat().some((f) => !f.intact || f.callErrors > 0);
  if (corrupted) {
    console.log('a transfer or call failed (see above)');
    process.exitCode = 1;
  }
}

const childIndex = process.argv.indexOf('--child');
if (childIndex >= 0) {
  const variant = process.argv[childIndex + 1]!;
  await child(variant, process.env.MATRIXAI_BENCH_DIR || undefined);
  // Lingering library timers must not hold the child.
  process.exit(0);
} else {
  await parent();
}
