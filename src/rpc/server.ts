/**
 * The callee's side of RPC: a registry of services and the handler of inbound `rpc` streams
 * (docs/PROTOCOL.md "RPC"). For each `req` it finds the method (else `err UNKNOWN_METHOD` at
 * once), admits the call through the calling peer's admission machine (machines/admission.ts,
 * no queue: over the limit → RESOURCE_EXHAUSTED), validates the input (BAD_INPUT), runs the
 * server interceptors and the handler with an AbortSignal that fires at the caller's deadline
 * (DEADLINE_EXCEEDED, on the node's clock), on `cancel` (CANCELLED) or when the stream or peer
 * is lost (UNAVAILABLE), validates the output (BAD_OUTPUT) and answers. A handler that throws
 * answers its error (an OctopiiError keeps its code; anything else is INTERNAL).
 */
import { createActor, type Actor } from 'xstate';
import { admissionMachine } from '../../machines/admission.js';
import { OctopiiError, toWire } from '../errors.js';
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import type { DuplexStream, PeerConnection } from '../transport/types.js';
import { METHOD_PATTERN, type RequestMessage, type RpcMessage } from '../wire/rpc.js';
import { RpcChannel } from './channel.js';
import { MAX_REQUEST_ID_CHARS, REQUEST_ID_KEY, type RpcCallListener } from './callRecord.js';
import { RpcError } from './errors.js';
import { CreditGate, InboundQueue, overrunError } from './flow.js';
import type { ServerInterceptor } from './interceptors.js';
import { runHandler, stopCall, type ServerCall } from './serverCall.js';
import type { CallContext, Handlers, MethodDef, ServiceDef } from './service.js';

export interface RpcServerOptions {
  clock: Clock;
  logger: Logger;
  /** Largest message, bytes. */
  maxMessageBytes: number;
  /** Calls in flight per calling peer (default 1,024); more are refused with RESOURCE_EXHAUSTED. */
  maxInFlightPerPeer?: number;
}

interface Registered {
  service: ServiceDef;
  handlers: Record<string, (...args: never[]) => unknown>;
}

/** Per-peer admission actors and the live channels, for `abortPeer`. */
export class RpcServer {
  readonly #services = new Map<string, Registered>();
  readonly #interceptors: ServerInterceptor[] = [];
  readonly #admission = new Map<string, Actor<typeof admissionMachine>>();
  readonly #channels = new Map<string, Set<RpcChannel>>();
  readonly #o: Required<RpcServerOptions>;
  /** Calls answered, by outcome code (`OK`, `UNKNOWN_METHOD` …). */
  readonly stats = new Map<string, number>();
  readonly #callListeners = new Set<RpcCallListener>();

  constructor(options: RpcServerOptions) {
    this.#o = { maxInFlightPerPeer: 1024, ...options };
  }

