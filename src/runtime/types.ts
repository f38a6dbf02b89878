/**
 * What a node runs on (DESIGN.md §1 "Runtime"): everything with a side effect or a clock comes
 * from here, so N whole nodes can run in one process on the in-memory network under a simulated
 * clock (`test/sim`), and a production node runs on QUIC and the system clock. No process
 * globals: the hash pool is owned (and reference-counted when shared), the environment is read
 * by config alone.
 *
 *   const net = new MemoryNetwork({ clock });
 *   const node = await OctopiiNode.start({ runtime: { clock, transport: net.transport({ identity }), hasher: inlineHasher } , identity });
 */
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import type { Transport } from '../transport/types.js';
import type { Sha256Hasher, Sha256Options } from '../hash/pool.js';

/** Where incremental SHA-256 hashers come from (a piscina pool, or inline for simulations). */
export interface Hasher {
  createSha256(options?: Sha256Options): Sha256Hasher;
}

/** The parts a node is started with; anything left out gets the production default. */
export interface Runtime {
  /** Timers for every machine and deadline (default: {@link systemClock}). */
  clock: Clock;
  /** Transport the node listens and dials on, not yet listening (default: from config). */
  transport: Transport;
  /** SHA-256 hashers (default: the shared worker pool, retained while the node runs). */
  hasher: Hasher;
  /** Structured logs (default: silent). */
  logger: Logger;
}

export type { Clock, Logger };
