/**
 * The caller's side of RPC (docs/PROTOCOL.md "RPC"). Per peer (./clientPeer.ts): one long-lived
 * `rpc` stream carrying every call multiplexed by call ID (opened on first use, opened anew after
 * the connection is lost), a circuit breaker (machines/breaker.ts) and an admission bulkhead
 * (machines/admission.ts). Per call: an rpcCall actor (machines/rpcCall.ts) — spawned under the
 * node supervisor as `peer:<id>/call#n` — that holds the phase, deadline and retries while this
 * file moves the bytes.
 *
 * Errors (all {@link RpcError}): BAD_INPUT (input fails its schema, nothing sent), BAD_OUTPUT
 * (a reply fails its schema), DEADLINE_EXCEEDED, CANCELLED (signal or consumer stopped),
 * UNAVAILABLE (peer lost, breaker open), RESOURCE_EXHAUSTED (admission queue full), TOO_LARGE,
 * the connect errors, and whatever the callee answered (origin `remote`).
 */
import { randomBytes } from 'node:crypto';
import { createActor, type AnyActorLogic, type AnyActorRef } from 'xstate';
import { canPass } from '../../machines/breaker.js';
import { rpcCallMachine, type RpcCallOutput } from '../../machines/rpcCall.js';
import { rpcCallsLogic } from '../../machines/rpcCalls.js';
import type { OctopiiError } from '../errors.js';
import type { Clock } from '../runtime/clock.js';
import type { DuplexStream } from '../transport/types.js';
import { admitCall, BREAKER_CODES, createPeerState, peerChannel, peerKeyOf, type PeerState, type RpcPeer } from './clientPeer.js';
import { parseWith, rpcError, startAttempt, type Channel } from './attempt.js';
import { RpcError } from './errors.js';
import { InboundQueue } from './flow.js';
import { runClientChain, type ClientCallInfo, type ClientInterceptor } from './interceptors.js';
import type { CallOptions, Client, MethodDef, ServiceDef } from './service.js';
import type { Logger } from '../runtime/logger.js';
import { REQUEST_ID_KEY, type RpcCallListener } from './callRecord.js';

export type { RpcPeer } from './clientPeer.js';

/** What the client needs from its node. */
export interface RpcClientHost {
  clock: Clock;
  maxMessageBytes: number;
  /** Opens an `rpc` stream to the peer (connecting first). */
  openStream(peer: RpcPeer, signal?: AbortSignal): Promise<DuplexStream>;
  /** Runs an actor under the node supervisor (temporary); used for each peer's `<peerKey>/rpc` parent of call actors (absent: standalone actors). */
  spawn?(id: string, logic: AnyActorLogic, input: unknown): AnyActorRef;
  /** Gets one debug line per finished call: `{ event: 'rpc.call', call, method, peer, code, ms }`. */
  logger?: Logger;
  /** First part of this client's request IDs (`<prefix>-<n>`; default 8 random hex digits). */
  requestIdPrefix?: string;
}

export interface RpcClientOptions {
  /** Default deadline of a call, ms (default 30,000). */
  deadlineMs?: number;
  /** Calls in flight per peer (default 1,024); past it calls queue. */
  maxInFlightPerPeer?: number;
  /** Calls waiting per peer when saturated (default 4,096); past it RESOURCE_EXHAUSTED. */
  maxQueuedPerPeer?: number;
  /** Breaker: consecutive failures that open it (default 5) and how long it stays open, ms (default 1,000). */
  breaker?: { failureThreshold?: number; openMs?: number };
  /** Attempts in all for idempotent methods (default 3). */
  maxAttempts?: number;
  /**
   * `supervised` (default): each call actor `peer:<id>/call#n` is a child of the peer's
   * `peer:<id>/rpc` actor, itself under the node supervisor (so `node.inspect()` shows calls
   * under their peer); `standalone`: plain actors on the node's clock (cheaper, invisible).
   */
  callActors?: 'supervised' | 'standalone';
}

/** What the call machine's provided actions reach through `context.io`. */
interface CallIO {
  current: { cancel(): void; credit(n: number): void } | null;
  start(attempt: number): void;
  settle(o: RpcCallOutput): void;
}

