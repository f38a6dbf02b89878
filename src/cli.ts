/**
 * The `octopii` command line (issue 2 item 6), on commander and cli-progress.
 *
 *   octopii id    [--identity FILE] [--data-dir DIR]
 *   octopii serve --listen HOST:PORT --dir DIR [--identity FILE] [--allow-peer ID ...] [--insecure] [--transport T]
 *   octopii send  FILE --to HOST:PORT [--to ...] [--peer-id ID ... | --insecure] [--json] [--identity FILE] [--transport T]
 *
 * `serve` prints JSON lines on stdout: first `{"event":"listening","nodeId","address","transport"}`,
 * then one `{"event":"received",...}` or `{"event":"failed",...}` per incoming transfer; it exits 0
 * on SIGINT/SIGTERM after closing its connections. `send` exits 0 only when the receiver
 * answered status 0 (seed 001 Wire Format).
 */
import { Command, Option, CommanderError } from 'commander';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { loadConfig, identityFileOf } from './config.js';
import { loadOrCreateIdentity } from './identity.js';
import { OctopiiNode } from './node.js';
import { OctopiiError, toOctopiiError } from './errors.js';

const out = (obj: unknown): void => {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
};

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function transportOption(): Option {
  return new Option('--transport <name>', 'node-to-node transport').choices(['quinn', 'matrixai']);
}

export function buildProgram(): Command {
  const program = new Command('octopii')
    .description('Supervised nodes that ship verified files over QUIC (Shipping Lane v1)')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('id')
    .description("print this node's ID (creates the identity file if missing)")
    .option('--identity <file>', 'identity file (Ed25519, PKCS#8 PEM)')
    .option('--data-dir <dir>', 'node data directory (default ~/.octopii or $OCTOPII_DATA_DIR)')
    .action(async (opts: { identity?: string; dataDir?: string }) => {
      const cfg = loadConfig({ identityFile: opts.identity, dataDir: opts.dataDir });
      const identity = await loadOrCreateIdentity(identityFileOf(cfg));
      process.stdout.write(`${identity.nodeId}\n`);
    });

  program
    .command('serve')
    .description('receive transfers into DIR, printing one JSON line per event')
    .requiredOption('--listen <host:port>', 'address to listen on (port 0 = any free port)')
    .requiredOption('--dir <dir>', 'directory to store received files in (named by their SHA-256)')
    .option('--identity <file>', 'identity file (default <data-dir>/identity.pem)')
    .option('--data-dir <dir>', 'node data directory')
    .option('--allow-peer <id>', 'admit only this node ID (repeatable)', collect, [])
    .option('--insecure', 'also admit peers without a verifiable identity (seed v1 interop)')
    .option('--max-bytes <n>', 'largest accepted transfer in bytes', (v) => Number(v))
    .option('--config <file>', 'JSON config file (src/config.ts schema); flags and OCTOPII_* env vars override it')
    .addOption(transportOption())
    .action(async (opts) => {
      const cfg = loadConfig({
        listen: opts.listen,
        dataDir: opts.dataDir,
        identityFile: opts.identity,
        allowPeers: opts.allowPeer,
        insecure: opts.insecure,
        receiveDir: resolve(opts.dir),
        maxReceiveBytes: opts.maxBytes,
        transport: opts.transport,
      }, { file: opts.config });
      const node = await OctopiiNode.start(cfg);
      node.onReceived((r) => {
        if (r.ok) out({ event: 'received', file: r.file, bytes: r.bytes, sha256: r.sha256, peer: r.peer });
        else out({ event: 'failed', peer: r.peer, bytes: r.bytes, error: r.error });
      });
      out({ event: 'listening', nodeId: node.nodeId, address: node.address, transport: node.transportKind });
      await new Promise<void>((done) => {
        const stop = () => done();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await node.stop();
    });

  program
    .command('send')
    .description('ship FILE to one or more nodes in parallel; exit 0 only if every receiver verified the SHA-256')
    .argument('<file>', 'file to send')
    .requiredOption('--to <host:port>', 'receiver address (repeatable: ships to all in parallel)', collect, [])
    .option('--peer-id <id>', 'refuse the receiver unless it proves this node ID (repeatable, in --to order)', collect, [])
    .option('--insecure', 'accept a receiver without a verifiable identity (seed v1 interop)')
    .option('--json', 'print the TransferResult as JSON (an array when several --to are given)', false)
    .option('--identity <file>', 'identity file (default <data-dir>/identity.pem)')
    .option('--data-dir <dir>', 'node data directory')
    .option('--timeout <ms>', 'give up after this many ms', (v) => Number(v))
    .option('--config <file>', 'JSON config file (src/config.ts schema); flags and OCTOPII_* env vars override it')
    .addOption(transportOption())
    .action(async (file: string, opts) => {
      const to: string[] = opts.to;
      const peerIds: string[] = opts.peerId;
      if (peerIds.length > 0 && opts.insecure) {
        throw new OctopiiError('INVALID_ARGUMENT', '--peer-id and --insecure exclude each other');
      }
      if (peerIds.length > 0 && peerIds.length !== to.length) {
        throw new OctopiiError('INVALID_ARGUMENT', `got ${to.length} --to but ${peerIds.length} --peer-id`);
      }
      const v6 = to.some((a) => a.startsWith('[') || a.split(':').length > 2);
      const cfg = loadConfig({
        listen: v6 ? '[::]:0' : '0.0.0.0:0',
        dataDir: opts.dataDir,
        identityFile: opts.identity,
        insecure: opts.insecure,
        transport: opts.transport,
      }, { file: opts.config });
      const path = resolve(file);
      const size = await stat(path).then(
        (s) => s.size,
        () => 0,
      );
      const node = await OctopiiNode.start(cfg);
      let bar: cliProgress.SingleBar | undefined;
      if (process.stderr.isTTY && !opts.json) {
        bar = new cliProgress.SingleBar(
          { stream: process.stderr, format: ' {bar} {percentage}% | {value}/{total} bytes | {speed} MB/s' },
          cliProgress.Presets.shades_classic,
        );
        bar.start(size * to.length, 0, { speed: '0.0' });
      }
      const t0 = performance.now();
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
                  bar!.update(total, { speed: (total / 1e6 / ((performance.now() - t0) / 1000 || 1)).toFixed(1) });
                }
              : undefined,
          },
        );
        bar?.stop();
        if (opts.json) out(results.length === 1 ? results[0] : results);
        for (const r of results) {
          if (opts.json) continue;
          if (r.success) {
            process.stderr.write(
              `sent ${r.bytesTransferred} bytes to ${r.peer} in ${r.durationMs.toFixed(0)} ms, SHA-256 verified by the receiver\n`,
            );
          } else process.stderr.write(`send to ${r.peer} failed: ${r.error?.code}: ${r.error?.message}\n`);
        }
        process.exitCode = results.every((r) => r.success) ? 0 : 1;
      } finally {
        bar?.stop();
        await node.stop();
      }
    });
  return program;
}

/** Runs the CLI; returns the exit code. Errors print as `octopii: CODE: message` on stderr. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    const err = toOctopiiError(e);
    process.stderr.write(`octopii: ${err.code}: ${err.message}\n`);
    return 1;
  }
}
