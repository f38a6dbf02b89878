/**
 * `octopii id`: prints this node's ID, creating the identity file on first use. Loads config and
 * identity only (no transport, hash pool or machines).
 */
import { identityFileOf, loadConfig } from '../config.js';
import { loadOrCreateIdentity } from '../identity.js';
import { permissionsOption, type IdentityFlags } from './identityFlags.js';

export interface IdOptions extends IdentityFlags {
  dataDir?: string;
}

/** Writes the node ID and a newline to stdout. Throws INVALID_ARGUMENT (config) or INVALID_IDENTITY. */
export async function runId(opts: IdOptions): Promise<void> {
  const cfg = loadConfig({ identityFile: opts.identity, dataDir: opts.dataDir });
  const identity = await loadOrCreateIdentity(identityFileOf(cfg), permissionsOption(opts));
  process.stdout.write(`${identity.nodeId}\n`);
}
