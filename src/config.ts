/**
 * Node configuration: one validated object (DESIGN.md §3), built from code, a JSON file, or
 * `OCTOPII_*` environment variables, validated with zod. Precedence: explicit options > env.
 *
 * Env vars: OCTOPII_LISTEN (HOST:PORT), OCTOPII_DATA_DIR, OCTOPII_IDENTITY (file),
 * OCTOPII_TRANSPORT (quinn | matrixai), OCTOPII_ALLOW_PEERS (comma-separated node IDs),
 * OCTOPII_INSECURE (1/true/yes or 0/false/no), OCTOPII_MAX_RECEIVE_BYTES (bytes, or a size with
 * a unit: `10MB`, `1GiB`), OCTOPII_QUINN_RECEIVE_WINDOW (the same), OCTOPII_QUINN_THREADS, OCTOPII_HASH_THREADS (whole numbers),
 * OCTOPII_LOG_LEVEL (fatal | error | warn | info | debug | trace | silent), the `blobs` settings
 * OCTOPII_BLOB_BLOCK_SIZE (a size: `256KiB`), OCTOPII_BLOB_FETCH_WINDOW (blocks),
 * OCTOPII_MAX_UPLOAD_RATE, OCTOPII_MAX_UPLOAD_RATE_PER_PEER, OCTOPII_MAX_DOWNLOAD_RATE,
 * OCTOPII_MAX_DOWNLOAD_RATE_PER_PEER (bytes per second or a size per second: `10MB`). A value
 * that does not parse is an INVALID_ARGUMENT naming the variable, never a NaN in the config.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { OctopiiError } from './errors.js';
import { isNodeId } from './identity.js';
import { parseSize } from './size.js';
import { isBlockBytes, MAX_BLOCK_BYTES, MIN_BLOCK_BYTES } from './blobs/tree.js';
import { defaultDataDir, ENV_OF, identityFileOf } from './configPaths.js';

export { parseSize };

export const TransportName = z.enum(['quinn', 'matrixai']);
export type TransportName = z.infer<typeof TransportName>;

/** Default transport for node-to-node traffic. */
export const DEFAULT_TRANSPORT: TransportName = 'quinn';

/** Bytes per second: a positive whole number, or a size string (`"10MB"`, `"1MiB"`: src/size.ts). */
const BytesPerSecond = z.union([
  z.number().int().positive(),
  z.string().transform((t, ctx) => {
    const n = parseSize(t);
    if (n === undefined || n === 0) {
      ctx.addIssue({ code: 'custom', message: `expected bytes per second or a size like 10MB or 1MiB, got ${JSON.stringify(t)}` });
      return z.NEVER;
    }
    return n;
  }),
]);

const BLOCK_SIZE_RULE = `a power of two from ${MIN_BLOCK_BYTES} (16KiB) to ${MAX_BLOCK_BYTES} (16MiB) bytes`;

/** A blob block size: bytes or a size string (`"256KiB"`), a power of two from 16 KiB to 16 MiB (src/blobs/tree.ts). */
const BlockSize = z.union([z.number(), z.string().transform((t) => parseSize(t) ?? Number.NaN)]).refine(isBlockBytes, { error: (i) => `expected ${BLOCK_SIZE_RULE}, got ${JSON.stringify(i.input)}` });

