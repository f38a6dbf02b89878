/**
 * `octopii id`: prints this node's ID, creating the identity file on first use. Loads the identity
 * module only (no transport, hash pool or machines), and the config schema (zod) only when the
 * environment sets a config variable besides OCTOPII_DATA_DIR / OCTOPII_IDENTITY, so that a bad
 * value there is still reported (INVALID_ARGUMENT, exit 2).
 */
import { identityFileOf, identityPathsOnly } from '../configPaths.js';
import { loadOrCreateIdentity } from '../identity.js';
import { permissionsOption, type IdentityFlags } from './identityFlags.js';

export interface IdOptions extends IdentityFlags {
  dataDir?: string;
}

/** Writes the node ID and a newline to stdout. Throws INVALID_ARGUMENT (config) or INVALID_IDENTITY. */
export async function runId(opts: IdOptions): Promise<void> {
  const options = { identityFile: opts.identity, dataDir: opts.dataDir };
  const paths = identityPathsOnly(options) ?? (await import('../config.js')).loadConfig(options);
  const identity = await loadOrCreateIdentity(identityFileOf(paths), permissionsOption(opts));
  process.stdout.write(`${identity.nodeId}\n`);
}
