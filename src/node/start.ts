/**
 * What a node is started with, gathered before the facade (./node.ts) is built: the config
 * (options over `OCTOPII_*` env vars over `configFile`, src/config.ts), the identity (given, or
 * loaded/created from the identity file), the receive directory (checked writable, leftovers of a
 * crashed run removed), the clock and logger of the runtime, the hasher (the runtime's, or the
 * shared hash pool), and the transport, listening on `config.listen`.
 */
import { loadConfig, identityFileOf, type NodeConfig } from '../config.js';
import { loadOrCreateIdentity, type Identity } from '../identity.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { silentLogger, type Logger } from '../runtime/logger.js';
import type { Runtime } from '../runtime/types.js';
import { createTransport } from '../transport/index.js';
import type { Transport } from '../transport/types.js';
import type { RpcOptions } from '../rpc/nodeRpc.js';
import { defaultHasher } from './support.js';
import type { NodeStartOptions, PeerOptions } from './types.js';

/** A started node's parts; `cleaned` counts the stale files removed from `receiveDir` (files, bytes). */
export interface NodeParts {
  config: NodeConfig;
  identity: Identity;
  clock: Clock;
  logger: Logger;
  hasher: Runtime['hasher'] | undefined;
  /** Releases the shared hash pool; undefined when the runtime gave the hasher. */
  releaseHasher: (() => Promise<void>) | undefined;
  transport: Transport;
  peer: PeerOptions;
  rpc: RpcOptions;
  cleaned: { files: number; bytes: number };
}

/**
 * Loads the config and identity, prepares `receiveDir`, and binds the transport; on a listen
 * failure closes the transport and releases the hash pool. Throws INVALID_ARGUMENT (config),
 * INVALID_IDENTITY, or the transport's listen errors.
 */
export async function prepareNode(options: NodeStartOptions): Promise<NodeParts> {
  const { identity: given, configFile, runtime = {}, peer = {}, rpc = {}, ...rest } = options;
  const config = loadConfig(rest, { file: configFile });
  const identity = given ?? (await loadOrCreateIdentity(identityFileOf(config)));
  let cleaned = { files: 0, bytes: 0 };
  if (config.receiveDir) {
    // A writable directory or a clear error now, not a failed transfer later; leftovers of a
    // crashed run (temp files of unfinished receives) go.
    const { prepareReceiveDir, cleanStaleParts } = await import('../storage/receiveDir.js');
    config.receiveDir = await prepareReceiveDir(config.receiveDir);
    cleaned = await cleanStaleParts(config.receiveDir);
  }
  const clock = runtime.clock ?? systemClock;
  const logger = (runtime.logger ?? silentLogger).child({ nodeId: identity.nodeId });
  let hasher = runtime.hasher;
  let releaseHasher: (() => Promise<void>) | undefined;
  if (!hasher) {
    const shared = await defaultHasher(config.hashThreads);
    hasher = shared.hasher;
    releaseHasher = shared.release;
  }
  const transport =
    runtime.transport ??
    (await createTransport(config.transport, {
      identity,
      allowPeers: config.allowPeers,
      insecure: config.insecure,
      quinnThreads: config.quinnThreads,
      quinnReceiveWindow: config.quinnReceiveWindow,
    }));
  try {
    await transport.listen({ address: config.listen });
  } catch (e) {
    await transport.close();
    await releaseHasher?.();
    throw e;
  }
  return { config, identity, clock, logger, hasher, releaseHasher, transport, peer, rpc, cleaned };
}
