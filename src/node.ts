/**
 * `OctopiiNode`: the facade over one node (DESIGN.md §1) — a supervisor actor
 * (machines/node.ts) that spawns and watches one connection actor per peer
 * (machines/connection.ts) and one lane actor per transfer (machines/laneSend.ts,
 * machines/laneReceive.ts), over a QUIC transport (src/transport/).
 *
 *   const node = await OctopiiNode.start({ listen: '127.0.0.1:0', receiveDir: './inbox' });
 *   const result = await node.send({ address, nodeId }, { kind: 'file', path });
 *   node.onReceived((r) => …);  node.inspect();  await node.stop();
 *
 * Supervision: connection and transfer actors are `temporary` children — a transfer is never
 * replayed behind the caller's back and a connection actor retries with its own backoff and
 * budget (its `retrying` state); the supervisor's restart intensity guards the `permanent`
 * children applications add with {@link OctopiiNode.spawn}.
 */
import { mkdir } from 'node:fs/promises';
import { createActor, type AnyActorLogic, type AnyActorRef, type Actor } from 'xstate';
import { supervisorMachine, supervisedChild, type ChildInfo, type RestartPolicy } from '../machines/node.js';
import { createConnectionLogic, type ConnectionLogic } from './connection.js';
import { loadConfig, identityFileOf, type NodeConfig, type NodeConfigInput } from './config.js';
import { loadOrCreateIdentity, type Identity } from './identity.js';
import { OctopiiError, toOctopiiError } from './errors.js';
import { createTransport } from './transport/index.js';
import { sharedHashPool } from './hash/index.js';
import type { DuplexStream, PeerConnection, Transport } from './transport/types.js';
import {
  sendLane,
  receiveLane,
  transferToPeers as laneTransferToPeers,
  type LaneSource,
  type LaneSink,
  type TransferResult,
  type LaneError,
} from './lane/index.js';

/** A peer to talk to: where it listens and, optionally, the node ID it must prove. */
export interface PeerRef {
  /** `host:port` (IPv6: `[::1]:4000`). */
  address: string;
  /** Refuse the peer unless it proves this node ID (docs/PROTOCOL.md "Peer verification"). */
  nodeId?: string;
}

/** One incoming transfer, verified or not (`octopii serve` prints these). */
export interface ReceivedEvent {
  ok: boolean;
  /** Sender's node ID, or its address when it has none (`insecure`). */
  peer: string;
  /** Size announced by the sender, bytes. */
  bytes: number;
  /** Hex SHA-256 of the data ('' when not verified). */
  sha256: string;
  /** Final path (file receive, success only): `<receiveDir>/<sha256>`. */
  file?: string;
  /** The data (memory receive, success only). */
  data?: Uint8Array;
  durationMs: number;
  error?: LaneError;
}

export interface SendOptions {
  signal?: AbortSignal;
  /** Inactivity timeout in ms (default 30,000); also bounds the connect (default 5,000). */
  timeoutMs?: number;
  onProgress?: (bytes: number) => void;
}

export interface NodeStartOptions extends Partial<NodeConfigInput> {
  /** Use this identity instead of the identity file. */
  identity?: Identity;
  /** Config file (JSON) read under the options and env vars. */
  configFile?: string;
}

/** Largest transfer a node without `receiveDir` keeps in memory, bytes. */
const MEMORY_RECEIVE_CAP = 64 << 20;

export class OctopiiNode {
  private readonly receivedHandlers = new Set<(e: ReceivedEvent) => void>();
  private readonly connectionLogic: ConnectionLogic;
  private readonly peerChildren = new Map<string, string>();
  private readonly inflight = new Set<Promise<unknown>>();
  private seq = 0;
  private stopped = false;
  /** The shared hash pool, retained while this node runs (its transfers retain the same pool). */
  private readonly hashPool = sharedHashPool();

  private constructor(
    readonly config: NodeConfig,
    readonly identity: Identity,
    readonly transport: Transport,
    private readonly supervisor: Actor<typeof supervisorMachine>,
  ) {
    this.connectionLogic = createConnectionLogic(transport);
    this.hashPool.retain();
  }

