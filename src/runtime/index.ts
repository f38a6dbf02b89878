/** The runtime a node is started with: clock, transport, hasher, logger (see ./types.ts). */
export { systemClock, sleep, type Clock } from './clock.js';
export { silentLogger, jsonLogger, type Logger } from './logger.js';
export type { Runtime, Hasher } from './types.js';
