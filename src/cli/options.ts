/**
 * Argument parsers for the `octopii` flags (commander `Option.argParser`): each returns the
 * parsed value or throws commander's InvalidArgumentError, which commander reports as
 * `error: option '--flag <x>' argument 'v' is invalid. <reason>` (exit 2, see src/cli.ts).
 * Kept light: `octopii --help` and `octopii id` load this file, never QUIC, piscina or xstate.
 */
import { InvalidArgumentError } from 'commander';
import { decodeTicket, type BlobTicket } from '../blobs/ticket.js';
import { isBlockBytes } from '../blobs/blockSize.js';
import { isNodeId } from '../nodeId.js';
import { parseSize } from '../size.js';
import { parseAddress } from '../transport/address.js';

/** A `12D3KooW…` Ed25519 node ID (decoded by src/identity.ts), unchanged. */
export function nodeIdArg(value: string): string {
  if (!isNodeId(value)) throw new InvalidArgumentError('expected an Ed25519 node ID (12D3KooW…, as printed by `octopii id`).');
  return value;
}

/** `HOST:PORT`, `[V6]:PORT` or `V6:PORT` with a port 0–65535 (src/transport/address.ts), unchanged. */
export function addressArg(value: string): string {
  try {
    parseAddress(value);
  } catch {
    throw new InvalidArgumentError('expected HOST:PORT (IPv6: [ADDR]:PORT) with a port from 0 to 65535.');
  }
  return value;
}

/** A size in bytes: `1048576`, `10MB` (10^7), `1GiB` (2^30) — src/size.ts. */
export function sizeArg(value: string): number {
  const n = parseSize(value);
  if (n === undefined) throw new InvalidArgumentError('expected a size in bytes, e.g. 1048576, 10MB or 1GiB.');
  return n;
}

/** A size in bytes above 0 (a rate: `10MB` per second) — src/size.ts. */
export function positiveSizeArg(value: string): number {
  const n = parseSize(value);
  if (n === undefined || n === 0) throw new InvalidArgumentError('expected a size in bytes above 0, e.g. 1048576, 10MB or 1MiB.');
  return n;
}

/** A blob block size: a power of two from 16 KiB to 16 MiB, in bytes or with a unit (`256KiB`, `4MiB`) — src/blobs/tree.ts. */
export function blockSizeArg(value: string): number {
  const n = parseSize(value);
  if (n === undefined || !isBlockBytes(n)) throw new InvalidArgumentError('expected a power of two from 16KiB to 16MiB, e.g. 64KiB, 256KiB or 4MiB.');
  return n;
}

/** A fetch window: a whole number of blocks from 1 to 1024 (src/blobs/fetch.ts). */
export function windowArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 1024) throw new InvalidArgumentError('expected a whole number of blocks from 1 to 1024.');
  return n;
}

/** A whole number of milliseconds, 1 to 2^31 − 1 (the range of a Node timer). */
export function millisecondsArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1 || n > 2 ** 31 - 1) {
    throw new InvalidArgumentError('expected a whole number of milliseconds from 1 to 2147483647.');
  }
  return n;
}

/** A repeatable flag: each occurrence, parsed by `parse`, appended to the previous ones (no default, so required flags stay required). */
export const repeatable =
  <T>(parse: (value: string) => T) =>
  (value: string, previous: T[] | undefined): T[] => [...(previous ?? []), parse(value)];

/** A blob ticket (`blob…`, printed by `octopii share`), decoded — src/blobs/ticket.ts. */
export function ticketArg(value: string): BlobTicket {
  try {
    return decodeTicket(value.trim());
  } catch (e) {
    throw new InvalidArgumentError(`${(e as Error).message} (expected the blob… string \`octopii share\` printed).`);
  }
}

/** A store tag name: letters, digits, `.`, `_`, `-`, at most 128, not starting with `.` (src/blobs/store.ts). */
export function tagArg(value: string): string {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(value)) throw new InvalidArgumentError('expected a tag: letters, digits, ".", "_" and "-", at most 128, not starting with ".".');
  return value;
}
