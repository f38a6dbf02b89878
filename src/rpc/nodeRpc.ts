/**
 * RPC on a node: what `OctopiiNode.serve`, `client` and `notify` delegate to. It registers the
 * `rpc` stream kind on the node's router (so the hello announces it), serves the built-in `node`
 * service, fails calls at once when a peer is lost (`peer.lost` → UNAVAILABLE; idempotent calls
 * are retried by their call machine on the next connection) and closes with the node.
 */
import type { AnyActorLogic, AnyActorRef } from 'xstate';
import { OctopiiError } from '../errors.js';
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import type { DuplexStream, PeerConnection } from '../transport/types.js';
import { DEFAULT_MAX_MESSAGE_BYTES, type Metadata } from '../wire/rpc.js';
import { nodeHandlers, nodeService } from './builtin.js';
import { RpcClient, type RpcClientOptions, type RpcPeer } from './client.js';
import type { RpcCallListener } from './callRecord.js';
import type { ClientInterceptor, ServerInterceptor } from './interceptors.js';
import { RpcServer } from './server.js';
import type { CallOptions, Client, Handlers, ServiceDef } from './service.js';

/** RPC settings of a node (`OctopiiNode.start({ rpc })`). */
export interface RpcOptions extends RpcClientOptions {
  /** Largest message either way, bytes (default 16 MiB). */
  maxMessageBytes?: number;
  /** Calls in flight the server admits per calling peer (default 1,024). */
  serverMaxInFlightPerPeer?: number;
}

/** The parts of OctopiiNode RPC uses. */
export interface RpcNodeHost {
  readonly nodeId: string;
  readonly address: string;
  readonly transportKind: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly closed: Promise<unknown>;
  readonly router: { register(kind: string, handler: (s: DuplexStream, ctx: { connection: PeerConnection }) => void): () => void };
  onPeer(listener: (e: { type: string; peer: string }) => void): () => void;
  openStream(peer: RpcPeer, kind: string, options?: { signal?: AbortSignal }): Promise<DuplexStream>;
  spawn(id: string, logic: AnyActorLogic, options: { input?: unknown; restart?: 'temporary' }): AnyActorRef;
}

export class NodeRpc {
  readonly server: RpcServer;
  readonly client: RpcClient;

  constructor(host: RpcNodeHost, options: RpcOptions = {}) {
    const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.server = new RpcServer({
      clock: host.clock,
      logger: host.logger,
      maxMessageBytes,
      ...(options.serverMaxInFlightPerPeer !== undefined ? { maxInFlightPerPeer: options.serverMaxInFlightPerPeer } : {}),
    });
    this.client = new RpcClient(
      {
        clock: host.clock,
        maxMessageBytes,
        openStream: (peer, signal) => host.openStream(peer, 'rpc', { ...(signal ? { signal } : {}) }),
        spawn: (id, logic, input) => host.spawn(id, logic, { input, restart: 'temporary' }),
        logger: host.logger,
        // The node ID's last 8 characters: request IDs name their caller and replay alike in simulations.
        requestIdPrefix: host.nodeId.slice(-8),
      },
      options,
    );
    host.router.register('rpc', (stream, { connection }) => this.server.accept(stream, connection));
    const startedAt = host.clock.now();
    this.server.register(
      nodeService,
      nodeHandlers({
        nodeId: host.nodeId,
        agent: 'octopii-ts/0.1.0',
        transport: host.transportKind,
        address: () => host.address,
        startedAt,
        now: () => host.clock.now(),
        services: () => this.server.services(),
      }),
    );
    host.onPeer((e) => {
      if (e.type !== 'peer.lost') return;
      const error = new OctopiiError('UNAVAILABLE', `peer ${e.peer} was lost`);
      this.client.peerLost(e.peer, error);
      this.server.abortPeer(e.peer.replace(/^peer:/, ''), error);
    });
    void host.closed.then(() => this.close());
  }

  serve<S extends ServiceDef>(service: S, handlers: Handlers<S>): () => void {
    return this.server.register(service, handlers);
  }

  clientFor<S extends ServiceDef>(service: S, peer: RpcPeer): Client<S> {
    return this.client.client(service, peer);
  }

  notify<S extends ServiceDef>(peer: RpcPeer, service: S, method: keyof S['methods'] & string, input: unknown, options?: CallOptions & { metadata?: Metadata }): Promise<void> {
    return this.client.notify(peer, service, method, input, options);
  }

  /** Every finished call, made (`side: 'client'`) or served (`'server'`); see src/rpc/callRecord.ts. Returns an unsubscribe. */
  onCall(listener: RpcCallListener): () => void {
    const offClient = this.client.onCall(listener);
    const offServer = this.server.onCall(listener);
    return () => {
      offClient();
      offServer();
    };
  }

  useClient(i: ClientInterceptor): void {
    this.client.use(i);
  }
  useServer(i: ServerInterceptor): void {
    this.server.use(i);
  }

  close(): void {
    const e = new OctopiiError('CLOSED', 'node stopped');
    this.client.close(e);
    this.server.close(e);
  }
}
