import { OctopiiError } from '../errors.js';

/**
 * Parses `host:port` (IPv4 or name), `[v6]:port`, or bare `v6:port` (last colon splits).
 * Returns the host without brackets. Throws INVALID_ARGUMENT.
 */
export function parseAddress(address: string): { host: string; port: number } {
  let host: string;
  let portText: string;
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address);
  if (m) {
    host = m[1]!;
    portText = m[2]!;
  } else {
    const i = address.lastIndexOf(':');
    if (i <= 0) throw new OctopiiError('INVALID_ARGUMENT', `address must be HOST:PORT, got "${address}"`);
    host = address.slice(0, i);
    portText = address.slice(i + 1);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw new OctopiiError('INVALID_ARGUMENT', `bad port in "${address}"`);
  }
  if (host === 'localhost') host = '127.0.0.1';
  return { host, port };
}

/**
 * Formats host and port, bracketing IPv6 hosts: `[::1]:4000`. A host with a colon is taken as
 * IPv6 (no IPv4 address or name has one); no node:net `isIP` here — the CLI's option checks
 * load this file, and node:net is 5–10 % of `octopii --help`'s start-up (bench/startup.ts).
 */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export const isLoopbackHost = (host: string): boolean =>
  host === '::1' || host.startsWith('127.') || host === 'localhost';