  /**
   * Loads (or creates) the identity, binds the transport and starts the supervisor.
   * Options over `OCTOPII_*` env vars over `configFile` (src/config.ts).
   * Throws INVALID_ARGUMENT (config), INVALID_IDENTITY, or the transport's listen errors.
   */
  static async start(options: NodeStartOptions = {}): Promise<OctopiiNode> {
    const { identity: given, configFile, ...rest } = options;
    const config = loadConfig(rest, { file: configFile });
    const identity = given ?? (await loadOrCreateIdentity(identityFileOf(config)));
    if (config.receiveDir) await mkdir(config.receiveDir, { recursive: true });
    const transport = await createTransport(config.transport, {
      identity,
      allowPeers: config.allowPeers,
      insecure: config.insecure,
      quinnThreads: config.quinnThreads,
    });
    try {
      await transport.listen({ address: config.listen });
    } catch (e) {
      await transport.close();
      throw e;
    }
    const supervisor = createActor(supervisorMachine, {
      input: { intensity: config.supervisor.intensity, periodMs: config.supervisor.periodMs },
    });
    supervisor.start();
    const node = new OctopiiNode(config, identity, transport, supervisor);
    transport.onConnection((conn) => node.adopt(conn));
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

  /** Calls `handler` for every incoming transfer (verified or failed). Returns an unsubscribe. */
  onReceived(handler: (e: ReceivedEvent) => void): () => void {
    this.receivedHandlers.add(handler);
    return () => this.receivedHandlers.delete(handler);
  }

  /**
   * Runs `logic` as a child of this node's supervisor (OTP child spec: `permanent` children are
   * always restarted, `transient` after a crash, `temporary` never; restarts back off
   * exponentially and more than `supervisor.intensity` in `supervisor.periodMs` escalates).
   */
  spawn(id: string, logic: AnyActorLogic, options: { input?: unknown; restart?: RestartPolicy } = {}): AnyActorRef {
    this.assertRunning();
    this.supervisor.send({ type: 'SPAWN', id, logic, input: options.input, restart: options.restart ?? 'permanent' });
    const ref = supervisedChild(this.supervisor.getSnapshot(), id);
    if (!ref) throw new OctopiiError('INVALID_ARGUMENT', `child ${id} did not start`);
    return ref;
  }

  /** A plain, serialisable view of the node: supervisor state and every child's status. */
  inspect(): { nodeId: string; address: string; transport: string; supervisor: string; children: Record<string, ChildInfo> } {
    const snap = this.supervisor.getSnapshot();
    return {
      nodeId: this.nodeId,
      address: this.address,
      transport: this.transportKind,
      supervisor: String(snap.value),
      children: structuredClone(snap.context.children),
    };
  }

  /**
   * The open connection to `peer`, through its connection actor (spawned on first use, one per
   * peer). Throws the dial's OctopiiError (CONNECT_TIMEOUT, CONNECTION_REFUSED,
   * PEER_VERIFICATION_FAILED, TRANSPORT_MISMATCH, …) once the actor's retry budget is spent or
   * the error is not retryable.
   */
  async connect(peer: PeerRef, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<PeerConnection> {
    this.assertRunning();
    const key = peer.nodeId ?? peer.address;
    let id = this.peerChildren.get(key);
    let ref = id ? supervisedChild(this.supervisor.getSnapshot(), id) : undefined;
    if (!ref || ref.getSnapshot().status !== 'active') {
      id = `connection:${key}#${++this.seq}`;
      this.peerChildren.set(key, id);
      ref = this.spawn(id, this.connectionLogic, {
        input: {
          address: peer.address,
          expectedNodeId: peer.nodeId,
          dialTimeoutMs: options.timeoutMs ?? 5_000,
          retry: { maxRetries: 2, initialMs: 100, maxMs: 1_000 },
          connectOnStart: true,
        },
        restart: 'temporary',
      });
    }
    const conn = await waitForOpen(ref, options.signal);
    this.adopt(conn);
    return conn;
  }

  /**
   * Ships `source` to `peer` over one Shipping Lane v1 stream (seed 001) and resolves with the
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
   * TransferResult per peer, in order (seed 003 "Chunk Transfer to Multiple Peers"). Never rejects.
   */
  async transferToPeers(
    source: LaneSource,
    peers: readonly PeerRef[],
    options: Omit<SendOptions, 'onProgress'> & { onProgress?: (index: number, bytes: number) => void } = {},
  ): Promise<TransferResult[]> {
    const labels = peers.map((p, i) => `${i}\u0000${p.address}`);
    const byLabel = new Map(labels.map((l, i) => [l, peers[i]!]));
    const results = await this.track(
      laneTransferToPeers(
        async (label) => {
          const conn = await this.connect(byLabel.get(label)!, { timeoutMs: Math.min(options.timeoutMs ?? 5_000, 5_000), signal: options.signal });
          return conn.openStream({ signal: options.signal });
        },
        source,
        labels,
        {
          signal: options.signal,
          timeoutMs: options.timeoutMs,
          spawn: (logic: AnyActorLogic, input?: unknown) => this.spawn(`send#${++this.seq}`, logic, { input, restart: 'temporary' }),
          onProgress: options.onProgress ? (label, bytes) => options.onProgress!(labels.indexOf(label), bytes) : undefined,
        },
      ),
    );
    return results.map((r) => ({ ...r, peer: byLabel.get(r.peer)?.address ?? r.peer }));
  }

  /** Stops the supervisor and its children, closes every connection and the socket. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.supervisor.send({ type: 'STOP' });
    await this.transport.close();
    await Promise.allSettled([...this.inflight]);
    this.supervisor.stop();
    await this.hashPool.release();
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────

  private assertRunning(): void {
    if (this.stopped) throw new OctopiiError('CLOSED', 'node is stopped');
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => undefined);
    return p;
  }

  /** Accept Shipping Lane streams the peer opens on `conn` (inbound or outbound connection). */
  private adopt(conn: PeerConnection): void {
    conn.onStream((stream) => {
      if (this.stopped) return stream.abort(new OctopiiError('CLOSED', 'node is stopping'));
      void this.track(this.receive(conn, stream));
    });
  }

  private async receive(conn: PeerConnection, stream: DuplexStream): Promise<void> {
    const peer = conn.remoteNodeId ?? conn.remoteAddress;
    const dir = this.config.receiveDir;
    const sink: LaneSink = dir
      ? { kind: 'blob', dir, maxBytes: this.config.maxReceiveBytes }
      : { kind: 'memory', maxBytes: Math.min(this.config.maxReceiveBytes, MEMORY_RECEIVE_CAP) };
    const r = await receiveLane(stream, sink, {
      peer,
      spawn: (logic: AnyActorLogic, input?: unknown) => this.spawn(`receive#${++this.seq}`, logic, { input, restart: 'temporary' }),
    });
    const event: ReceivedEvent = { ok: r.success, peer, bytes: r.bytes, sha256: r.sha256, durationMs: r.durationMs };
    if (r.error) event.error = r.error;
    if (r.data) event.data = r.data;
    if (r.path) event.file = r.path;
    for (const h of this.receivedHandlers) h(event);
  }
}

/** Resolves with the connection once `ref` (a connection actor) is `open`; rejects with its error if it ends. */
function waitForOpen(ref: AnyActorRef, signal?: AbortSignal): Promise<PeerConnection> {
  return new Promise((resolve, reject) => {
    let sub: { unsubscribe(): void } | undefined;
    const finish = (fn: () => void) => {
      sub?.unsubscribe();
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = () => finish(() => reject(new OctopiiError('ABORTED', 'connect aborted')));
    const check = (snap: ReturnType<AnyActorRef['getSnapshot']>): boolean => {
      if (snap.status === 'active' && snap.value === 'open') {
        finish(() => resolve(snap.context.connection as PeerConnection));
        return true;
      }
      if (snap.status !== 'active') {
        const err = snap.output?.error ?? snap.context?.lastError ?? snap.error;
        finish(() =>
          reject(
            err instanceof OctopiiError
              ? err
              : new OctopiiError((err?.code as OctopiiError['code']) ?? 'CONNECTION_CLOSED', err?.message ?? 'connection actor stopped'),
          ),
        );
        return true;
      }
      return false;
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (check(ref.getSnapshot())) return;
    sub = ref.subscribe({ next: check, error: (e) => finish(() => reject(toOctopiiError(e, 'CONNECTION_CLOSED'))) });
  });
}