export class RpcClient {
  readonly #host: RpcClientHost;
  readonly #o: Required<Omit<RpcClientOptions, 'breaker'>> & { breaker: NonNullable<RpcClientOptions['breaker']> };
  readonly #peers = new Map<string, PeerState>();
  readonly #interceptors: ClientInterceptor[] = [];
  #seq = 0;
  #ticket = 0;
  /** Request IDs: `<prefix>-<n>` (callRecord.ts). */
  readonly #ridPrefix: string;
  #rid = 0;
  readonly #callListeners = new Set<RpcCallListener>();
  /** Settles every call in flight (used by close: call actors die with the node's supervisor). */
  readonly #settlers = new Set<(o: RpcCallOutput) => void>();
  #closed: OctopiiError | null = null;
  /** The call machine with its actions provided once (they reach the call through `context.io`). */
  readonly #callLogic = rpcCallMachine.provide({
    actions: {
      startAttempt: ({ context }, p) => {
        const io = context.io as CallIO;
        queueMicrotask(() => io.start(p.attempt));
      },
      abortAttempt: ({ context }) => (context.io as CallIO).current?.cancel(),
      settle: ({ context }, o) => (context.io as CallIO).settle(o),
    },
  });
  /** Replies for call IDs this side does not know (ignored), and calls by outcome. */
  readonly stats = { unknownReplies: 0, outcomes: new Map<string, number>() };

  constructor(host: RpcClientHost, options: RpcClientOptions = {}) {
    this.#host = host;
    this.#ridPrefix = host.requestIdPrefix ?? randomBytes(4).toString('hex');
    this.#o = {
      deadlineMs: 30_000,
      maxInFlightPerPeer: 1024,
      maxQueuedPerPeer: 4096,
      maxAttempts: 3,
      callActors: 'supervised',
      ...options,
      breaker: options.breaker ?? {},
    };
  }

  use(interceptor: ClientInterceptor): void {
    this.#interceptors.push(interceptor);
  }

  /**
   * Calls `listener` once per finished call (each attempt that reached the client's own
   * step, after the interceptors: a retrying interceptor's tries count one by one). Returns an
   * unsubscribe.
   */
  onCall(listener: RpcCallListener): () => void {
    this.#callListeners.add(listener);
    return () => this.#callListeners.delete(listener);
  }

  /** The typed client of `service` on `peer`. */
  client<S extends ServiceDef>(service: S, peer: RpcPeer): Client<S> {
    const out: Record<string, unknown> = {};
    for (const [name, def] of Object.entries(service.methods)) {
      const method = `${service.name}.${name}`;
      const shape = def.stream ?? 'unary';
      out[name] =
        shape === 'unary' || shape === 'client'
          ? (input: unknown, options?: CallOptions) => this.#invoke(peer, method, def, input, options ?? {})
          : (input: unknown, options?: CallOptions) => lazyIterable(() => this.#invoke(peer, method, def, input, options ?? {}) as Promise<AsyncIterable<unknown>>);
    }
    return out as Client<S>;
  }

  /** One-way call: resolves once the request is queued on the stream; no reply, no error from the callee. */
  async notify(peer: RpcPeer, service: ServiceDef, method: string, input: unknown, options: CallOptions = {}): Promise<void> {
    const def = service.methods[method];
    if (!def) throw new RpcError('UNKNOWN_METHOD', `${service.name} has no method ${method}`);
    const parsed = parseWith(def.input, input, 'BAD_INPUT', `${service.name}.${method}`);
    const ps = this.#peer(peer);
    const c = await this.#channel(ps, options.signal);
    const id = c.nextId++;
    c.ch.send({ t: 'req', id, m: `${service.name}.${method}`, p: parsed, fin: true, ow: true, ...(options.metadata ? { md: options.metadata } : {}) });
  }

  /** Fails every call to `peerKey` with `error` (UNAVAILABLE on peer.lost) and drops its stream. */
  peerLost(peerKey: string, error: OctopiiError): void {
    const ps = this.#peers.get(peerKey);
    if (!ps?.channel) return;
    const p = ps.channel;
    ps.channel = null;
    ps.ready = null;
    void p.then((c) => c.ch.abort(error)).catch(() => undefined);
  }

  /** Breaker and admission state of a peer (for inspection and tests). */
  peerState(peerKey: string): { breaker: string; admission: string; inFlight: number; queued: number } | null {
    const ps = this.#peers.get(peerKey);
    if (!ps) return null;
    const a = ps.admission.getSnapshot();
    return { breaker: String(ps.breaker.getSnapshot().value), admission: String(a.value), inFlight: a.context.inFlight, queued: a.context.queue.length };
  }

  /** Fails every call in flight with `error` (CLOSED when the node stops) and stops the peers' actors. */
  close(error: OctopiiError): void {
    this.#closed ??= error;
    for (const settle of [...this.#settlers]) settle({ outcome: 'failed', attempts: 1, error: error.toJSON() });
    this.#settlers.clear();
    for (const key of [...this.#peers.keys()]) this.peerLost(key, error);
    for (const ps of this.#peers.values()) {
      ps.breaker.stop();
      ps.admission.stop();
    }
    this.#peers.clear();
  }

  // ── internals ────────────────────────────────────────────────────────────────────────

  #peer(peer: RpcPeer): PeerState {
    const key = peerKeyOf(peer);
    let ps = this.#peers.get(key);
    if (!ps) {
      ps = createPeerState(key, peer, this.#host.clock, this.#o);
      this.#peers.set(key, ps);
    }
    return ps;
  }

  #channel(ps: PeerState, signal?: AbortSignal): Promise<Channel> {
    return peerChannel({ maxMessageBytes: this.#host.maxMessageBytes, openStream: (peer, sig) => this.#host.openStream(peer, sig), stats: this.stats }, ps, signal);
  }

  #invoke(peer: RpcPeer, method: string, def: MethodDef, input: unknown, options: CallOptions): Promise<unknown> {
    const ps = this.#peer(peer);
    const md = options.metadata ?? {};
    const call: ClientCallInfo = {
      method,
      stream: def.stream ?? 'unary',
      idempotent: def.idempotent === true,
      peer: ps.key,
      input,
      metadata: md[REQUEST_ID_KEY] !== undefined ? md : { ...md, [REQUEST_ID_KEY]: `${this.#ridPrefix}-${++this.#rid}` },
      deadlineMs: options.deadlineMs ?? this.#o.deadlineMs,
      signal: options.signal,
    };
    return runClientChain(this.#interceptors, call, (c) => this.#run(ps, def, c, options));
  }

  /** Admission, breaker, then the call actor. Returns the result (unary, client) or the output queue (server, bidi). */
  #run(ps: PeerState, def: MethodDef, call: ClientCallInfo, options: CallOptions): Promise<unknown> {
    const t0 = this.#host.clock.now();
    // The outcome is recorded once: when the call actor settles, or here when the call fails before it starts.
    const rec = { done: false, record: (code: string) => this.#record(ps, call, code, t0, rec) };
    const fail = (e: unknown): Promise<never> => {
      rec.record((e as OctopiiError).code ?? 'UNKNOWN');
      return Promise.reject(e);
    };
    const start = (input: unknown): Promise<unknown> => {
      try {
        return this.#start(ps, def, call, options, input, t0, rec);
      } catch (e) {
        return fail(e);
      }
    };
    try {
      const input = this.#pass(ps, def, call);
      const admitting = this.#admit(ps, call);
      // Admitted at once (the usual case): no promise hop before the call starts.
      return admitting ? admitting.then(() => start(input), fail) : start(input);
    } catch (e) {
      return fail(e);
    }
  }

  #record(ps: PeerState, call: ClientCallInfo, code: string, t0: number, rec: { done: boolean }): void {
    if (rec.done) return;
    rec.done = true;
    const log = this.#host.logger;
    if (this.#callListeners.size === 0 && !log) return;
    const r = { side: 'client' as const, method: call.method, code, ms: this.#host.clock.now() - t0, requestId: call.metadata[REQUEST_ID_KEY] ?? '', peer: ps.key };
    for (const l of this.#callListeners) l(r);
    log?.debug({ event: 'rpc.call', call: r.requestId, method: r.method, peer: r.peer, code, ms: r.ms });
  }

  /** Input schema, cancellation and breaker checks before admission; returns the parsed input. Throws RpcError. */
  #pass(ps: PeerState, def: MethodDef, call: ClientCallInfo): unknown {
    const streamingIn = call.stream === 'client' || call.stream === 'bidi';
    const input = streamingIn ? call.input : parseWith(def.input, call.input, 'BAD_INPUT', call.method);
    if (call.signal?.aborted) throw new RpcError('CANCELLED', `${call.method}: cancelled before it started`, { method: call.method });
    const breaker = ps.breaker.getSnapshot();
    if (!canPass(breaker)) throw new RpcError('UNAVAILABLE', `${call.method}: circuit to ${ps.key} is open`, { method: call.method });
    if (breaker.value === 'halfOpen') ps.breaker.send({ type: 'TRIAL' });
    return input;
  }

  /** Starts the call actor once admitted; the promise settles when its chart reaches a final state. */
  #start(ps: PeerState, def: MethodDef, call: ClientCallInfo, options: CallOptions, input: unknown, t0: number, rec: { record(code: string): void }): Promise<unknown> {
    const shape = call.stream;
    const streamingIn = shape === 'client' || shape === 'bidi';
    const streamingOut = shape === 'server' || shape === 'bidi';
    const deadlineMs = Math.max(0, call.deadlineMs - (this.#host.clock.now() - t0));
    if (this.#closed) throw RpcError.of(this.#closed, call.method);
    let resolveCall!: (v: unknown) => void;
    let rejectCall!: (e: unknown) => void;
    const promise = new Promise<unknown>((res, rej) => {
      resolveCall = res;
      rejectCall = rej;
    });
    let over = false;
    // Runs once, in the call actor's final-state action (or from close()).
    const settleOuter = (o: RpcCallOutput): void => {
      if (over) return;
      over = true;
      this.#settlers.delete(settleOuter);
      call.signal?.removeEventListener('abort', onAbort);
      ps.admission.send({ type: 'RELEASE' });
      const code = o.error?.code ?? 'OK';
      this.stats.outcomes.set(code, (this.stats.outcomes.get(code) ?? 0) + 1);
      rec.record(code);
      const b = ps.breaker.getSnapshot();
      if (o.error && BREAKER_CODES.has(o.error.code)) ps.breaker.send({ type: 'FAILURE' });
      else if (b.value !== 'closed' || b.context.failures > 0) ps.breaker.send({ type: 'SUCCESS' });
      if (outputs) {
        if (o.outcome === 'done') outputs.end();
        else outputs.fail(rpcError(o.error!, call.method));
      } else if (o.outcome === 'done') resolveCall(result);
      else rejectCall(rpcError(o.error!, call.method));
    };
    this.#settlers.add(settleOuter);
    let result: unknown;
    let actor!: AnyActorRef;
    const outputs = streamingOut
      ? new InboundQueue<unknown>(
          (n) => io.current?.credit(n),
          () => actor.send({ type: 'CANCEL', error: { code: 'CANCELLED', message: `${call.method}: the consumer stopped reading` } }),
        )
      : null;

    const io: CallIO = {
      current: null,
      start: () => {
        io.current = startAttempt(() => ps.ready ?? this.#channel(ps, call.signal), def, call, input, deadlineMs - (this.#host.clock.now() - t0), options, {
          sent: () => actor.send({ type: 'SENT' }),
          first: () => actor.send({ type: 'FIRST' }),
          data: (p) => {
            if (outputs) return outputs.push(p);
            result = p;
            return true;
          },
          done: () => actor.send({ type: 'DONE' }),
          // A call actor stopped with its node (close) has settled already: nothing to tell it.
          failed: (e) => {
            if (actor.getSnapshot().status === 'active') actor.send({ type: 'FAILED', error: e.toJSON() });
          },
        });
      },
      settle: (o) => settleOuter(o),
    };
    const input0 = { method: call.method, idempotent: call.idempotent && !streamingIn, deadlineMs, maxAttempts: this.#o.maxAttempts, io };
    const logic = this.#callLogic;
    const id = `${ps.key}/call#${++this.#seq}`;
    const parent = this.#callsParent(ps);
    if (parent) {
      parent.send({ type: 'CALL', id, logic, input: input0 });
      actor = (parent.getSnapshot() as { children: Record<string, AnyActorRef> }).children[id]!;
    } else {
      actor = createActor(logic, { input: input0, clock: this.#host.clock, id });
      actor.start();
    }
    const onAbort = () => actor.send({ type: 'CANCEL', error: { code: 'CANCELLED', message: `${call.method}: cancelled by the caller` } });
    if (!over) call.signal?.addEventListener('abort', onAbort, { once: true });
    return outputs ? Promise.resolve(outputs) : promise;
  }

  /** The peer's `<key>/rpc` parent of call actors under the supervisor (spawned anew if it stopped). */
  #callsParent(ps: PeerState): AnyActorRef | null {
    if (this.#o.callActors !== 'supervised' || !this.#host.spawn) return null;
    if (ps.calls && ps.calls.getSnapshot().status === 'active') return ps.calls;
    try {
      ps.calls = this.#host.spawn(`${ps.key}/rpc`, rpcCallsLogic, undefined);
    } catch {
      ps.calls = null;
    }
    return ps.calls;
  }

  #admit(ps: PeerState, call: ClientCallInfo): Promise<void> | void {
    return admitCall(ps, call, ++this.#ticket, this.#host.clock);
  }
}

/** An AsyncIterable whose source is made on the first `next()` (so a stub can return it synchronously). */
function lazyIterable<T>(make: () => Promise<AsyncIterable<T>>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      let it: AsyncIterator<T> | null = null;
      const get = async () => (it ??= (await make())[Symbol.asyncIterator]());
      return {
        next: async () => (await get()).next(),
        return: async () => {
          if (it?.return) return it.return();
          return { value: undefined, done: true };
        },
      };
    },
  };
}