export const NodeConfigSchema = z.object({
  /** Address to listen on, `HOST:PORT` (port 0 = any free port). */
  listen: z.string().default('127.0.0.1:0'),
  /** Node data directory (identity, state). */
  dataDir: z.string().default(defaultDataDir()),
  /** Identity file (PKCS#8 PEM Ed25519); default `<dataDir>/identity.pem`. */
  identityFile: z.string().optional(),
  transport: TransportName.default(DEFAULT_TRANSPORT),
  /** Node IDs admitted inbound (each a `12D3KooW…` Ed25519 node ID); empty = any authenticated peer. */
  allowPeers: z.array(z.string().refine(isNodeId, { error: (i) => `not an Ed25519 node ID: ${JSON.stringify(i.input)}` })).default([]),
  /** Admit peers without a verifiable identity (seed 001 v1 interop). Forces the matrixai transport. */
  insecure: z.boolean().default(false),
  /** Directory received transfers are stored in; unset = received into memory. */
  receiveDir: z.string().optional(),
  /** Largest accepted incoming transfer, bytes. */
  maxReceiveBytes: z.number().int().nonnegative().default(64 * 2 ** 30),
  /**
   * Worker threads of the quinn transport's runtime (process-wide, src/transport/quinn.ts
   * `runtimeThreads`); unset = `TOKIO_WORKER_THREADS`, else one per CPU core.
   */
  quinnThreads: z.number().int().positive().max(256).optional(),
  /**
   * Receive window of the quinn transport, bytes: how much one stream may have in flight
   * towards this node before the sender waits; a connection's window is twice that. quinn buffers
   * up to the window when this node reads slower than the peer sends, so it bounds the memory a
   * receive holds. Unset = `DEFAULT_QUINN_TUNING.maxStreamData` (src/transport/quinn/transport.ts).
   */
  quinnReceiveWindow: z.number().int().min(64 * 1024).max(2 ** 30).optional(),
  /**
   * Worker threads of the SHA-256 piscina pool (process-wide, src/hash/pool.ts); unset = 1 for a
   * node (src/node/support.ts `NODE_HASH_THREADS`: it hashes at network rate), one per CPU core
   * (at most 4) for the blob commands, which hash local files. `0`: no worker, SHA-256 on the
   * event loop (less CPU per byte, ~0.6 ms of loop time per MiB hashed).
   */
  hashThreads: z.number().int().min(0).max(256).optional(),
  /**
   * Lowest level of the log lines `octopii serve` writes to stderr (pino JSON lines, pretty on a
   * terminal: src/log/pino.ts); `debug` adds one line per RPC call with its request ID. A node
   * started from code logs to its `runtime.logger` whatever this says.
   */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * Resource limits on what peers may make this node hold. At a limit a new incoming transfer is
   * refused at once (octopii protocol: RESOURCE_EXHAUSTED with a reason the sender prints; seed
   * v1: status 2) while existing transfers continue; a connection over the cap is closed.
   */
  limits: z
    .object({
      /** Concurrent incoming transfers from one peer. */
      incomingPerPeer: z.number().int().positive().default(16),
      /** Concurrent incoming transfers in all. */
      incomingPerNode: z.number().int().positive().default(128),
      /** Open connections in all (inbound and outbound). */
      connections: z.number().int().positive().default(1024),
      /** An incoming transfer that moves no byte for this long is cut (ms), header included. */
      receiveStallMs: z.number().int().positive().default(10_000),
    })
    .default({ incomingPerPeer: 16, incomingPerNode: 128, connections: 1024, receiveStallMs: 10_000 }),
  /**
   * Blobs (`octopii share`, `get`, `blobs add`). Rates are bytes per second: a whole number, or a
   * size per second as people write it (`"10MB"` = 10^7 B/s, `"1MiB"`, src/size.ts); unset = no
   * cap. A per-peer cap is kept for each peer on its own; a node cap is shared by all of them
   * (token buckets, src/blobs/uploadLimits.ts and downloadLimits.ts).
   */
  blobs: z
    .object({
      /** Provider upload caps (src/blobs/provide.ts): in all, and to each fetcher. */
      maxUploadRate: BytesPerSecond.optional(),
      maxUploadRatePerPeer: BytesPerSecond.optional(),
      /** Fetcher download caps (src/blobs/fetch.ts): in all, and from each provider. */
      maxDownloadRate: BytesPerSecond.optional(),
      maxDownloadRatePerPeer: BytesPerSecond.optional(),
      /** Block size of blobs this node adds, bytes or a size (`"256KiB"`): a power of two from 16 KiB to 16 MiB; unset = 1 MiB. */
      blockSize: BlockSize.optional(),
      /** Block writes in flight per fetch and provider before reading pauses, 1 to 1024; unset = 4. */
      fetchWindow: z.number().int().min(1).max(1024).optional(),
    })
    .default({}),
  /** Supervisor restart intensity: at most `intensity` restarts within `periodMs` (OTP). */
  supervisor: z
    .object({ intensity: z.number().int().nonnegative().default(5), periodMs: z.number().int().positive().default(10_000) })
    .default({ intensity: 5, periodMs: 10_000 }),
});
export type NodeConfigInput = z.input<typeof NodeConfigSchema>;
export type NodeConfig = z.output<typeof NodeConfigSchema>;

type EnvIssue = { variable: string; field: string; message: string };

