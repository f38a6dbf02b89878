/**
 * Where a node keeps its identity, resolved without the config schema (src/config.ts), so that
 * `octopii id` does not load zod (~95 modules, most of its start-up time).
 *
 * Precedence as in loadConfig: an option over `OCTOPII_IDENTITY` / `OCTOPII_DATA_DIR` over the
 * default data directory `~/.octopii`; the identity file defaults to `<dataDir>/identity.pem`.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The data directory when neither an option nor `OCTOPII_DATA_DIR` names one. */
export const defaultDataDir = (): string => join(homedir(), '.octopii');

/** The identity file of a config: `identityFile`, else `<dataDir>/identity.pem`. */
export const identityFileOf = (cfg: { dataDir: string; identityFile?: string | undefined }): string =>
  cfg.identityFile ?? join(cfg.dataDir, 'identity.pem');

/** The environment variable of each config field it can come from (loadConfig; dotted for nested fields). */
export const ENV_OF: Readonly<Record<string, string>> = {
  listen: 'OCTOPII_LISTEN',
  dataDir: 'OCTOPII_DATA_DIR',
  identityFile: 'OCTOPII_IDENTITY',
  transport: 'OCTOPII_TRANSPORT',
  allowPeers: 'OCTOPII_ALLOW_PEERS',
  insecure: 'OCTOPII_INSECURE',
  maxReceiveBytes: 'OCTOPII_MAX_RECEIVE_BYTES',
  quinnThreads: 'OCTOPII_QUINN_THREADS',
  quinnReceiveWindow: 'OCTOPII_QUINN_RECEIVE_WINDOW',
  hashThreads: 'OCTOPII_HASH_THREADS',
  logLevel: 'OCTOPII_LOG_LEVEL',
  'limits.incomingPerPeer': 'OCTOPII_MAX_INCOMING_PER_PEER',
  'limits.incomingPerNode': 'OCTOPII_MAX_INCOMING',
  'limits.connections': 'OCTOPII_MAX_CONNECTIONS',
  'limits.receiveStallMs': 'OCTOPII_RECEIVE_STALL_MS',
  'blobs.maxUploadRate': 'OCTOPII_MAX_UPLOAD_RATE',
  'blobs.maxUploadRatePerPeer': 'OCTOPII_MAX_UPLOAD_RATE_PER_PEER',
  'blobs.maxDownloadRate': 'OCTOPII_MAX_DOWNLOAD_RATE',
  'blobs.maxDownloadRatePerPeer': 'OCTOPII_MAX_DOWNLOAD_RATE_PER_PEER',
  'blobs.blockSize': 'OCTOPII_BLOB_BLOCK_SIZE',
  'blobs.fetchWindow': 'OCTOPII_BLOB_FETCH_WINDOW',
};

/** The config's variables other than the two {@link identityPathsOnly} resolves itself. */
const OTHER_VARIABLES = Object.values(ENV_OF).filter((v) => v !== ENV_OF.dataDir && v !== ENV_OF.identityFile);

/**
 * `{ dataDir, identityFile? }` from the options and the environment when nothing else needs
 * validating: undefined when `env` sets any other config variable ({@link ENV_OF}), whose value only
 * loadConfig can check (the caller then runs loadConfig, which reports it as INVALID_ARGUMENT).
 * Options and variables that are empty strings count as unset, as in loadConfig.
 */
export function identityPathsOnly(
  options: { dataDir?: string | undefined; identityFile?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): { dataDir: string; identityFile?: string } | undefined {
  if (OTHER_VARIABLES.some((v) => env[v])) return undefined;
  const dataDir = options.dataDir ?? (env.OCTOPII_DATA_DIR || defaultDataDir());
  const identityFile = options.identityFile ?? (env.OCTOPII_IDENTITY || undefined);
  return identityFile === undefined ? { dataDir } : { dataDir, identityFile };
}
