/**
 * One error table for octopii (DESIGN.md §1 "Errors"): every error the framework throws or
 * reports is an {@link OctopiiError} whose `code` is a member of a closed union, and every code
 * has one row in {@link ERROR_TABLE}: its wire code (u16, stable forever), whether a retry can
 * fix it, and a one-line meaning. Errors cross the wire only through {@link toWire} /
 * {@link fromWire}; an error that came from a peer has `origin: 'remote'`.
 *
 * This module is pure (no node:* imports) so that machines/ can use it.
 *
 * Wire codes: 0 is never used; 1–99 transport and peers, 100–199 streams and the wire,
 * 200–299 the lane and storage, 300–399 calls (RPC), 400–499 consensus (Raft, WAL),
 * 900–999 generic. Golden vectors: test/unit/errors.test.ts, docs/PROTOCOL.md "Errors".
 */

/** One row of the error table. */
export interface ErrorSpec {
  /** Stable u16 code on the wire. Never reused, never renumbered. */
  readonly wire: number;
  /** True when the same operation may succeed if retried later (maybe elsewhere). */
  readonly retryable: boolean;
  /** What it means, for docs and `--help`. */
  readonly meaning: string;
}

/** The error table. Add rows at the end of a range; never change a row's `wire`. */
export const ERROR_TABLE = {
  // ── transport and peers (1–99)
  CONNECT_TIMEOUT: { wire: 1, retryable: true, meaning: 'the dial did not complete in time' },
  CONNECTION_REFUSED: { wire: 2, retryable: true, meaning: 'the peer refused or is unreachable' },
  CONNECTION_CLOSED: { wire: 3, retryable: true, meaning: 'the connection closed while in use' },
  PEER_VERIFICATION_FAILED: { wire: 4, retryable: false, meaning: 'the peer could not prove the expected node ID, or is not allowed' },
  TRANSPORT_MISMATCH: { wire: 5, retryable: false, meaning: 'the peer speaks another transport or ALPN' },
  UNAVAILABLE: { wire: 6, retryable: true, meaning: 'the peer is down or unreachable right now (dead-peer detection)' },
  HANDSHAKE_FAILED: { wire: 7, retryable: false, meaning: 'the hello exchange failed (protocol version, node ID)' },
  // ── streams and the wire (100–199)
  STREAM_LIMIT: { wire: 100, retryable: true, meaning: "the peer's concurrent stream limit was reached" },
  STREAM_ABORTED: { wire: 101, retryable: true, meaning: 'the stream was reset by either side' },
  PROTOCOL_ERROR: { wire: 102, retryable: false, meaning: 'malformed frame, truncated data or an unexpected byte' },
  UNKNOWN_KIND: { wire: 103, retryable: false, meaning: 'the peer serves no handler for this stream kind' },
  TOO_LARGE: { wire: 104, retryable: false, meaning: 'a message is larger than the limit' },
  // ── lane and storage (200–299)
  SIZE_LIMIT: { wire: 200, retryable: false, meaning: "the announced size is above the receiver's cap" },
  CHECKSUM_MISMATCH: { wire: 201, retryable: true, meaning: 'the SHA-256 of the data does not match' },
  REMOTE_ERROR: { wire: 202, retryable: false, meaning: 'the receiver reported an error without a reason (lane v1 status 2)' },
  SOURCE_NOT_FOUND: { wire: 203, retryable: false, meaning: 'a file source or directory does not exist' },
  IO_ERROR: { wire: 204, retryable: false, meaning: 'a local filesystem error' },
  DISK_FULL: { wire: 205, retryable: true, meaning: 'no space left on the device (ENOSPC)' },
  PERMISSION_DENIED: { wire: 206, retryable: false, meaning: 'the filesystem refused access (EACCES, EPERM, EROFS)' },
  NOT_A_DIRECTORY: { wire: 207, retryable: false, meaning: 'a path that must be a directory is not one' },
  BLOB_NOT_FOUND: { wire: 208, retryable: false, meaning: 'no complete blob with this root in the store (or at the provider)' },
  BLOCK_MISMATCH: { wire: 209, retryable: true, meaning: 'a block or outboard does not verify against the blob root' },
  RANGE_NOT_SATISFIABLE: { wire: 210, retryable: false, meaning: 'a byte or block range lies beyond the end of the blob' },
  // ── calls (300–399)
  TIMEOUT: { wire: 300, retryable: true, meaning: 'an operation exceeded its time budget' },
  DEADLINE_EXCEEDED: { wire: 301, retryable: true, meaning: "the caller's deadline passed" },
  CANCELLED: { wire: 302, retryable: false, meaning: 'the caller cancelled' },
  RESOURCE_EXHAUSTED: { wire: 303, retryable: true, meaning: 'a limit (transfers, calls, buffers, connections) was reached' },
  UNKNOWN_METHOD: { wire: 304, retryable: false, meaning: 'no such service or method' },
  BAD_INPUT: { wire: 305, retryable: false, meaning: 'the input failed its schema' },
  BAD_OUTPUT: { wire: 306, retryable: false, meaning: 'the output failed its schema' },
  // ── consensus (400–499)
  NOT_LEADER: { wire: 400, retryable: true, meaning: 'this member is not the leader' },
  WAL_CORRUPT: { wire: 401, retryable: false, meaning: 'a write-ahead log record failed its checksum' },
  // ── generic (900–999)
  ABORTED: { wire: 900, retryable: false, meaning: 'an AbortSignal fired' },
  ESCALATED: { wire: 901, retryable: false, meaning: 'a supervisor gave up restarting a child (restart intensity exceeded)' },
  INVALID_ARGUMENT: { wire: 902, retryable: false, meaning: 'an argument or configuration value is invalid' },
  INVALID_IDENTITY: { wire: 903, retryable: false, meaning: 'an identity file or key is invalid' },
  CLOSED: { wire: 904, retryable: false, meaning: 'the node or transport is already closed' },
  INTERNAL: { wire: 905, retryable: false, meaning: 'a bug: an invariant did not hold' },
  UNKNOWN: { wire: 999, retryable: false, meaning: 'an error this version does not know (from a newer peer) or a non-octopii error' },
} as const satisfies Record<string, ErrorSpec>;