/** The `OCTOPII_*` settings in `env`, each parsed; values that do not parse are collected in `issues`. */
function fromEnv(env: NodeJS.ProcessEnv, issues: EnvIssue[]): Partial<NodeConfigInput> {
  const out: Partial<NodeConfigInput> = {};
  const wholeNumber = (variable: string, field: string): number | undefined => {
    const raw = env[variable]!.trim();
    if (/^\d+$/.test(raw) && Number.isSafeInteger(Number(raw))) return Number(raw);
    issues.push({ variable, field, message: `expected a whole number, got ${JSON.stringify(env[variable])}` });
    return undefined;
  };
  if (env.OCTOPII_LISTEN) out.listen = env.OCTOPII_LISTEN;
  if (env.OCTOPII_LOG_LEVEL) out.logLevel = env.OCTOPII_LOG_LEVEL.trim() as NodeConfigInput['logLevel'];
  if (env.OCTOPII_DATA_DIR) out.dataDir = env.OCTOPII_DATA_DIR;
  if (env.OCTOPII_IDENTITY) out.identityFile = env.OCTOPII_IDENTITY;
  if (env.OCTOPII_TRANSPORT) out.transport = env.OCTOPII_TRANSPORT as TransportName;
  if (env.OCTOPII_ALLOW_PEERS) out.allowPeers = env.OCTOPII_ALLOW_PEERS.split(',').map((s) => s.trim()).filter(Boolean);
  if (env.OCTOPII_INSECURE) {
    const v = env.OCTOPII_INSECURE.trim();
    if (/^(1|true|yes)$/i.test(v)) out.insecure = true;
    else if (/^(0|false|no)$/i.test(v)) out.insecure = false;
    else issues.push({ variable: 'OCTOPII_INSECURE', field: 'insecure', message: `expected 1/true/yes or 0/false/no, got ${JSON.stringify(v)}` });
  }
  if (env.OCTOPII_MAX_RECEIVE_BYTES) {
    const n = parseSize(env.OCTOPII_MAX_RECEIVE_BYTES);
    if (n === undefined) {
      issues.push({
        variable: 'OCTOPII_MAX_RECEIVE_BYTES',
        field: 'maxReceiveBytes',
        message: `expected bytes or a size like 10MB or 1GiB, got ${JSON.stringify(env.OCTOPII_MAX_RECEIVE_BYTES)}`,
      });
    } else out.maxReceiveBytes = n;
  }
  if (env.OCTOPII_QUINN_RECEIVE_WINDOW) {
    const n = parseSize(env.OCTOPII_QUINN_RECEIVE_WINDOW);
    if (n === undefined) {
      issues.push({
        variable: 'OCTOPII_QUINN_RECEIVE_WINDOW',
        field: 'quinnReceiveWindow',
        message: `expected bytes or a size like 2MiB, got ${JSON.stringify(env.OCTOPII_QUINN_RECEIVE_WINDOW)}`,
      });
    } else out.quinnReceiveWindow = n;
  }
  if (env.OCTOPII_QUINN_THREADS) out.quinnThreads = wholeNumber('OCTOPII_QUINN_THREADS', 'quinnThreads');
  if (env.OCTOPII_HASH_THREADS) out.hashThreads = wholeNumber('OCTOPII_HASH_THREADS', 'hashThreads');
  const limit = (variable: string, key: 'incomingPerPeer' | 'incomingPerNode' | 'connections' | 'receiveStallMs') => {
    if (!env[variable]) return;
    const n = wholeNumber(variable, `limits.${key}`);
    if (n !== undefined) out.limits = { ...(out.limits ?? {}), [key]: n } as NodeConfigInput['limits'];
  };
  limit('OCTOPII_MAX_INCOMING_PER_PEER', 'incomingPerPeer');
  limit('OCTOPII_MAX_INCOMING', 'incomingPerNode');
  limit('OCTOPII_MAX_CONNECTIONS', 'connections');
  limit('OCTOPII_RECEIVE_STALL_MS', 'receiveStallMs');
  const blob = (variable: string, key: keyof NonNullable<NodeConfigInput['blobs']>, parse: (raw: string) => number | undefined, expected: string) => {
    if (!env[variable]) return;
    const n = parse(env[variable]!);
    if (n === undefined) issues.push({ variable, field: `blobs.${key}`, message: `expected ${expected}, got ${JSON.stringify(env[variable])}` });
    else out.blobs = { ...(out.blobs ?? {}), [key]: n };
  };
  const rate = (raw: string) => {
    const n = parseSize(raw);
    return n === undefined || n === 0 ? undefined : n;
  };
  const perSecond = 'bytes per second or a size like 10MB or 1MiB';
  blob('OCTOPII_MAX_UPLOAD_RATE', 'maxUploadRate', rate, perSecond);
  blob('OCTOPII_MAX_UPLOAD_RATE_PER_PEER', 'maxUploadRatePerPeer', rate, perSecond);
  blob('OCTOPII_MAX_DOWNLOAD_RATE', 'maxDownloadRate', rate, perSecond);
  blob('OCTOPII_MAX_DOWNLOAD_RATE_PER_PEER', 'maxDownloadRatePerPeer', rate, perSecond);
  const blockSize = (raw: string) => {
    const n = parseSize(raw);
    return n !== undefined && isBlockBytes(n) ? n : undefined;
  };
  const window = (raw: string) => (/^\d+$/.test(raw.trim()) && Number(raw) >= 1 && Number(raw) <= 1024 ? Number(raw) : undefined);
  blob('OCTOPII_BLOB_BLOCK_SIZE', 'blockSize', blockSize, `${BLOCK_SIZE_RULE}, e.g. 256KiB`);
  blob('OCTOPII_BLOB_FETCH_WINDOW', 'fetchWindow', window, 'a whole number of blocks from 1 to 1024');
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

/**
 * Validated configuration from `options` over `OCTOPII_*` env vars over an optional JSON file.
 * Throws INVALID_ARGUMENT listing every invalid field as `field: reason`, and for a value taken
 * from the environment `field (OCTOPII_VAR): reason`.
 */
export function loadConfig(
  options: Partial<NodeConfigInput> = {},
  { env = process.env, file }: { env?: NodeJS.ProcessEnv; file?: string } = {},
): NodeConfig {
  let fromFile: Partial<NodeConfigInput> = {};
  if (file) {
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new OctopiiError('INVALID_ARGUMENT', `cannot read config file ${file}: ${(e as Error).message}`, { cause: e });
    }
  }
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const envIssues: EnvIssue[] = [];
  const envValues = fromEnv(env, envIssues);
  // An env value that did not parse is reported unless an option overrides it.
  const definedHas = (field: string) => {
    const [top, sub] = field.split('.');
    return sub === undefined ? top! in defined : sub in ((defined[top!] as object | undefined) ?? {});
  };
  const issues = envIssues.filter((i) => !definedHas(i.field)).map((i) => `${i.field} (${i.variable}): ${i.message}`);
  // `limits` and `blobs` merge key by key (a file may set one limit, the environment another).
  const limits = { ...(fromFile.limits ?? {}), ...(envValues.limits ?? {}), ...((defined.limits as object | undefined) ?? {}) };
  const blobs = { ...(fromFile.blobs ?? {}), ...(envValues.blobs ?? {}), ...((defined.blobs as object | undefined) ?? {}) };
  const parsed = NodeConfigSchema.safeParse({ ...fromFile, ...envValues, ...defined, ...(Object.keys(limits).length ? { limits } : {}), ...(Object.keys(blobs).length ? { blobs } : {}) });
  if (!parsed.success) {
    for (const i of parsed.error.issues) {
      const field = String(i.path[0] ?? '');
      const from = field in envValues && !(field in defined) && ENV_OF[field] ? ` (${ENV_OF[field]})` : '';
      issues.push(`${i.path.join('.') || '(root)'}${from}: ${i.message}`);
    }
  }
  if (issues.length > 0) throw new OctopiiError('INVALID_ARGUMENT', `invalid configuration: ${issues.join('; ')}`);
  if (!parsed.success) throw new OctopiiError('INTERNAL', 'config parse failed without issues');
  const cfg = parsed.data;
  if (cfg.insecure) cfg.transport = 'matrixai'; // only the matrixai transport speaks ALPN `octopii`
  return cfg;
}

