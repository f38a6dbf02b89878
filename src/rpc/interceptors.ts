/**
 * Interceptors (gRPC's client/server interceptors, Connect's interceptors): functions wrapped
 * around every call, outermost first. `next` runs the rest of the chain and the call itself; for
 * streaming calls it resolves with the AsyncIterable of outputs.
 *
 *   node.rpc.useServer(async (call, next) => { if (call.metadata.token !== 's3cret') throw new RpcError('PERMISSION_DENIED', 'bad token'); return next(); });
 *   node.rpc.useClient((call, next) => next({ ...call, metadata: { ...call.metadata, token: 's3cret' } }));
 */
import { OctopiiError, isRetryable, type OctopiiErrorCode } from '../errors.js';
import type { Clock } from '../runtime/clock.js';
import { sleep } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import type { Metadata } from '../wire/rpc.js';
import type { StreamShape } from './service.js';

/** A call as a client interceptor sees it (copy-on-write: pass a changed copy to `next`). */
export interface ClientCallInfo {
  /** `service.method`. */
  method: string;
  stream: StreamShape | 'unary';
  idempotent: boolean;
  /** Peer actor id (`peer:<nodeId>`). */
  peer: string;
  /** Unary and server-streaming: the input; otherwise the input iterable. */
  input: unknown;
  metadata: Metadata;
  /** Deadline from now, ms. */
  deadlineMs: number;
  signal: AbortSignal | undefined;
}
export type ClientNext = (call: ClientCallInfo) => Promise<unknown>;
export type ClientInterceptor = (call: ClientCallInfo, next: ClientNext) => Promise<unknown>;

/** A call as a server interceptor sees it. */
export interface ServerCallInfo {
  method: string;
  stream: StreamShape | 'unary';
  /** Caller's node ID. */
  peer: string | null;
  /** The call's request ID (src/rpc/callRecord.ts). */
  requestId: string;
  metadata: Metadata;
  signal: AbortSignal;
  /** Unary and server-streaming: the validated input; otherwise undefined. */
  input: unknown;
}
export type ServerInterceptor = (call: ServerCallInfo, next: () => Promise<unknown>) => Promise<unknown>;

/** Runs `chain` around `last`, outermost first. */
export function runClientChain(chain: readonly ClientInterceptor[], call: ClientCallInfo, last: ClientNext): Promise<unknown> {
  const at = (i: number): ClientNext => (c) => (i < chain.length ? chain[i]!(c, at(i + 1)) : last(c));
  return at(0)(call);
}
export function runServerChain(chain: readonly ServerInterceptor[], call: ServerCallInfo, last: () => Promise<unknown>): Promise<unknown> {
  const at = (i: number): (() => Promise<unknown>) => () => (i < chain.length ? chain[i]!(call, at(i + 1)) : last());
  return at(0)();
}

/** Server: refuses calls whose metadata `authorization` is not `Bearer <token>` with PERMISSION_DENIED. */
export function bearerAuth(token: string): ServerInterceptor {
  return (call, next) => {
    if (call.metadata['authorization'] !== `Bearer ${token}`) {
      return Promise.reject(new OctopiiError('PERMISSION_DENIED', `${call.method}: missing or wrong bearer token`));
    }
    return next();
  };
}

/** Client: adds `authorization: Bearer <token>` to every call. */
export function withBearer(token: string): ClientInterceptor {
  return (call, next) => next({ ...call, metadata: { ...call.metadata, authorization: `Bearer ${token}` } });
}

/** Logs one line per call: request ID (`call`, src/rpc/callRecord.ts), method, peer, outcome code, duration (ms on `clock`). */
export function logCalls(logger: Logger, clock: Clock): ServerInterceptor {
  return async (call, next) => {
    const t0 = clock.now();
    try {
      const out = await next();
      logger.info({ event: 'rpc', call: call.requestId, method: call.method, peer: call.peer, code: 'OK', ms: clock.now() - t0 });
      return out;
    } catch (e) {
      logger.info({ event: 'rpc', call: call.requestId, method: call.method, peer: call.peer, code: (e as OctopiiError).code ?? 'UNKNOWN', ms: clock.now() - t0 });
      throw e;
    }
  };
}

/** Counts calls by method and outcome code: `counts.get('kv.get OK')`. */
export function countCalls(counts: Map<string, number>): ClientInterceptor {
  return async (call, next) => {
    const bump = (code: string) => counts.set(`${call.method} ${code}`, (counts.get(`${call.method} ${code}`) ?? 0) + 1);
    try {
      const out = await next(call);
      bump('OK');
      return out;
    } catch (e) {
      bump((e as OctopiiError).code ?? 'UNKNOWN');
      throw e;
    }
  };
}

/**
 * Client: retries unary calls of idempotent methods on a retryable error (error table), up to
 * `attempts` in all, waiting `backoffMs · 2^n` on `clock` between tries. (The call machine
 * already retries idempotent methods; this is the interceptor form, for any policy.)
 */
export function retryCalls(clock: Clock, options: { attempts?: number; backoffMs?: number; codes?: OctopiiErrorCode[] } = {}): ClientInterceptor {
  const attempts = options.attempts ?? 3;
  const backoff = options.backoffMs ?? 50;
  return async (call, next) => {
    for (let i = 1; ; i++) {
      try {
        return await next(call);
      } catch (e) {
        const code = (e as OctopiiError).code;
        const ok = options.codes ? options.codes.includes(code) : code !== undefined && isRetryable(code);
        if (i >= attempts || !ok || !call.idempotent || call.stream !== 'unary') throw e;
        await sleep(clock, backoff * 2 ** (i - 1), call.signal);
      }
    }
  };
}
