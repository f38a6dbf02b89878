/**
 * One error hierarchy for octopii (DESIGN.md §3): every error the framework throws is an
 * {@link OctopiiError} with a stable string `code`. Errors that reach the wire map to the
 * Shipping Lane v1 status byte through {@link laneStatusFor} (seed 001, Wire Format).
 */

/** Stable error codes. Add new codes at the end; never reuse one. */
export type OctopiiErrorCode =
  | 'CONNECT_TIMEOUT' // dial did not complete in time
  | 'CONNECTION_REFUSED' // peer refused, unreachable, or handshake failed
  | 'CONNECTION_CLOSED' // connection closed (locally or by the peer) while in use
  | 'PEER_VERIFICATION_FAILED' // peer identity did not match the expected node ID / allowlist
  | 'TRANSPORT_MISMATCH' // the peer speaks another transport (quinn vs matrixai)
  | 'STREAM_LIMIT' // peer's concurrent stream limit reached and did not clear in time
  | 'STREAM_ABORTED' // stream reset / aborted by either side
  | 'PROTOCOL_ERROR' // malformed frame, truncated data, unexpected byte
  | 'SIZE_LIMIT' // announced size above the receiver's cap
  | 'CHECKSUM_MISMATCH' // SHA-256 of the data does not match the trailer
  | 'REMOTE_ERROR' // receiver answered status 2
  | 'SOURCE_NOT_FOUND' // a file source does not exist
  | 'IO_ERROR' // local filesystem error
  | 'TIMEOUT' // an operation exceeded its time budget
  | 'ABORTED' // an AbortSignal fired
  | 'ESCALATED' // a supervisor gave up restarting a child (OTP restart intensity exceeded)
  | 'INVALID_ARGUMENT'
  | 'INVALID_IDENTITY'
  | 'CLOSED'; // the node / transport is already closed

export class OctopiiError extends Error {
  readonly code: OctopiiErrorCode;
  constructor(code: OctopiiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OctopiiError';
    this.code = code;
  }
  toJSON(): { code: OctopiiErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export const isOctopiiError = (e: unknown, code?: OctopiiErrorCode): e is OctopiiError =>
  e instanceof OctopiiError && (code === undefined || e.code === code);

/** Wraps anything thrown into an OctopiiError, keeping OctopiiErrors as they are. */
export function toOctopiiError(e: unknown, fallback: OctopiiErrorCode = 'IO_ERROR'): OctopiiError {
  if (e instanceof OctopiiError) return e;
  if (e instanceof Error) {
    const errno = (e as NodeJS.ErrnoException).code;
    if (errno === 'ENOENT') return new OctopiiError('SOURCE_NOT_FOUND', e.message, { cause: e });
    if (e.name === 'AbortError') return new OctopiiError('ABORTED', e.message, { cause: e });
    return new OctopiiError(fallback, e.message, { cause: e });
  }
  return new OctopiiError(fallback, String(e));
}

/** Shipping Lane v1 status byte (seed 001, Wire Format): 0 OK, 1 checksum failed, 2 error. */
export const LaneStatus = { OK: 0, CHECKSUM_FAILED: 1, ERROR: 2 } as const;
export type LaneStatus = (typeof LaneStatus)[keyof typeof LaneStatus];

export function laneStatusFor(e: OctopiiError): LaneStatus {
  return e.code === 'CHECKSUM_MISMATCH' ? LaneStatus.CHECKSUM_FAILED : LaneStatus.ERROR;
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
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new OctopiiError(code, `${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}