/** Stable error codes: the keys of {@link ERROR_TABLE}, a closed union. */
export type OctopiiErrorCode = keyof typeof ERROR_TABLE;

/** Where an error arose: here, or reported by a peer over the wire. */
export type ErrorOrigin = 'local' | 'remote';

/** Plain, serialisable description of an error: what machines keep in context and results carry. */
export interface ErrorInfo {
  code: OctopiiErrorCode;
  message: string;
  /** Omitted means `local`. */
  origin?: ErrorOrigin;
}

/** An error as it crosses the wire (CBOR map or JSON): u16 code and message. */
export interface WireError {
  code: number;
  message: string;
}

const byWire = new Map<number, OctopiiErrorCode>(
  Object.entries(ERROR_TABLE).map(([code, spec]) => [spec.wire, code as OctopiiErrorCode]),
);

/** True when `code` is a member of the table. */
export function isErrorCode(code: unknown): code is OctopiiErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_TABLE, code);
}

/** The table's row for `code`. */
export const errorSpec = (code: OctopiiErrorCode): ErrorSpec => ERROR_TABLE[code];

/** True when a retry may fix an error with this code (table column `retryable`). */
export const isRetryable = (code: OctopiiErrorCode): boolean => ERROR_TABLE[code].retryable;

export class OctopiiError extends Error {
  readonly code: OctopiiErrorCode;
  readonly origin: ErrorOrigin;
  constructor(code: OctopiiErrorCode, message: string, options?: { cause?: unknown; origin?: ErrorOrigin }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OctopiiError';
    this.code = isErrorCode(code) ? code : 'UNKNOWN';
    this.origin = options?.origin ?? 'local';
  }
  /** True when a retry may fix it (see {@link ERROR_TABLE}). */
  get retryable(): boolean {
    return isRetryable(this.code);
  }
  toJSON(): ErrorInfo {
    return this.origin === 'remote'
      ? { code: this.code, message: this.message, origin: 'remote' }
      : { code: this.code, message: this.message };
  }
  /** The error from a plain {@link ErrorInfo}. */
  static from(info: ErrorInfo): OctopiiError {
    return new OctopiiError(info.code, info.message, { origin: info.origin ?? 'local' });
  }
}

export const isOctopiiError = (e: unknown, code?: OctopiiErrorCode): e is OctopiiError =>
  e instanceof OctopiiError && (code === undefined || e.code === code);

/** Node.js errno → table code, for filesystem and socket errors. */
const ERRNO: Readonly<Record<string, OctopiiErrorCode>> = {
  ENOENT: 'SOURCE_NOT_FOUND',
  ENOSPC: 'DISK_FULL',
  EDQUOT: 'DISK_FULL',
  EACCES: 'PERMISSION_DENIED',
  EPERM: 'PERMISSION_DENIED',
  EROFS: 'PERMISSION_DENIED',
  ENOTDIR: 'NOT_A_DIRECTORY',
  EMFILE: 'RESOURCE_EXHAUSTED',
  ENFILE: 'RESOURCE_EXHAUSTED',
  ECONNREFUSED: 'CONNECTION_REFUSED',
};

/**
 * Anything thrown → an OctopiiError (the one converter; OctopiiErrors are returned as they
 * are). Node errno codes map through a table (ENOSPC → DISK_FULL, EACCES → PERMISSION_DENIED,
 * ENOENT → SOURCE_NOT_FOUND …), AbortError → ABORTED, a plain object with a table `code` keeps
 * it, anything else gets `fallback`.
 */
