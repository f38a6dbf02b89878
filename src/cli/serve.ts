/**
 * `octopii serve`: checks the receive directory, sweeps the unfinished receives a crashed run
 * left there, starts a node and prints JSON lines on stdout:
 *
 *   {"event":"cleaned","files":N,"bytes":B}        only when stale .incoming.*.part files were removed
 *   {"event":"listening","nodeId","address","transport"}
 *   {"event":"observing","url","nodeId"}           with --observe: the inspector, /metrics, /health
 *   {"event":"received",...} | {"event":"failed",...}   one per incoming transfer
 *
 * Log lines (pino JSON, pretty on a terminal) go to stderr from level `logLevel` (config,
 * `OCTOPII_LOG_LEVEL`, `--log-level`; default info): the node's own lines and one
 * `transfer.started` / `transfer.finished` pair per transfer bound to its transfer ID
 * (src/log/transfers.ts); at `debug`, one `rpc.served` line per RPC call with its request ID.
 *
 * Exits 0 on SIGINT/SIGTERM after closing its connections. Anything that stops it from starting
 * (directory, identity, config, bind) is thrown before the `listening` line.
 */
import { identityFileOf, loadConfig } from '../config.js';
import { CLI_HASH_THREADS } from './hashing.js';
import { loadOrCreateIdentity } from '../identity.js';
import { cleanStaleParts, prepareReceiveDir } from '../storage/receiveDir.js';
import { permissionsOption, type IdentityFlags } from './identityFlags.js';
import { jsonLine } from './output.js';

export interface ServeOptions extends IdentityFlags {
  listen: string;
  dir: string;
  dataDir?: string;
  allowPeer?: string[];
  insecure?: boolean;
  /** Bytes (already parsed from `10MB`, `1GiB`, …). */
  maxBytes?: number;
  config?: string;
  transport?: 'quinn' | 'matrixai';
  /** Observe endpoint address (`true`: the default 127.0.0.1:0). */
  observe?: string | boolean;
  observeToken?: string;
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/**
 * Runs until SIGINT/SIGTERM. Throws before listening: INVALID_ARGUMENT (config),
 * NOT_A_DIRECTORY / PERMISSION_DENIED / DISK_FULL / IO_ERROR (receive directory, see
 * prepareReceiveDir), INVALID_IDENTITY, or the transport's listen errors.
 */
export async function runServe(opts: ServeOptions): Promise<void> {
  // Handlers first: a signal that arrives while the node starts still ends in a clean stop.
  const stopSignal = new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
  const cfg = loadConfig(
    {
      listen: opts.listen,
      dataDir: opts.dataDir,
      identityFile: opts.identity,
      allowPeers: opts.allowPeer,
      insecure: opts.insecure,
      receiveDir: opts.dir,
      maxReceiveBytes: opts.maxBytes,
      transport: opts.transport,
      logLevel: opts.logLevel,
    },
    { file: opts.config },
  );
  cfg.receiveDir = await prepareReceiveDir(cfg.receiveDir!);
  const cleaned = await cleanStaleParts(cfg.receiveDir);
  if (cleaned.files > 0) jsonLine({ event: 'cleaned', files: cleaned.files, bytes: cleaned.bytes });
  const identity = await loadOrCreateIdentity(identityFileOf(cfg), permissionsOption(opts));
  // The node runtime (QUIC, hash pool, machines) is loaded only now: `octopii id` and `--help` never pay for it.
  const { OctopiiNode } = await import('../node.js');
  const { createPinoLogger } = await import('../log/pino.js');
  const { logTransfers } = await import('../log/transfers.js');
  const node = await OctopiiNode.start({ ...cfg, hashThreads: cfg.hashThreads ?? CLI_HASH_THREADS, identity, runtime: { logger: createPinoLogger({ level: cfg.logLevel }) } });
  if (cfg.logLevel !== 'silent') logTransfers(node, node.logger);
  node.onReceived((r) => {
    if (r.ok) jsonLine({ event: 'received', file: r.file, bytes: r.bytes, sha256: r.sha256, peer: r.peer });
    else jsonLine({ event: 'failed', peer: r.peer, bytes: r.bytes, error: r.error });
  });
  jsonLine({ event: 'listening', nodeId: node.nodeId, address: node.address, transport: node.transportKind });
  let observer: { close(): Promise<void> } | undefined;
  if (opts.observe !== undefined && opts.observe !== false) {
    const { serveObserve } = await import('./observe.js');
    observer = await serveObserve(node, {
      ...(typeof opts.observe === 'string' ? { address: opts.observe } : {}),
      ...(opts.observeToken !== undefined ? { token: opts.observeToken } : {}),
    });
  }
  // Gives back what a burst left in the V8 heap once the node is idle (under --expose-gc, one of
  // octopii's node flags: src/nodeFlags.ts).
  const { startIdleCollector } = await import('../runtime/idleCollector.js');
  const collector = startIdleCollector();
  await stopSignal;
  collector.stop();
  await observer?.close();
  await node.stop();
}
