/**
 * Node configuration: one validated object (DESIGN.md §3), built from code, a JSON file, or
 * `OCTOPII_*` environment variables, validated with zod. Precedence: explicit options > env.
 *
 * Env vars: OCTOPII_LISTEN (HOST:PORT), OCTOPII_DATA_DIR, OCTOPII_IDENTITY (file),
 * OCTOPII_TRANSPORT (quinn | matrixai), OCTOPII_ALLOW_PEERS (comma-separated node IDs),
 * OCTOPII_INSECURE (1/true), OCTOPII_MAX_RECEIVE_BYTES, OCTOPII_QUINN_THREADS.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { OctopiiError } from './errors.js';

export const TransportName = z.enum(['quinn', 'matrixai']);
export type TransportName = z.infer<typeof TransportName>;

/** Default transport for node-to-node traffic (issue 3 item 3). */
export const DEFAULT_TRANSPORT: TransportName = 'quinn';

export const NodeConfigSchema = z.object({
  /** Address to listen on, `HOST:PORT` (port 0 = any free port). */
  listen: z.string().default('127.0.0.1:0'),
  /** Node data directory (identity, state). */
  dataDir: z.string().default(join(homedir(), '.octopii')),
  /** Identity file (PKCS#8 PEM Ed25519); default `<dataDir>/identity.pem`. */
  identityFile: z.string().optional(),
  transport: TransportName.default(DEFAULT_TRANSPORT),
  /** Node IDs admitted inbound; empty = any authenticated peer. */
  allowPeers: z.array(z.string()).default([]),
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
  /** Supervisor restart intensity: at most `intensity` restarts within `periodMs` (OTP). */
  supervisor: z
    .object({ intensity: z.number().int().nonnegative().default(5), periodMs: z.number().int().positive().default(10_000) })
    .default({ intensity: 5, periodMs: 10_000 }),
});
export type NodeConfigInput = z.input<typeof NodeConfigSchema>;
export type NodeConfig = z.output<typeof NodeConfigSchema>;

function fromEnv(env: NodeJS.ProcessEnv): Partial<NodeConfigInput> {
  const out: Partial<NodeConfigInput> = {};
  if (env.OCTOPII_LISTEN) out.listen = env.OCTOPII_LISTEN;
  if (env.OCTOPII_DATA_DIR) out.dataDir = env.OCTOPII_DATA_DIR;
  if (env.OCTOPII_IDENTITY) out.identityFile = env.OCTOPII_IDENTITY;
  if (env.OCTOPII_TRANSPORT) out.transport = env.OCTOPII_TRANSPORT as TransportName;
  if (env.OCTOPII_ALLOW_PEERS) out.allowPeers = env.OCTOPII_ALLOW_PEERS.split(',').filter(Boolean);
  if (env.OCTOPII_INSECURE) out.insecure = /^(1|true|yes)$/i.test(env.OCTOPII_INSECURE);
  if (env.OCTOPII_MAX_RECEIVE_BYTES) out.maxReceiveBytes = Number(env.OCTOPII_MAX_RECEIVE_BYTES);
  if (env.OCTOPII_QUINN_THREADS) out.quinnThreads = Number(env.OCTOPII_QUINN_THREADS);
  return out;
}

/**
 * Validated configuration from `options` over `OCTOPII_*` env vars over an optional JSON file.
 * Throws INVALID_ARGUMENT listing every invalid field.
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
  const parsed = NodeConfigSchema.safeParse({ ...fromFile, ...fromEnv(env), ...defined });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new OctopiiError('INVALID_ARGUMENT', `invalid configuration: ${issues}`);
  }
  const cfg = parsed.data;
  if (cfg.insecure) cfg.transport = 'matrixai'; // only the matrixai transport speaks ALPN `octopii`
  return cfg;
}

export const identityFileOf = (cfg: Pick<NodeConfig, 'dataDir' | 'identityFile'>): string =>
  cfg.identityFile ?? join(cfg.dataDir, 'identity.pem');
