/**
 * The node's inbound side: a connection the transport accepted (connection limit, seed v1
 * adoption, octopii's router), the control stream of an inbound connection (hello, then the
 * connection goes to its peer actor — docs/PROTOCOL.md "Control"), and an incoming lane stream
 * (admission by the per-node and per-peer limits, then a receive lane actor, seed 001).
 * The node facade (./node.ts) hands its internals over through {@link AcceptHost}.
 */
import type { AnyActorRef } from 'xstate';
import type { NodeConfig } from '../config.js';
import { OctopiiError, toOctopiiError } from '../errors.js';
import { acceptHello } from '../router/control.js';
import type { StreamRouter } from '../router/router.js';
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import type { DuplexStream, PeerConnection, Transport } from '../transport/types.js';
import type { HelloMessage } from '../wire/control.js';
import { receiveInbound, type LaneHost } from './lanes.js';
import type { IncomingLimits } from './limits.js';
import { refuseLane } from './support.js';

/** What the inbound path needs from the node. */
export interface AcceptHost {
  readonly transport: Transport;
  readonly config: NodeConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly router: StreamRouter;
  readonly limits: IncomingLimits;
  /** Inbound connections whose control stream was seen (a second one is a protocol error). */
  readonly helloDone: WeakSet<PeerConnection>;
  /** True once the node started stopping. */
  stopping(): boolean;
  hello(): HelloMessage;
  /** The running peer actor `id`, spawned if needed. */
  ensurePeer(id: string, nodeId: string | null, address: string | null, protocol: 'octopii' | 'lane-v1'): AnyActorRef;
  laneHost(): LaneHost;
  /** Keeps `p` among the work a stopping node waits for. */
  track<T>(p: Promise<T>): Promise<T>;
}

/** Inbound connection (transport.onConnection). */
export function acceptConnection(host: AcceptHost, conn: PeerConnection): void {
  if (host.stopping()) {
    void conn.close('node stopping');
    return;
  }
  const open = host.transport.connections().length;
  if (open > host.config.limits.connections) {
    host.logger.warn({ event: 'refused', peer: conn.remoteNodeId ?? conn.remoteAddress, reason: { code: 'RESOURCE_EXHAUSTED', message: `connection limit ${host.config.limits.connections} reached` } });
    void conn.close('connection limit reached');
    return;
  }
  if (conn.protocol === 'lane-v1') {
    // The seed's ALPN: raw Shipping Lane v1 streams, no hello; one peer actor per address.
    const id = `v1:${conn.remoteAddress}`;
    const ref = host.ensurePeer(id, conn.remoteNodeId, null, 'lane-v1');
    ref.send({ type: 'ADOPT', link: { connection: conn, control: null, dialled: false, remoteNodeId: conn.remoteNodeId, kinds: ['lane'] } });
    conn.onStream((s) => receiveStream(host, conn, s, false));
    return;
  }
  wireStreams(host, conn);
}

/** Streams the peer opens on a connection of our protocol go through the router. */
export function wireStreams(host: AcceptHost, conn: PeerConnection): void {
  if (conn.protocol === 'lane-v1') {
    conn.onStream((s) => receiveStream(host, conn, s, false));
    return;
  }
  conn.onStream((s) => {
    if (host.stopping()) return s.abort(new OctopiiError('CLOSED', 'node is stopping'));
    host.router.dispatch(conn, s);
  });
}

/** The control stream of an inbound connection: hello, then the connection goes to its peer actor. */
export async function acceptControl(host: AcceptHost, conn: PeerConnection, stream: DuplexStream): Promise<void> {
  if (conn.direction === 'outbound' || host.helloDone.has(conn)) {
    stream.abort(new OctopiiError('PROTOCOL_ERROR', 'a second control stream'));
    return;
  }
  host.helloDone.add(conn);
  try {
    const { channel, hello } = await acceptHello(conn, stream, host.hello(), { clock: host.clock });
    if (host.stopping()) {
      await channel.close('node stopping');
      await conn.close('node stopping');
      return;
    }
    const id = `peer:${hello.nodeId}`;
    const ref = host.ensurePeer(id, hello.nodeId, null, 'octopii');
    ref.send({ type: 'ADOPT', link: { connection: conn, control: channel, dialled: false, remoteNodeId: hello.nodeId, kinds: hello.kinds } });
  } catch (e) {
    const error = toOctopiiError(e, 'HANDSHAKE_FAILED');
    host.logger.warn({ event: 'refused', peer: conn.remoteNodeId ?? conn.remoteAddress, reason: error.toJSON() });
    await conn.close(error.message).catch(() => undefined);
  }
}

/**
 * An incoming lane stream: admitted by the incoming limits (else refused with status 2 and, when
 * `reasons`, the RESOURCE_EXHAUSTED reason), then received by a lane actor.
 */
export function receiveStream(host: AcceptHost, conn: PeerConnection, stream: DuplexStream, reasons: boolean): void {
  if (host.stopping()) return stream.abort(new OctopiiError('CLOSED', 'node is stopping'));
  const peerId = conn.remoteNodeId && conn.protocol !== 'lane-v1' ? `peer:${conn.remoteNodeId}` : `v1:${conn.remoteAddress}`;
  let release: () => void;
  try {
    release = host.limits.admit(peerId);
  } catch (e) {
    const error = toOctopiiError(e, 'RESOURCE_EXHAUSTED');
    host.logger.warn({ event: 'transfer.refused', peer: peerId, reason: error.toJSON() });
    void refuseLane(stream, error, reasons);
    return;
  }
  void host.track(receiveInbound(host.laneHost(), peerId, conn, stream, reasons).finally(release));
}
