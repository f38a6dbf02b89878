/**
 * `octopii send FILE --to ADDR…`: ships FILE to every receiver in parallel. Prints the
 * TransferResult (`--json`; an array for several `--to`) or one line per receiver on stderr,
 * with a progress bar on a terminal. Resolves with the exit code: 0 only if every receiver
 * verified the SHA-256, else 1.
 */
import { resolve } from 'node:path';
import { identityFileOf, loadConfig } from '../config.js';
import { CLI_HASH_THREADS } from './hashing.js';
import { toOctopiiError } from '../errors.js';
import { loadOrCreateIdentity } from '../identity.js';
import { statSource } from '../lane/source.js';
import type { TransferResult } from '../lane/types.js';
import { permissionsOption, type IdentityFlags } from './identityFlags.js';
import { jsonLine } from './output.js';

export interface SendOptions extends IdentityFlags {
  /** Receiver addresses, at least one (commander enforces it). */
  to: string[];
  /** Node IDs the receivers must prove, in `to` order; none, or one per `to`. */
  peerId?: string[];
  insecure?: boolean;
  json?: boolean;
  dataDir?: string;
  /** Inactivity timeout, ms. */
  timeout?: number;
  config?: string;
  transport?: 'quinn' | 'matrixai';
}

/** `1234.5` ms → `"1.2 s"`, `80` → `"80 ms"`. */
export const formatElapsed = (ms: number): string => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

/** The stderr line for one result (without `--json`). */
export function describeResult(r: TransferResult): string {
  if (r.success) return `sent ${r.bytesTransferred} bytes to ${r.peer} in ${formatElapsed(r.durationMs)}, SHA-256 verified by the receiver`;
  // An error the receiver reported (its reason, on octopii's own protocol) says so.
  const who = r.error?.origin === 'remote' ? 'receiver: ' : '';
  return `send to ${r.peer} failed after ${formatElapsed(r.durationMs)}: ${who}${r.error?.code}: ${r.error?.message}`;
}

function report(results: TransferResult[], json: boolean | undefined): number {
  if (json) jsonLine(results.length === 1 ? results[0] : results);
  else for (const r of results) process.stderr.write(`${describeResult(r)}\n`);
  return results.every((r) => r.success) ? 0 : 1;
}

/**
 * Sends `file` as `opts` say; resolves with the exit code. A source that cannot be sent
 * (missing, unreadable, not a regular file) fails every receiver at once, before any node starts.
 * Throws INVALID_ARGUMENT (config), INVALID_IDENTITY, or the transport's bind errors.
 */
export async function runSend(file: string, opts: SendOptions): Promise<number> {
  const to = opts.to;
  const peerIds = opts.peerId ?? [];
  const v6 = to.some((a) => a.startsWith('[') || a.split(':').length > 2);
  const cfg = loadConfig(
    {
      listen: v6 ? '[::]:0' : '0.0.0.0:0',
      dataDir: opts.dataDir,
      identityFile: opts.identity,
      insecure: opts.insecure,
      transport: opts.transport,
    },
    { file: opts.config },
  );
  const path = resolve(file);
  const t0 = performance.now();
  let size: number;
  try {
    size = await statSource({ kind: 'file', path });
  } catch (e) {
    const error = toOctopiiError(e).toJSON();
    const durationMs = performance.now() - t0;
    return report(
      to.map((peer) => ({ peer, success: false, bytesTransferred: 0, checksumVerified: false, durationMs, error })),
      opts.json,
    );
  }
  const identity = await loadOrCreateIdentity(identityFileOf(cfg), permissionsOption(opts));
  const [{ OctopiiNode }, progress] = await Promise.all([
    import('../node.js'),
    process.stderr.isTTY && !opts.json ? import('cli-progress') : undefined,
  ]);
  const node = await OctopiiNode.start({ ...cfg, hashThreads: cfg.hashThreads ?? CLI_HASH_THREADS, identity });
  let bar: import('cli-progress').SingleBar | undefined;
  if (progress) {
    bar = new progress.default.SingleBar(
      { stream: process.stderr, format: ' {bar} {percentage}% | {value}/{total} bytes | {speed} MB/s' },
      progress.default.Presets.shades_classic,
    );
    bar.start(size * to.length, 0, { speed: '0.0' });
  }
  const started = performance.now();
  const sent = new Array<number>(to.length).fill(0);
  try {
    const results = await node.transferToPeers(
      { kind: 'file', path },
      to.map((address, i) => ({ address, nodeId: peerIds[i] })),
      {
        timeoutMs: opts.timeout,
        onProgress: bar
          ? (i: number, bytes: number) => {
              sent[i] = bytes;
              const total = sent.reduce((a, b) => a + b, 0);
              bar!.update(total, { speed: (total / 1e6 / ((performance.now() - started) / 1000 || 1)).toFixed(1) });
            }
          : undefined,
      },
    );
    bar?.stop();
    return report(results, opts.json);
  } finally {
    bar?.stop();
    await node.stop();
  }
}