  /** Serves `service`. Throws INVALID_ARGUMENT if a service of that name is served or a handler is missing. */
  register<S extends ServiceDef>(service: S, handlers: Handlers<S>): () => void {
    if (this.#services.has(service.name)) throw new OctopiiError('INVALID_ARGUMENT', `service "${service.name}" is already served`);
    for (const m of Object.keys(service.methods)) {
      if (typeof (handlers as Record<string, unknown>)[m] !== 'function') throw new OctopiiError('INVALID_ARGUMENT', `no handler for ${service.name}.${m}`);
    }
    const entry = { service, handlers: handlers as unknown as Registered['handlers'] };
    this.#services.set(service.name, entry);
    return () => {
      if (this.#services.get(service.name) === entry) this.#services.delete(service.name);
    };
  }

  use(interceptor: ServerInterceptor): void {
    this.#interceptors.push(interceptor);
  }

  /** Calls `listener` once per request answered or refused (one-way calls included). Returns an unsubscribe. */
  onCall(listener: RpcCallListener): () => void {
    this.#callListeners.add(listener);
    return () => this.#callListeners.delete(listener);
  }

  /** Feeds the listeners and logs one debug line `{ event: 'rpc.served', call, method, peer, code, ms }`. */
  #record(method: string, code: string, requestId: string, peer: string | null, t0: number): void {
    const r = { side: 'server' as const, method, code, ms: this.#o.clock.now() - t0, requestId, peer };
    for (const l of this.#callListeners) l(r);
    this.#o.logger.debug({ event: 'rpc.served', call: requestId, method, peer, code, ms: r.ms });
  }

  services(): ServiceDef[] {
    return [...this.#services.values()].map((r) => r.service);
  }

  /** Calls in flight from `peerKey` (node ID or address). */
  inFlight(peerKey: string): number {
    return this.#admission.get(peerKey)?.getSnapshot().context.inFlight ?? 0;
  }

  /** The router's handler for `rpc` streams. */
  accept(stream: DuplexStream, connection: PeerConnection): void {
    const peer = connection.remoteNodeId;
    const key = peer ?? connection.remoteAddress;
    const calls = new Map<number, ServerCall>();
    const admission = this.#admissionFor(key);
    let channel!: RpcChannel;
    const send = (m: RpcMessage): boolean => {
      try {
        channel.send(m);
        return true;
      } catch (e) {
        if ((e as OctopiiError).code === 'TOO_LARGE' && m.t === 'data') {
          this.#send(channel, { t: 'err', id: m.id, e: toWire(e as OctopiiError) });
        }
        return false;
      }
    };
    const finish = (call: ServerCall, code: string) => {
      if (call.done) return;
      call.done = true;
      calls.delete(call.id);
      this.#o.clock.clearTimeout(call.timer);
      admission.send({ type: 'RELEASE' });
      this.stats.set(code, (this.stats.get(code) ?? 0) + 1);
      this.#record(call.method, code, call.requestId, peer, call.t0);
    };
    const fail = (call: ServerCall, error: OctopiiError) => {
      if (call.done) return;
      stopCall(call, error);
      call.inputs?.fail(error);
      call.credit.fail(error);
      if (!channel.closed) send({ t: 'err', id: call.id, e: toWire(error) });
      finish(call, error.code);
    };
    channel = new RpcChannel(stream, this.#o.maxMessageBytes, {
      onMessage: (m) => {
        if (m.t === 'req') return this.#request(m, { channel, calls, admission, peer, send, finish, fail });
        const call = calls.get(m.id);
        if (!call) return; // a late message of a finished call
        switch (m.t) {
          case 'data':
            if (!call.inputs) return fail(call, new OctopiiError('PROTOCOL_ERROR', `${call.method} takes one input`));
            if (!call.inputs.push(m.p)) return fail(call, overrunError());
            if (m.fin) call.inputs.end();
            return;
          case 'end':
            call.inputs?.end();
            return;
          case 'cancel':
            fail(call, new RpcError('CANCELLED', `${call.method}: cancelled by the caller`, { method: call.method }));
            return;
          case 'credit':
            call.credit.grant(m.n);
            return;
          default:
            return fail(call, new OctopiiError('PROTOCOL_ERROR', `unexpected "${m.t}" from the caller`));
        }
      },
      onBadFrame: (id, error) => {
        const call = calls.get(id);
        if (call) fail(call, error);
        else this.#send(channel, { t: 'err', id, e: toWire(error) });
      },
      onClose: (error) => {
        this.#channels.get(key)?.delete(channel);
        const why = new RpcError('UNAVAILABLE', `rpc stream from ${key} closed${error ? `: ${error.message}` : ''}`);
        for (const call of [...calls.values()]) {
          stopCall(call, why);
          call.inputs?.fail(why);
          call.credit.fail(why);
          finish(call, 'UNAVAILABLE');
        }
      },
    });
    let set = this.#channels.get(key);
    if (!set) this.#channels.set(key, (set = new Set()));
    set.add(channel);
  }

  /** Resets every rpc stream from `peerKey` (its calls' signals fire with UNAVAILABLE). */
  abortPeer(peerKey: string, error: OctopiiError): void {
    for (const ch of [...(this.#channels.get(peerKey) ?? [])]) ch.abort(error);
  }

  /** Resets every stream and stops the admission actors. */
  close(error: OctopiiError): void {
    for (const key of [...this.#channels.keys()]) this.abortPeer(key, error);
    for (const a of this.#admission.values()) a.stop();
    this.#admission.clear();
  }

  #send(channel: RpcChannel, m: RpcMessage): void {
    try {
      channel.send(m);
    } catch {
      /* closed */
    }
  }

  #admissionFor(key: string): Actor<typeof admissionMachine> {
    let a = this.#admission.get(key);
    if (!a) {
      a = createActor(admissionMachine, { input: { limit: this.#o.maxInFlightPerPeer, queueLimit: 0 }, clock: this.#o.clock });
      a.start();
      this.#admission.set(key, a);
    }
    return a;
  }

  #request(
    req: RequestMessage,
    s: {
      channel: RpcChannel;
      calls: Map<number, ServerCall>;
      admission: Actor<typeof admissionMachine>;
      peer: string | null;
      send: (m: RpcMessage) => boolean;
      finish: (call: ServerCall, code: string) => void;
      fail: (call: ServerCall, e: OctopiiError) => void;
    },
  ): void {
    const oneWay = req.ow === true;
    const t0 = this.#o.clock.now();
    const given = req.md?.[REQUEST_ID_KEY];
    const requestId = typeof given === 'string' && given.length > 0 ? given.slice(0, MAX_REQUEST_ID_CHARS) : `${s.peer ?? 'unverified'}#${req.id}`;
    const refuse = (e: OctopiiError, method = '(unknown)') => {
      this.stats.set(e.code, (this.stats.get(e.code) ?? 0) + 1);
      this.#record(method, e.code, requestId, s.peer, t0);
      if (!oneWay) this.#send(s.channel, { t: 'err', id: req.id, e: toWire(e) });
    };
    if (s.calls.has(req.id)) return refuse(new OctopiiError('PROTOCOL_ERROR', `call id ${req.id} is in use`));
    // Method labels stay bounded: a name this server does not serve is recorded as `(unknown)`.
    const dot = req.m.indexOf('.');
    const reg = METHOD_PATTERN.test(req.m) ? this.#services.get(req.m.slice(0, dot)) : undefined;
    const name = req.m.slice(dot + 1);
    const def: MethodDef | undefined = reg && Object.hasOwn(reg.service.methods, name) ? reg.service.methods[name] : undefined;
    if (!reg || !def) return refuse(new RpcError('UNKNOWN_METHOD', `no method ${JSON.stringify(req.m)} here`, { method: req.m }));
    // No queue on this side (queueLimit 0): a ticket is admitted or rejected at once.
    const before = s.admission.getSnapshot().context.admitted;
    s.admission.send({ type: 'ACQUIRE', ticket: req.id });
    if (s.admission.getSnapshot().context.admitted === before) {
      return refuse(new RpcError('RESOURCE_EXHAUSTED', `${req.m}: more than ${this.#o.maxInFlightPerPeer} calls in flight from this peer`, { method: req.m }), req.m);
    }
    const shape = def.stream ?? 'unary';
    const streamingIn = shape === 'client' || shape === 'bidi';
    const call: ServerCall = {
      id: req.id,
      method: req.m,
      abort: null,
      stopped: null,
      inputs: null,
      credit: new CreditGate(),
      timer: undefined,
      done: false,
      requestId,
      t0,
    };
    if (streamingIn) {
      call.inputs = new InboundQueue<unknown>((n) => !call.done && s.send({ t: 'credit', id: call.id, n }));
      if ('p' in req) call.inputs.push(req.p);
      if (req.fin) call.inputs.end();
    }
    s.calls.set(req.id, call);
    const deadline = req.dl !== undefined ? this.#o.clock.now() + req.dl : undefined;
    if (req.dl !== undefined) {
      call.timer = this.#o.clock.setTimeout(
        () => s.fail(call, new RpcError('DEADLINE_EXCEEDED', `${req.m}: the caller's deadline of ${req.dl} ms passed`, { method: req.m })),
        req.dl,
      );
    }
    const handler = reg.handlers[name] as (a: unknown, c: CallContext) => unknown;
    runHandler({ req, call, def, handler, peer: s.peer, deadline, interceptors: this.#interceptors, send: s.send, finish: s.finish }).catch((e: unknown) => {
      if (call.done) return;
      const err = e instanceof OctopiiError ? e : RpcError.of(e, req.m, 'INTERNAL');
      if (oneWay) {
        this.#o.logger.warn({ event: 'rpc.notify.failed', call: requestId, method: req.m, error: err.toJSON() });
        call.done = true;
        s.calls.delete(call.id);
        this.#o.clock.clearTimeout(call.timer);
        s.admission.send({ type: 'RELEASE' });
        this.#record(req.m, err.code, requestId, s.peer, t0);
        return;
      }
      s.fail(call, err);
    });
  }
}
