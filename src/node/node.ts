/**
 * `OctopiiNode`: the facade over one node (DESIGN.md §1). A supervisor actor
 * (machines/node.ts) runs one peer actor per remote node (machines/peer.ts: dial, adopt,
 * simultaneous open, keep-alive, reconnect) and one lane actor per transfer
 * (machines/laneSend.ts, machines/laneReceive.ts); a stream router (src/router/) gives each
 * inbound stream to the handler of its kind; everything with a side effect or a clock comes from
 * the runtime the node was started with (src/runtime/). This file holds the public methods; the
 * inbound path is ./accept.ts, stopping ./stop.ts, the peer actors ./peers.ts, what a node is
 * started with ./start.ts, transfers ./lanes.ts.
 *
 *   const node = await OctopiiNode.start({ listen: '127.0.0.1:0', receiveDir: './inbox' });
 *   const result = await node.send({ address, nodeId }, { kind: 'file', path });
 *   node.onReceived((r) => …);  node.peers();  node.inspect();  await node.stop();
 *
 * Simulation: `OctopiiNode.start({ identity, runtime: { clock, transport: network.transport({ identity }), hasher } })`
 * runs a whole node on the in-memory network under a simulated clock.
 */
import { createActor, type Actor, type AnyActorLogic, type AnyActorRef, type InspectionEvent } from 'xstate';
import { childInfos, supervisorMachine, supervisedChild, type EscalationInfo, type RestartPolicy } from '../../machines/node.js';
import type { PeerLink } from '../../machines/peer.js';
import type { NodeConfig } from '../config.js';
import { OctopiiError } from '../errors.js';
import type { Identity } from '../identity.js';
import { StreamRouter, type RefusedStream } from '../router/router.js';
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import type { Runtime } from '../runtime/types.js';
import type { DuplexStream, PeerConnection, Transport } from '../transport/types.js';
import { CONTROL_PROTOCOL_VERSION, type HelloMessage } from '../wire/control.js';
import { actorTree, groupByPeer, isPeerId, peerInfos } from './inspect.js';
import { createPeerLogic, type PeerLogic } from './peerLogic.js';
import { TransferRegistry } from './transfers.js';
import { IncomingLimits } from './limits.js';
import { waitConnected } from './support.js';
import { prepareNode } from './start.js';
import { sendToPeers, type LaneHost } from './lanes.js';
import { acceptConnection, acceptControl, receiveStream, wireStreams, type AcceptHost } from './accept.js';
import { stopNode, type StopHost } from './stop.js';
import { closePeer, ensurePeer, peerIdFor, type PeerHost } from './peers.js';
import type { LaneSource, TransferResult } from '../lane/index.js';
import { NodeRpc } from '../rpc/nodeRpc.js';
import type { RpcPeer } from '../rpc/client.js';
import type { CallOptions, Client, Handlers, ServiceDef } from '../rpc/service.js';

export type { NodeInspection, NodeStartOptions, PeerEventInfo, PeerInfo, PeerOptions, PeerRef, ReceivedEvent, SendOptions } from './types.js';
import type { NodeInspection, NodeStartOptions, PeerEventInfo, PeerInfo, PeerOptions, PeerRef, ReceivedEvent, SendOptions } from './types.js';

const AGENT = 'octopii-ts/0.1.0';

