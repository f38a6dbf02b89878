/**
 * The logger a node writes to (DESIGN.md §3 "Logs: structured"). The shape is pino's
 * (`logger.info(obj, msg)`, `child(bindings)`), so a pino logger can be passed as it is; the
 * default writes nothing. A node binds its node ID; peers, transfers and calls bind theirs.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  /** A logger whose every line carries `bindings` as well. */
  child(bindings: object): Logger;
}

/** Writes nothing. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};

/** One JSON object per line on `write` (default: stderr), pino-style: `{ level, time, msg, ...bindings, ...obj }`. */
export function jsonLogger(write: (line: string) => void = (l) => process.stderr.write(l), bindings: object = {}): Logger {
  const line = (level: string) => (obj: object, msg?: string) =>
    write(JSON.stringify({ level, time: Date.now(), ...bindings, ...obj, ...(msg ? { msg } : {}) }) + '\n');
  return {
    debug: line('debug'),
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
    child: (more) => jsonLogger(write, { ...bindings, ...more }),
  };
}
