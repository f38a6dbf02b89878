/**
 * A {@link Logger} (src/runtime/logger.ts) backed by pino (DESIGN.md §3 "Logs: structured"):
 * one JSON object per line — `level` (pino's number), `time` (epoch ms), `msg`, the bindings
 * (`nodeId` bound by the node, `peer` and `transfer` by whoever logs about them) and the
 * fields logged — or, on a terminal, pino-pretty's coloured lines.
 *
 *   const logger = createPinoLogger({ level: 'debug' });
 *   const node = await OctopiiNode.start({ runtime: { logger } });   // every line carries nodeId
 *   logger.child({ peer: 'peer:12D3…', transfer: 'send#3' }).info({ event: 'sent', bytes }, 'sent');
 *
 * `pretty` defaults to whether `destination` is a TTY (stderr by default). Pretty printing
 * runs in this thread (pino-pretty's `prettyFactory` on each line): no worker transport, so a
 * crash loses no line. Throws INVALID_ARGUMENT for an unknown level.
 */
import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Level } from 'pino';
import { OctopiiError } from '../errors.js';
import type { Logger } from '../runtime/logger.js';

export type LogLevel = Level | 'silent';

const LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface PinoLoggerOptions {
  /** Lowest level written (default `info`; `OCTOPII_LOG_LEVEL` is read by the CLI, not here). */
  level?: LogLevel;
  /** Human-readable lines instead of JSON (default: when `destination` is a TTY). */
  pretty?: boolean;
  /** Where lines go (default: stderr, fd 2). Anything with `write(string)`. */
  destination?: DestinationStream & { isTTY?: boolean };
  /** Bound on every line (e.g. `{ service: 'octopii' }`). */
  bindings?: Record<string, unknown>;
}

/** A pino-backed Logger. The returned object is pino's own logger (it fits the interface). */
export function createPinoLogger(options: PinoLoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  if (!LEVELS.includes(level)) throw new OctopiiError('INVALID_ARGUMENT', `log level must be one of ${LEVELS.join(', ')}, got "${String(level)}"`);
  const destination = options.destination ?? (process.stderr as DestinationStream & { isTTY?: boolean });
  const pretty = options.pretty ?? Boolean(destination.isTTY);
  let stream: DestinationStream = destination;
  if (pretty) {
    // Loaded only for a terminal (pino-pretty and its dependencies: ~0.6 MiB of V8 heap that a
    // server logging JSON would carry for nothing). It is CommonJS: require keeps this sync.
    const { prettyFactory } = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
    const format = prettyFactory({ colorize: Boolean(destination.isTTY), translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' });
    stream = { write: (line: string) => void destination.write(format(line)) };
  }
  const logger = pino({ level, base: options.bindings ?? null, timestamp: pino.stdTimeFunctions.epochTime }, stream);
  return logger as unknown as Logger;
}
