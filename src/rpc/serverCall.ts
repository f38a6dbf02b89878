/**
 * One call on the callee's side of RPC (docs/PROTOCOL.md "RPC"), once ./server.ts has found its
 * method and admitted it: its state ({@link ServerCall}: the handler's AbortSignal made on first
 * use, the inbound queue of a client or bidi stream, the credit gate of an outbound stream), and
 * running the handler: the input checked against its schema (BAD_INPUT), the server interceptors,
 * the output checked (BAD_OUTPUT) and answered — one `data` for unary and client streams, then
 * `end` with the trailers if any; one `data` per item within the caller's credit, then `end`, for
 * server and bidi streams (the gRPC-style headers go on the first `data`).
 */
import type { z } from 'zod';
import type { OctopiiError } from '../errors.js';
import type { Metadata, RequestMessage, RpcMessage } from '../wire/rpc.js';
import { RpcError } from './errors.js';
import type { CreditGate, InboundQueue } from './flow.js';
import { runServerChain, type ServerInterceptor } from './interceptors.js';
import type { CallContext, MethodDef } from './service.js';

export interface ServerCall {
  id: number;
  method: string;
  /** Made on first use of the handler's signal (most unary handlers never look at it). */
  abort: AbortController | null;
  /** Why the call was stopped (set once; the signal, if made, fires with it). */
  stopped: OctopiiError | null;
  inputs: InboundQueue<unknown> | null;
  credit: CreditGate;
  timer: unknown;
  done: boolean;
  /** Request ID (callRecord.ts) and arrival time on the clock, ms. */
  requestId: string;
  t0: number;
}


/** The handler's AbortSignal of `call`, made on first use (aborted at once if the call already stopped). */
export function signalOf(call: ServerCall): AbortSignal {
  if (!call.abort) {
    call.abort = new AbortController();
    if (call.stopped) call.abort.abort(call.stopped);
  }
  return call.abort.signal;
}

/** Stops `call` with `why` (once): its signal, if anyone took it, fires. */
export function stopCall(call: ServerCall, why: OctopiiError): void {
  if (call.stopped) return;
  call.stopped = why;
  call.abort?.abort(why);
}

/** `queue` with each message checked by `parse` (which throws BAD_INPUT). */
async function* validated(queue: InboundQueue<unknown>, parse: (x: unknown) => unknown): AsyncGenerator<unknown> {
  for await (const x of queue) yield parse(x);
}

/** What running a handler needs: the call, its method, and how to answer. */
export interface HandlerRun {
  req: RequestMessage;
  call: ServerCall;
  def: MethodDef;
  handler: (a: unknown, c: CallContext) => unknown;
  /** The calling node's ID (null when unverified). */
  peer: string | null;
  /** The caller's deadline on the node's clock, ms (absent: none). */
  deadline: number | undefined;
  interceptors: readonly ServerInterceptor[];
  /** Sends one message on the call's stream; false when it could not (TOO_LARGE answered, or closed). */
  send: (m: RpcMessage) => boolean;
  /** Ends the call with its outcome code. */
  finish: (call: ServerCall, code: string) => void;
}

/** Runs the handler of an admitted call and answers; rejects with what the handler (or a schema check) threw. */
export function runHandler({ req, call, def, handler, peer, deadline, interceptors, send, finish }: HandlerRun): Promise<void> {
  const oneWay = req.ow === true;
  const requestId = call.requestId;
  const shape = def.stream ?? 'unary';
  const streamingIn = shape === 'client' || shape === 'bidi';
  const headers: Metadata = {};
  const trailers: Metadata = {};
  let headersSent = false;
  const takeHeaders = (): Metadata | undefined => {
    if (headersSent) return undefined;
    headersSent = true;
    return Object.keys(headers).length ? headers : undefined;
  };
  const ctx: CallContext = {
    get signal() {
      return signalOf(call);
    },
    metadata: req.md ?? {},
    peer,
    method: req.m,
    requestId,
    deadline,
    setHeader: (k, v) => void (headers[k] = v),
    setTrailer: (k, v) => void (trailers[k] = v),
  };
  const parseIn = (x: unknown): unknown => {
    const r = (def.input as z.ZodType).safeParse(x);
    if (!r.success) throw new RpcError('BAD_INPUT', `${req.m}: input failed its schema: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`, { method: req.m });
    return r.data;
  };
  const parseOut = (x: unknown): unknown => {
    const r = (def.output as z.ZodType).safeParse(x);
    if (!r.success) throw new RpcError('BAD_OUTPUT', `${req.m}: output failed its schema: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`, { method: req.m });
    // Outputs are sent as the schema's input type (what the client parses again).
    return x;
  };
const run = async (): Promise<void> => {
    const input = streamingIn ? validated(call.inputs!, parseIn) : parseIn(req.p);
    // No interceptors and a handler that answers synchronously: the reply goes out in this
    // same turn (no promise hop per call).
    const r =
      interceptors.length === 0
        ? handler(input, ctx)
        : runServerChain(
            interceptors,
            {
              method: req.m,
              stream: shape,
              peer,
              requestId,
              metadata: ctx.metadata,
              get signal() {
                return signalOf(call);
              },
              input: streamingIn ? undefined : input,
            },
            async () => handler(input, ctx),
          );
    const result = typeof (r as PromiseLike<unknown> | null)?.then === 'function' ? await r : r;
    if (call.done) return;
    if (oneWay) return finish(call, 'OK');
    if (shape === 'unary' || shape === 'client') {
      const p = parseOut(result);
      const md = takeHeaders();
      const hasTrailers = Object.keys(trailers).length > 0;
      if (!send({ t: 'data', id: call.id, p, ...(md ? { md } : {}), ...(hasTrailers ? {} : { fin: true as const }) })) return finish(call, 'TOO_LARGE');
      if (hasTrailers) send({ t: 'end', id: call.id, md: trailers });
      return finish(call, 'OK');
    }
    const it = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    const onAbort = () => void it.return?.().catch(() => undefined);
    signalOf(call).addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const r = await it.next();
        if (r.done || call.done) break;
        const p = parseOut(r.value);
        await call.credit.take();
        if (call.done) break;
        const md = takeHeaders();
        if (!send({ t: 'data', id: call.id, p, ...(md ? { md } : {}) })) return finish(call, 'TOO_LARGE');
      }
    } finally {
      call.abort!.signal.removeEventListener('abort', onAbort);
    }
    if (call.done) return;
    const md = { ...(takeHeaders() ?? {}), ...trailers };
    send({ t: 'end', id: call.id, ...(Object.keys(md).length ? { md } : {}) });
    finish(call, 'OK');
  };
  return run();
}
