/**
 * `RpcError`: the error of a call — an {@link OctopiiError} with a code of the one table (gRPC
 * status codes' role: UNKNOWN_METHOD, BAD_INPUT, BAD_OUTPUT, DEADLINE_EXCEEDED, CANCELLED,
 * TOO_LARGE, UNAVAILABLE, RESOURCE_EXHAUSTED, INTERNAL …) plus the method it came from.
 * Errors cross the wire as `{ code: u16, message }` (errors.ts `toWire`/`fromWire`); one that a
 * handler threw arrives with `origin: 'remote'`.
 */
import { OctopiiError, toOctopiiError, type ErrorOrigin, type OctopiiErrorCode } from '../errors.js';

export class RpcError extends OctopiiError {
  /** `service.method`, when known. */
  readonly method: string | undefined;
  constructor(code: OctopiiErrorCode, message: string, options?: { cause?: unknown; origin?: ErrorOrigin; method?: string }) {
    super(code, message, options);
    this.name = 'RpcError';
    this.method = options?.method;
  }
  /** Any thrown value as an RpcError of `method` (non-octopii errors become `fallback`, default INTERNAL). */
  static of(e: unknown, method?: string, fallback: OctopiiErrorCode = 'INTERNAL'): RpcError {
    if (e instanceof RpcError) return e;
    const o = toOctopiiError(e, fallback);
    return new RpcError(o.code, o.message, { cause: e, origin: o.origin, ...(method ? { method } : {}) });
  }
}

export const isRpcError = (e: unknown, code?: OctopiiErrorCode): e is RpcError => e instanceof RpcError && (code === undefined || e.code === code);