export class OctopiiNode {
  readonly #receivedHandlers = new Set<(e: ReceivedEvent) => void>();
  readonly #inspectListeners = new Set<(e: InspectionEvent) => void>();
  #inspecting: { unsubscribe(): void } | null = null;
  readonly #escalationHandlers = new Set<(e: EscalationInfo) => void>();
  readonly #peerListeners = new Set<(e: PeerEventInfo) => void>();
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #transfers = new TransferRegistry();
  readonly #peerLogic: PeerLogic;
  readonly #helloDone = new WeakSet<PeerConnection>();
  readonly #router: StreamRouter;
  readonly #supervisor: Actor<typeof supervisorMachine>;
  readonly #releaseHasher: (() => Promise<void>) | undefined;
  readonly #limits: IncomingLimits;
  /** The internals the inbound path (./accept.ts), the stop path (./stop.ts) and the peer actors (./peers.ts) work on. */
  readonly #host: AcceptHost & StopHost & PeerHost;
  #seq = 0;
  /** Wall-clock ms (Date.now()) when the node started: `/health` reports the uptime from it. */
  readonly startedAt = Date.now();
  #stopping: Promise<void> | undefined;
  /** Fired when the node starts stopping: connects still waiting for their peer fail with CLOSED. */
  readonly #stopSignal = new AbortController();
  #closedResolve!: (error: EscalationInfo | null) => void;
  /** Resolves when the node has stopped: with the escalation that stopped it, or null after `stop()`. */
  readonly closed: Promise<EscalationInfo | null> = new Promise((r) => (this.#closedResolve = r));

  private constructor(
    readonly config: NodeConfig,
    readonly identity: Identity,
    readonly transport: Transport,
    readonly clock: Clock,
    readonly logger: Logger,
    readonly hasher: Runtime['hasher'] | undefined,
    releaseHasher: (() => Promise<void>) | undefined,
    peerOptions: PeerOptions,
  ) {
    this.#releaseHasher = releaseHasher;
    this.#router = new StreamRouter({ clock, onRefused: (r) => this.#logRefused(r) });
    this.#peerLogic = createPeerLogic({
      transport,
      router: this.#router,
      clock,
      hello: () => this.#hello(),
      onDialled: (conn) => wireStreams(this.#host, conn),
    });
    this.#router.register('control', (stream, { connection }) => void acceptControl(this.#host, connection, stream));
    this.#router.register('lane', (stream, { connection }) => receiveStream(this.#host, connection, stream, true));
    this.#supervisor = createActor(supervisorMachine, {
      input: { intensity: config.supervisor.intensity, periodMs: config.supervisor.periodMs },
      clock,
      systemId: 'node',
    });
    this.#supervisor.subscribe({
      next: (snap) => {
        if (snap.status === 'done' && snap.output?.status === 'failed') this.#escalated(snap.output.error);
      },
      error: () => undefined,
    });
    this.#supervisor.start();
    this.#limits = new IncomingLimits(
      {
        spawn: (id, logic, input) => this.spawn(id, logic, { input, restart: 'transient' }),
        child: (id) => supervisedChild(this.#supervisor.getSnapshot(), id),
      },
      config.limits.incomingPerNode,
      config.limits.incomingPerPeer,
    );
    this.#host = {
      transport,
      config,
      clock,
      logger,
      router: this.#router,
      limits: this.#limits,
      helloDone: this.#helloDone,
      stopping: () => this.#stopping !== undefined,
      hello: () => this.#hello(),
      ensurePeer: (id, nodeId, address, protocol) => ensurePeer(this.#host, id, nodeId, address, protocol),
      laneHost: () => this.#laneHost(),
      track: (p) => this.#track(p),
      supervisor: this.#supervisor,
      transfers: this.#transfers,
      stopSignal: this.#stopSignal,
      inflight: this.#inflight,
      releaseHasher,
      peerOptions,
      nodeId: identity.nodeId,
      peerLogic: this.#peerLogic,
      spawn: (id, logic, options) => this.spawn(id, logic, options),
      tell: (e) => {
        for (const l of this.#peerListeners) l(e);
      },
    };
  }

  /**
   * Loads (or creates) the identity, binds the transport (./start.ts) and starts the supervisor.
   * Options over `OCTOPII_*` env vars over `configFile` (src/config.ts).
   * Throws INVALID_ARGUMENT (config), INVALID_IDENTITY, or the transport's listen errors.
   */
  static async start(options: NodeStartOptions = {}): Promise<OctopiiNode> {
    const { config, identity, clock, logger, hasher, releaseHasher, transport, peer, rpc, cleaned } = await prepareNode(options);
    const node = new OctopiiNode(config, identity, transport, clock, logger, hasher, releaseHasher, peer);
    node.#rpc = new NodeRpc(node, rpc);
    transport.onConnection((conn) => acceptConnection(node.#host, conn));
    if (cleaned.files > 0) logger.info({ event: 'cleaned', dir: config.receiveDir, ...cleaned });
    logger.info({ event: 'listening', address: transport.address, transport: transport.kind });
    return node;
  }

  get nodeId(): string {
    return this.identity.nodeId;
  }
  /** Bound `host:port`. */
  get address(): string {
    return this.transport.address!;
  }
  get transportKind(): Transport['kind'] {
    return this.transport.kind;
  }
  /** The stream router: register handlers for more kinds (`rpc`, `raft`, …). */
  get router(): StreamRouter {
    return this.#router;
  }

  /** Calls `handler` for every incoming transfer (verified or failed). Returns an unsubscribe. */
  onReceived(handler: (e: ReceivedEvent) => void): () => void {
    this.#receivedHandlers.add(handler);
    return () => this.#receivedHandlers.delete(handler);
  }

  /** Streams XState inspection events (`@xstate.actor`, `@xstate.snapshot`, `@xstate.event`) of every actor of the node. */
  onInspect(listener: (e: InspectionEvent) => void): () => void {
    this.#inspectListeners.add(listener);
    // The system observer exists only while someone listens: with one registered, XState builds
    // an inspection event for every event, snapshot and action of every actor (measured: about
    // a tenth of an RPC call's CPU).
    this.#inspecting ??= this.#supervisor.system.inspect((e) => {
      for (const l of this.#inspectListeners) l(e);
    });
    return () => {
      this.#inspectListeners.delete(listener);
      if (this.#inspectListeners.size === 0 && this.#inspecting) {
        this.#inspecting.unsubscribe();
        this.#inspecting = null;
      }
    };
  }

  /** Calls `listener` when a peer comes up, is lost or cannot be reached. Returns an unsubscribe. */
  onPeer(listener: (e: PeerEventInfo) => void): () => void {
    this.#peerListeners.add(listener);
    return () => this.#peerListeners.delete(listener);
  }

  /**
   * Called when the supervisor escalates (a child exceeded its restart intensity): the node
   * then stops itself, and {@link closed} resolves with the same error.
   */
  onEscalation(handler: (e: EscalationInfo) => void): () => void {
    this.#escalationHandlers.add(handler);
    return () => this.#escalationHandlers.delete(handler);
  }

  /**
   * Runs `logic` as a child of this node's supervisor (OTP child spec: `permanent` children are
   * always restarted, `transient` after a crash, `temporary` never; restarts back off
   * exponentially and more than `supervisor.intensity` in `supervisor.periodMs` escalates).
   * Throws CLOSED after stop, INVALID_ARGUMENT if a running child has that id.
   */
  spawn(id: string, logic: AnyActorLogic, options: { input?: unknown; restart?: RestartPolicy } = {}): AnyActorRef {
    this.#assertRunning();
    this.#supervisor.send({ type: 'SPAWN', id, logic, input: options.input, restart: options.restart ?? 'permanent' });
    const ref = supervisedChild(this.#supervisor.getSnapshot(), id);
    if (!ref) throw new OctopiiError('INVALID_ARGUMENT', `child ${id} did not start (is one with that id running?)`);
    return ref;
  }

  /** Stops the supervised child `id` (OTP's `terminate_child`); does nothing for an unknown or stopped child, or a stopped node. */
  stopChild(id: string): void {
    if (this.#supervisor.getSnapshot().status !== 'active') return;
    this.#supervisor.send({ type: 'STOP_CHILD', id });
  }

  /** The peers this node knows, with their state. */
  peers(): PeerInfo[] {
    const snap = this.#supervisor.getSnapshot();
    const ids = Object.entries(snap.context.children).filter(([id, info]) => isPeerId(id) && info.status === 'running').map(([id]) => id);
    return peerInfos(ids, (id) => supervisedChild(snap, id), (id) => this.#transfers.count(id));
  }

  /** The tree of every live actor (supervisor → peers → transfers) with state and a context summary. */
  inspect(): NodeInspection {
    const snap = this.#supervisor.getSnapshot();
    return {
      nodeId: this.nodeId,
      address: this.address,
      transport: this.transportKind,
      supervisor: String(snap.value),
      children: structuredClone(childInfos(snap.context)),
      tree: groupByPeer(actorTree('node', this.#supervisor)),
    };
  }

  /**
   * The link to `peer` through its peer actor (spawned on first use; one per node ID). Throws
   * the dial's OctopiiError (CONNECT_TIMEOUT, CONNECTION_REFUSED, PEER_VERIFICATION_FAILED,
   * TRANSPORT_MISMATCH, HANDSHAKE_FAILED …) once the peer gave up, UNAVAILABLE for a peer that
   * cannot be dialled, ABORTED on `signal`.
   */
  async connect(peer: PeerRef, options: { signal?: AbortSignal } = {}): Promise<{ id: string; link: PeerLink }> {
    this.#assertRunning();
    const id = peerIdFor(peer, this.config.insecure);
    const ref = ensurePeer(this.#host, id, peer.nodeId ?? null, peer.address, id.startsWith('v1:') ? 'lane-v1' : 'octopii');
    const signal = options.signal ? AbortSignal.any([options.signal, this.#stopSignal.signal]) : this.#stopSignal.signal;
    return { id, link: await waitConnected(ref, peer.address, this.clock, signal) };
  }

  /**
   * Opens a stream of `kind` to `peer` (connecting first) with its kind preamble written; on a
   * seed v1 peer (`lane-v1`) a raw stream (only `lane` exists there). Throws the connect errors,
   * UNKNOWN_KIND when the peer's hello does not list `kind`.
   */
  async openStream(peer: PeerRef, kind: string, options: { signal?: AbortSignal } = {}): Promise<DuplexStream> {
    const { link } = await this.connect(peer, options);
    const conn = link.connection as PeerConnection;
    if (link.control === null) {
      if (kind !== 'lane') throw new OctopiiError('UNKNOWN_KIND', `a Shipping Lane v1 peer carries lane streams only, not "${kind}"`);
      return conn.openStream(options);
    }
    if (!link.kinds.includes(kind)) throw new OctopiiError('UNKNOWN_KIND', `the peer serves no "${kind}" streams (serves: ${link.kinds.join(', ') || 'none'})`);
    return this.#router.open(conn, kind, options);
  }

  /**
   * Closes the link to `peer` and stops its peer actor (a later send dials anew). Resolves when
   * the link is closed; does nothing for an unknown peer.
   */
  async disconnect(peer: PeerRef): Promise<void> {
    await closePeer(this.#host, peerIdFor(peer, this.config.insecure));
  }

  /**
   * Ships `source` to `peer` over one Shipping Lane stream (seed 001) and resolves with the
   * {@link TransferResult}; never rejects — connection failures become failed results.
   */
  async send(peer: PeerRef, source: LaneSource, options: SendOptions = {}): Promise<TransferResult> {
    const [result] = await this.transferToPeers(source, [peer], {
      ...options,
      onProgress: options.onProgress ? (_i, b) => options.onProgress!(b) : undefined,
    });
    return result!;
  }

  /**
   * Ships `source` to every peer in parallel (one stream each) and resolves with one
   * TransferResult per peer, in order (seed 003 "Chunk Transfer to Multiple Peers"). Never
   * rejects. A peer found dead while a transfer runs fails it at once with UNAVAILABLE.
   */
  async transferToPeers(
    source: LaneSource,
    peers: readonly PeerRef[],
    options: Omit<SendOptions, 'onProgress'> & { onProgress?: (index: number, bytes: number) => void } = {},
  ): Promise<TransferResult[]> {
    return this.#track(sendToPeers(this.#laneHost(), source, peers, options));
  }

  // ── RPC (src/rpc; docs/PROTOCOL.md "RPC") ────────────────────────────────────────────────
  #rpc!: NodeRpc;

  /** RPC on this node: interceptors (`useClient`, `useServer`), the server and client with their stats. */
  get rpc(): NodeRpc {
    return this.#rpc;
  }

  /**
   * Serves `service` (from `defineService`) with one handler per method; returns an
   * unregister. Throws INVALID_ARGUMENT when the service is already served or a handler is missing.
   */
  serve<S extends ServiceDef>(service: S, handlers: Handlers<S>): () => void {
    return this.#rpc.serve(service, handlers);
  }

  /** The typed client of `service` on `peer` (calls connect on first use). See src/rpc/client.ts for the errors. */
  client<S extends ServiceDef>(service: S, peer: RpcPeer): Client<S> {
    return this.#rpc.clientFor(service, peer);
  }

  /** One-way call of `service.method` on `peer`: resolves once sent; the callee answers nothing. Throws BAD_INPUT, the connect errors. */
  notify<S extends ServiceDef>(peer: RpcPeer, service: S, method: keyof S['methods'] & string, input: unknown, options?: CallOptions): Promise<void> {
    return this.#rpc.notify(peer, service, method, input, options);
  }

  /** Stops the supervisor and its children, closes every connection and the socket. Idempotent. */
  async stop(): Promise<void> {
    await this.#stop(null);
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────

  #laneHost(): LaneHost {
    return {
      connect: (peer, signal) => this.connect(peer, { signal }),
      openLane: async (link, signal) => {
        const conn = link.connection as PeerConnection;
        if (link.control === null) return conn.openStream({ signal });
        if (!link.kinds.includes('lane')) throw new OctopiiError('UNKNOWN_KIND', `the peer serves no lane streams (serves: ${link.kinds.join(', ') || 'none'})`);
        return this.#router.open(conn, 'lane', { signal });
      },
      transfers: this.#transfers,
      spawn: (peerId, what, logic, input) => this.spawn(`${peerId}/${what}#${++this.#seq}`, logic, { input, restart: 'temporary' }),
      hasher: this.hasher,
      clock: this.clock,
      config: this.config,
      received: (e) => {
        for (const h of this.#receivedHandlers) h(e);
      },
    };
  }

  async #stop(escalation: EscalationInfo | null): Promise<void> {
    this.#stopping ??= stopNode(this.#host, escalation).then(() => this.#closedResolve(escalation));
    await this.#stopping;
  }

  #escalated(error: EscalationInfo): void {
    this.logger.error({ event: 'escalated', error });
    for (const h of this.#escalationHandlers) h(error);
    void this.#stop(error);
  }

  #assertRunning(): void {
    if (this.#stopping) throw new OctopiiError('CLOSED', 'node is stopped');
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p)).catch(() => undefined);
    return p;
  }

  #hello(): HelloMessage {
    return { t: 'hello', v: CONTROL_PROTOCOL_VERSION, nodeId: this.nodeId, kinds: this.#router.kinds(), agent: AGENT };
  }

  #logRefused(r: RefusedStream): void {
    this.logger.warn({ event: 'stream.refused', peer: r.connection.remoteNodeId ?? r.connection.remoteAddress, kind: r.kind, reason: r.error.toJSON() });
  }
}