export function toOctopiiError(e: unknown, fallback: OctopiiErrorCode = 'IO_ERROR'): OctopiiError {
  if (e instanceof OctopiiError) return e;
  if (e instanceof Error) {
    const errno = (e as { code?: unknown }).code;
    if (typeof errno === 'string' && ERRNO[errno]) return new OctopiiError(ERRNO[errno]!, e.message, { cause: e });
    if (isErrorCode(errno)) return new OctopiiError(errno, e.message, { cause: e });
    if (e.name === 'AbortError') return new OctopiiError('ABORTED', e.message, { cause: e });
    return new OctopiiError(fallback, e.message, { cause: e });
  }
  if (e && typeof e === 'object') {
    const o = e as { code?: unknown; message?: unknown; origin?: unknown };
    const message = typeof o.message === 'string' ? o.message : JSON.stringify(e);
    const code = isErrorCode(o.code) ? o.code : fallback;
    return new OctopiiError(code, message, { origin: o.origin === 'remote' ? 'remote' : 'local' });
  }
  return new OctopiiError(fallback, String(e));
}

/** Anything thrown → a plain {@link ErrorInfo} (through {@link toOctopiiError}). */
export function toErrorInfo(e: unknown, fallback: OctopiiErrorCode = 'UNKNOWN'): ErrorInfo {
  return toOctopiiError(e, fallback).toJSON();
}

/** The error as it goes on the wire: its u16 code and message (origin is implied: remote). */
export function toWire(e: ErrorInfo | OctopiiError): WireError {
  return { code: ERROR_TABLE[e.code].wire, message: e.message };
}

/**
 * The error a peer sent: `origin: 'remote'`; a wire code this version does not know becomes
 * UNKNOWN (the message keeps the number). Throws PROTOCOL_ERROR when `w` is not a
 * `{ code: u16, message: string }`.
 */
export function fromWire(w: unknown): OctopiiError {
  const o = w as { code?: unknown; message?: unknown } | null;
  if (!o || typeof o !== 'object' || !Number.isInteger(o.code) || (o.code as number) < 0 || (o.code as number) > 0xffff || typeof o.message !== 'string') {
    throw new OctopiiError('PROTOCOL_ERROR', `malformed wire error: ${JSON.stringify(w)}`);
  }
  const code = byWire.get(o.code as number);
  return code
    ? new OctopiiError(code, o.message, { origin: 'remote' })
    : new OctopiiError('UNKNOWN', `peer error ${o.code as number}: ${o.message}`, { origin: 'remote' });
}

/** Shipping Lane v1 status byte (seed 001, Wire Format): 0 OK, 1 checksum failed, 2 error. */
export const LaneStatus = { OK: 0, CHECKSUM_FAILED: 1, ERROR: 2 } as const;
export type LaneStatus = (typeof LaneStatus)[keyof typeof LaneStatus];

/** The v1 status byte a receiver answers for a failure: 1 for CHECKSUM_MISMATCH, else 2. */
export function laneStatusFor(e: ErrorInfo | null | undefined): LaneStatus {
  return e?.code === 'CHECKSUM_MISMATCH' ? LaneStatus.CHECKSUM_FAILED : LaneStatus.ERROR;
}

/** The sender's error for a non-zero v1 status byte (`early`: answered before the data ended). */
export function errorForLaneStatus(status: number, early = false): ErrorInfo {
  const when = early ? ' before the end of the data' : '';
  if (status === LaneStatus.CHECKSUM_FAILED) return { code: 'CHECKSUM_MISMATCH', message: `receiver reported a checksum mismatch${when} (status 1)`, origin: 'remote' };
  if (status === LaneStatus.ERROR) return { code: 'REMOTE_ERROR', message: `receiver reported an error${when} (status 2)`, origin: 'remote' };
  return { code: 'PROTOCOL_ERROR', message: `receiver answered status ${status}${when}` };
}

/** Rejects with ABORTED when `signal` fires; use in Promise.race. */
export function abortPromise(signal: AbortSignal | undefined): Promise<never> | undefined {
  if (!signal) return undefined;
  return new Promise((_, reject) => {
    const fire = () => reject(new OctopiiError('ABORTED', `aborted: ${String(signal.reason ?? '')}`));
    if (signal.aborted) fire();
    else signal.addEventListener('abort', fire, { once: true });
  });
}

/** Runs `p` with a timeout in ms; rejects with `code` (default TIMEOUT) when it expires. */
export async function withTimeout<T>(
  p: Promise<T>,
  ms: number,
  what: string,
  code: OctopiiErrorCode = 'TIMEOUT',
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new OctopiiError(code, `${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}
