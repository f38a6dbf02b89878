/**
 * One attempt of an outgoing call: the bytes under the call machine (machines/rpcCall.ts).
 */
import type { z } from 'zod';
import { OctopiiError, fromWire, type ErrorInfo } from '../errors.js';
import type { RpcMessage } from '../wire/rpc.js';
import type { RpcChannel } from './channel.js';
import { RpcError } from './errors.js';
import { CreditGate, overrunError } from './flow.js';
import type { ClientCallInfo } from './interceptors.js';
import type { CallOptions, MethodDef } from './service.js';

/** A call's handlers on its channel. */
export interface Attempt {
  onMessage(m: RpcMessage): void;
  onFail(e: OctopiiError): void;
}
/** A caller's rpc stream to one peer and its calls in flight by ID. */
export interface Channel {
  ch: RpcChannel;
  calls: Map<number, Attempt>;
  nextId: number;
}
/** What an attempt tells its call machine. */
export interface AttemptReport {
  sent(): void;
  first(): void;
  data(p: unknown): boolean;
  done(): void;
  failed(e: OctopiiError): void;
}

/** Fails credit waits of a call that ended (one shared instance: no stack trace per call). */
const CALL_ENDED = new RpcError('CANCELLED', 'call ended');

/**
 * One attempt of a call (the I/O under machines/rpcCall.ts): takes the peer's channel, sends
 * `req` (with the input for unary and server-streaming calls), routes the replies to `report`,
 * and for client and bidi streams pumps the inputs as credit allows. `cancel()` sends `cancel`
 * and stops; `credit(n)` grants the callee n more messages.
 */
export function startAttempt(
  channel: () => Channel | Promise<Channel>,
  def: MethodDef,
  call: ClientCallInfo,
  input: unknown,
  remainingMs: number,
  options: CallOptions,
  report: AttemptReport,
): { cancel(): void; credit(n: number): void } {
  const streamingIn = call.stream === 'client' || call.stream === 'bidi';
  const credit = new CreditGate();
  let chan: Channel | null = null;
  let id = 0;
  let over = false;
  let first = true;
  const end = () => {
    over = true;
    credit.fail(CALL_ENDED);
    if (chan) chan.calls.delete(id);
  };
  const fail = (e: OctopiiError) => {
    if (over) return;
    end();
    report.failed(e);
  };
  const attemptApi = {
    cancel: () => {
      if (over) return;
      end();
      if (chan && !chan.ch.closed) {
        try {
          chan.ch.send({ t: 'cancel', id });
        } catch {
          /* closed */
        }
      }
    },
    credit: (n: number) => {
      if (over || !chan) return;
      try {
        chan.ch.send({ t: 'credit', id, n });
      } catch {
        /* closed: the channel's close fails the call */
      }
    },
  };
  const onMessage = (m: RpcMessage) => {
    if (over) return;
    switch (m.t) {
      case 'data': {
        if (first) {
          first = false;
          if (m.md) options.onHeaders?.(m.md);
          // A reply that is one message (unary) goes awaiting → done: it never streamed.
          if (!m.fin) report.first();
        }
        const r = (def.output as z.ZodType).safeParse(m.p);
        if (!r.success) {
          attemptApi.cancel();
          report.failed(new RpcError('BAD_OUTPUT', `${call.method}: reply failed its schema: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`, { method: call.method }));
          return;
        }
        if (!report.data(r.data)) return fail(overrunError());
        if (m.fin) {
          end();
          report.done();
        }
        return;
      }
      case 'end':
        if (m.md) options.onTrailers?.(m.md);
        end();
        report.done();
        return;
      case 'err':
        fail(rpcError({ ...fromWire(m.e).toJSON() }, call.method));
        return;
      case 'credit':
        credit.grant(m.n);
        return;
      default:
        fail(new OctopiiError('PROTOCOL_ERROR', `unexpected "${m.t}" from the callee`));
    }
  };
  const run = async (c: Channel | Promise<Channel>): Promise<void> => {
    try {
      chan = c instanceof Promise ? await c : c;
    } catch (e) {
      return fail(RpcError.of(e, call.method, 'UNAVAILABLE'));
    }
    if (over) return;
    id = chan.nextId++;
    if (chan.nextId > 0xffffffff) chan.nextId = 1;
    chan.calls.set(id, { onMessage, onFail: fail });
    const base = { t: 'req' as const, id, m: call.method, dl: Math.max(0, Math.floor(remainingMs)), ...(Object.keys(call.metadata).length ? { md: call.metadata } : {}) };
    try {
      chan.ch.send(streamingIn ? base : { ...base, p: input, fin: true });
    } catch (e) {
      return fail(RpcError.of(e, call.method, 'UNAVAILABLE'));
    }
    report.sent();
    if (!streamingIn) return;
    try {
      for await (const x of toAsync(input as AsyncIterable<unknown> | Iterable<unknown>)) {
        if (over) return;
        const p = parseWith(def.input, x, 'BAD_INPUT', call.method);
        await credit.take();
        if (over) return;
        chan.ch.send({ t: 'data', id, p });
      }
      if (!over) chan.ch.send({ t: 'end', id });
    } catch (e) {
      if (over) return;
      attemptApi.cancel();
      report.failed(RpcError.of(e, call.method, 'INTERNAL'));
    }
  };
  // An open channel: the request goes out in this turn (an async function runs synchronously
  // up to its first await).
  let c: Channel | Promise<Channel>;
  try {
    c = channel();
  } catch (e) {
    c = Promise.reject(e);
  }
  void run(c);
  return attemptApi;
}

export function parseWith(schema: z.ZodType, x: unknown, code: 'BAD_INPUT' | 'BAD_OUTPUT', method: string): unknown {
  const r = schema.safeParse(x);
  if (!r.success) throw new RpcError(code, `${method}: ${code === 'BAD_INPUT' ? 'input' : 'output'} failed its schema: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`, { method });
  return r.data;
}

export function rpcError(e: ErrorInfo, method: string): RpcError {
  return new RpcError(e.code, e.message, { origin: e.origin ?? 'local', method });
}

async function* toAsync<T>(it: AsyncIterable<T> | Iterable<T>): AsyncGenerator<T> {
  for await (const x of it as AsyncIterable<T>) yield x;
}

