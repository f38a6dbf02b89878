/**
 * The node's Shipping Lane transfers: sending a source to peers through their peer actors, and
 * receiving what peers send. Each transfer is a lane actor under the node's supervisor, named
 * `<peer id>/send#n` or `<peer id>/receive#n`, and registered with its peer so that a lost peer
 * fails it at once (UNAVAILABLE).
 */
import type { AnyActorLogic, AnyActorRef } from 'xstate';
import type { PeerLink } from '../../machines/peer.js';
import type { NodeConfig } from '../config.js';
import { toOctopiiError } from '../errors.js';
import { receiveLane, sendLane, statSource, type LaneSink, type LaneSource, type TransferResult } from '../lane/index.js';
import type { Clock } from '../runtime/clock.js';
import type { Hasher } from '../runtime/types.js';
import type { DuplexStream, PeerConnection } from '../transport/types.js';
import type { PeerRef, ReceivedEvent, SendOptions } from './types.js';
import type { TransferRegistry } from './transfers.js';

/** What the lane functions need from the node. */
export interface LaneHost {
  connect(peer: PeerRef, signal?: AbortSignal): Promise<{ id: string; link: PeerLink }>;
  openLane(link: PeerLink, signal?: AbortSignal): Promise<DuplexStream>;
  transfers: TransferRegistry;
  spawn(peerId: string, what: 'send' | 'receive', logic: AnyActorLogic, input?: unknown): AnyActorRef;
  hasher: Hasher | undefined;
  clock: Clock;
  config: NodeConfig;
  received(e: ReceivedEvent): void;
}

/** Largest transfer a node without `receiveDir` keeps in memory, bytes. */
export const MEMORY_RECEIVE_CAP = 64 << 20;

/** One TransferResult per peer, in order; never rejects. */
export async function sendToPeers(
  host: LaneHost,
  source: LaneSource,
  peers: readonly PeerRef[],
  options: Omit<SendOptions, 'onProgress'> & { onProgress?: (index: number, bytes: number) => void },
): Promise<TransferResult[]> {
  const t0 = host.clock.now();
  const failed = (peer: PeerRef, e: unknown, started: number): TransferResult => ({
    peer: peer.address,
    success: false,
    bytesTransferred: 0,
    checksumVerified: false,
    durationMs: host.clock.now() - started,
    error: toOctopiiError(e, 'CONNECTION_CLOSED').toJSON(),
  });
  try {
    await statSource(source);
  } catch (e) {
    return peers.map((p) => failed(p, e, t0));
  }
  return Promise.all(
    peers.map(async (peer, index) => {
      const started = host.clock.now();
      let id: string;
      let link: PeerLink;
      try {
        ({ id, link } = await host.connect(peer, options.signal));
      } catch (e) {
        return failed(peer, e, started);
      }
      const t = host.transfers.begin(id, options.signal);
      try {
        const stream = await host.openLane(link, t.signal);
        const r = await sendLane(stream, source, {
          peer: peer.address,
          signal: t.signal,
          reasons: link.control !== null,
          ...(host.hasher ? { hasher: host.hasher } : {}),
          ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
          ...(options.onProgress ? { onProgress: (b: number) => options.onProgress!(index, b) } : {}),
          spawn: (logic, input) => host.spawn(id, 'send', logic, input),
        });
        return r;
      } catch (e) {
        return failed(peer, e, started);
      } finally {
        t.done();
      }
    }),
  );
}

/** Receives one inbound lane stream into the node's receive dir (or memory) and reports it. */
export async function receiveInbound(host: LaneHost, peerId: string, conn: PeerConnection, stream: DuplexStream, reasons: boolean): Promise<void> {
  const peer = conn.remoteNodeId ?? conn.remoteAddress;
  const dir = host.config.receiveDir;
  const sink: LaneSink = dir
    ? { kind: 'blob', dir, maxBytes: host.config.maxReceiveBytes }
    : { kind: 'memory', maxBytes: Math.min(host.config.maxReceiveBytes, MEMORY_RECEIVE_CAP) };
  const t = host.transfers.begin(peerId);
  try {
    const r = await receiveLane(stream, sink, {
      peer,
      signal: t.signal,
      timeoutMs: host.config.limits.receiveStallMs,
      reasons,
      ...(host.hasher ? { hasher: host.hasher } : {}),
      spawn: (logic, input) => host.spawn(peerId, 'receive', logic, input),
    });
    const event: ReceivedEvent = { ok: r.success, peer, bytes: r.bytes, sha256: r.sha256, durationMs: r.durationMs };
    if (r.error) event.error = r.error;
    if (r.data) event.data = r.data;
    if (r.path) event.file = r.path;
    host.received(event);
  } finally {
    t.done();
  }
}
