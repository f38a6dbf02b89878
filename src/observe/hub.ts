/**
 * The live event stream of one node (Server-Sent Events, `GET /events`): every inspection event
 * of a machine actor, summarised once (events.ts) and written to each client.
 *
 * A client never slows the node: writes go to the socket's own buffer, and a client whose
 * unsent bytes pass `maxBufferedBytes` is dropped — it gets an `event: dropped` notice after
 * what it already has, the response is ended, and the socket is destroyed if it still has not
 * drained `dropGraceMs` later. A new client first gets `event: init`: the node, the live actors
 * with their last state, and the most recent events.
 *
 * SSE framing: WHATWG HTML "Server-sent events" (`id:`, `event:`, `data:` lines, blank line).
 */
import type { ServerResponse } from 'node:http';
import type { AnyStateMachine, InspectionEvent } from 'xstate';
import type { ActorNode } from '../node/inspect.js';
import { toObserveEvent, type ObserveEvent, type ObservedActor } from './events.js';

/** What the hub reads from a node (an OctopiiNode fits). */
export interface HubSource {
  readonly nodeId: string;
  onInspect(listener: (e: InspectionEvent) => void): () => void;
  inspect(): { tree: ActorNode };
}

export interface HubOptions {
  /** Unsent bytes a client may accumulate before it is dropped (default 1 MiB). */
  maxBufferedBytes?: number;
  /** A dropped client's socket is destroyed if not drained by then, ms (default 2,000). */
  dropGraceMs?: number;
  /** Recent events kept for the `init` of a new client (default 500). */
  history?: number;
  /** Finished actors kept in `init` after their final state (default 50). */
  keepFinished?: number;
  /** SSE comment sent to idle clients every this many ms (default 15,000). */
  heartbeatMs?: number;
  /** Called for every machine seen starting (the catalogue learns its chart). */
  onMachine?: (machine: AnyStateMachine) => void;
}

/** The last known state of one actor. */
export interface ActorState {
  actor: ObservedActor;
  state: string;
  status: 'active' | 'done' | 'error' | 'stopped';
  context: Record<string, unknown>;
  /** Wall-clock ms of the last snapshot. */
  t: number;
}

/** Sent first to every client. */
export interface InitMessage {
  node: string;
  actors: ActorState[];
  recent: ObserveEvent[];
}

export interface Client {
  readonly id: number;
  /** Unsent bytes queued on the socket. */
  readonly bufferedBytes: number;
}

export class EventHub {
  readonly #source: HubSource;
  readonly #clients = new Map<ServerResponse, Client & { id: number }>();
  readonly #actors = new Map<string, ActorState>();
  readonly #finished: string[] = [];
  readonly #recent: ObserveEvent[] = [];
  readonly #taps = new Set<(e: ObserveEvent) => void>();
  readonly #dropListeners = new Set<(c: { id: number; bufferedBytes: number }) => void>();
  readonly #max: number;
  readonly #grace: number;
  readonly #history: number;
  readonly #keepFinished: number;
  readonly #onMachine: HubOptions['onMachine'];
  readonly #off: () => void;
  readonly #heartbeat: NodeJS.Timeout;
  #seq = 0;
  #nextClient = 1;
  /** Clients dropped for being slow, since the hub started. */
  dropped = 0;

  constructor(source: HubSource, options: HubOptions = {}) {
    this.#source = source;
    this.#max = options.maxBufferedBytes ?? 1 << 20;
    this.#grace = options.dropGraceMs ?? 2_000;
    this.#history = options.history ?? 500;
    this.#keepFinished = options.keepFinished ?? 50;
    this.#onMachine = options.onMachine;
    this.#seed(source.inspect().tree, null);
    this.#off = source.onInspect((e) => this.#onInspect(e));
    this.#heartbeat = setInterval(() => this.#broadcast(': heartbeat\n\n'), options.heartbeatMs ?? 15_000);
    this.#heartbeat.unref();
  }