export { identityFileOf };

/** Where one effective setting came from. */
export type ConfigSource = 'default' | 'file' | 'env' | 'option';

/** One line of {@link explainConfig}: a setting (dotted for nested ones), its value and its source. */
export interface ConfigEntry {
  key: string;
  value: unknown;
  source: ConfigSource;
  /** The variable it came from, for `source: 'env'`. */
  env?: string;
}

/**
 * The effective configuration with the source of every setting (`octopii config print`):
 * `option` over `env` over `file` over `default`, as {@link loadConfig} resolves them. Throws
 * what loadConfig throws.
 */
export function explainConfig(
  options: Partial<NodeConfigInput> = {},
  { env = process.env, file }: { env?: NodeJS.ProcessEnv; file?: string } = {},
): ConfigEntry[] {
  const cfg = loadConfig(options, { env, file });
  const fromFile: Record<string, unknown> = file ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const envValues = fromEnv(env, []) as Record<string, unknown>;
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Record<string, unknown>;
  const has = (o: Record<string, unknown>, path: string[]) => {
    let cur: unknown = o;
    for (const p of path) {
      if (!cur || typeof cur !== 'object' || !(p in (cur as object))) return false;
      cur = (cur as Record<string, unknown>)[p];
    }
    return true;
  };
  const out: ConfigEntry[] = [];
  const visit = (value: unknown, path: string[]) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) visit(v, [...path, k]);
      return;
    }
    const key = path.join('.');
    let source: ConfigSource = 'default';
    if (has(defined, path)) source = 'option';
    else if (has(envValues, path)) source = 'env';
    else if (has(fromFile, path)) source = 'file';
    out.push({ key, value, source, ...(source === 'env' && ENV_OF[key] ? { env: ENV_OF[key] } : {}) });
  };
  visit(cfg, []);
  return out;
}
