/** Constants and small helpers shared by the memory transport's files. */
import { OctopiiError, type OctopiiErrorCode } from '../../errors.js';
import { formatAddress, parseAddress } from '../address.js';

export const DEFAULT_HWM = 64 * 1024;
export const DEFAULT_DIAL_TIMEOUT_MS = 5_000;
export const DEFAULT_STREAM_TIMEOUT_MS = 10_000;

export const err = (code: OctopiiErrorCode, message: string) => new OctopiiError(code, message);

export function canonical(address: string): string {
  const { host, port } = parseAddress(address);
  return formatAddress(host, port);
}

export function checkDelay(ms: number): number {
  if (!(Number.isFinite(ms) && ms >= 0)) throw err('INVALID_ARGUMENT', `a delivery delay must be a finite number of ms ≥ 0 (got ${ms})`);
  return ms;
}

/** Invariant check (TigerBeetle style): a broken invariant is a bug in this file, not an I/O error. */
export function assert(ok: boolean, what: string): asserts ok {
  if (!ok) throw new Error(`memory transport invariant broken: ${what}`);
}