  /** Connected clients. */
  get clients(): number {
    return this.#clients.size;
  }

  /** Calls `listener` with every record (the flight recorder taps here). Returns an unsubscribe. */
  tap(listener: (e: ObserveEvent) => void): () => void {
    this.#taps.add(listener);
    return () => this.#taps.delete(listener);
  }

  /** Calls `listener` when a slow client is dropped. */
  onDrop(listener: (c: { id: number; bufferedBytes: number }) => void): () => void {
    this.#dropListeners.add(listener);
    return () => this.#dropListeners.delete(listener);
  }

  /** The `init` message a new client gets. */
  init(): InitMessage {
    return { node: this.#source.nodeId, actors: [...this.#actors.values()], recent: [...this.#recent] };
  }

  /** Makes `res` an SSE stream of this hub (headers, `init`, then every record). */
  attach(res: ServerResponse): Client {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const client = {
      id: this.#nextClient++,
      get bufferedBytes() {
        return res.writableLength;
      },
    };
    this.#clients.set(res, client);
    const forget = () => this.#clients.delete(res);
    res.on('close', forget);
    res.on('error', forget);
    res.write(`retry: 2000\nevent: init\ndata: ${JSON.stringify(this.init())}\n\n`);
    return client;
  }

  /** Ends every client and stops listening to the node. */
  close(): void {
    this.#off();
    clearInterval(this.#heartbeat);
    for (const res of this.#clients.keys()) res.end();
    this.#clients.clear();
  }

  #seed(n: ActorNode, parent: string | null): void {
    const actor: ObservedActor = { sid: '', id: n.id, parent, machine: n.machine };
    if (n.machine !== 'actor') this.#actors.set(n.id, { actor, state: n.state, status: n.status, context: n.summary, t: Date.now() });
    for (const c of n.children) this.#seed(c, n.id);
  }

  #onInspect(e: InspectionEvent): void {
    if (e.type === '@xstate.actor' && this.#onMachine) {
      const logic = (e.actorRef as unknown as { logic?: AnyStateMachine }).logic;
      if (logic && (logic as { root?: unknown }).root !== undefined) this.#onMachine(logic);
    }
    const rec = toObserveEvent(e, this.#source.nodeId, ++this.#seq);
    if (!rec) return;
    if (rec.kind === 'snapshot') this.#remember(rec);
    this.#recent.push(rec);
    if (this.#recent.length > this.#history) this.#recent.splice(0, this.#recent.length - this.#history);
    for (const t of this.#taps) t(rec);
    if (this.#clients.size > 0) this.#broadcast(`id: ${rec.seq}\ndata: ${JSON.stringify(rec)}\n\n`);
  }

  #remember(rec: Extract<ObserveEvent, { kind: 'snapshot' }>): void {
    const key = rec.actor.id;
    this.#actors.set(key, { actor: rec.actor, state: rec.state, status: rec.status, context: rec.context, t: rec.t });
    if (rec.status !== 'active') {
      this.#finished.push(key);
      while (this.#finished.length > this.#keepFinished) {
        const old = this.#finished.shift()!;
        if (this.#actors.get(old)?.status !== 'active') this.#actors.delete(old);
      }
    }
  }

  #broadcast(chunk: string): void {
    for (const [res, client] of this.#clients) {
      if (res.writableLength > this.#max) {
        this.#drop(res, client);
        continue;
      }
      res.write(chunk);
    }
  }

  #drop(res: ServerResponse, client: Client): void {
    this.#clients.delete(res);
    this.dropped++;
    const bufferedBytes = res.writableLength;
    res.end(`event: dropped\ndata: ${JSON.stringify({ reason: 'slow client', bufferedBytes, limit: this.#max })}\n\n`);
    const t = setTimeout(() => res.destroy(), this.#grace);
    t.unref();
    res.once('close', () => clearTimeout(t));
    for (const l of this.#dropListeners) l({ id: client.id, bufferedBytes });
  }
}
