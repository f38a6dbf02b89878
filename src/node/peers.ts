/**
 * The node's peer actors (machines/peer.ts, one per remote node under the supervisor): the actor
 * id a {@link PeerRef} maps to (`peer:<node ID>`, `addr:<host:port>` before the node ID is known,
 * `v1:<host:port>` for a seed v1 peer), and the running actor for an id, spawned on first use with
 * its events (`peer.up`, `peer.lost` — which fails the peer's transfers — and `peer.unreachable`)
 * logged and told to the node's listeners; and closing a peer actor's link.
 */
import type { Actor, AnyActorLogic, AnyActorRef } from 'xstate';
import { supervisedChild, type RestartPolicy, type supervisorMachine } from '../../machines/node.js';
import { OctopiiError, type ErrorInfo } from '../errors.js';
import type { Logger } from '../runtime/logger.js';
import { peerInputOf, type PeerLogic } from './peerLogic.js';
import type { TransferRegistry } from './transfers.js';
import type { PeerEventInfo, PeerOptions, PeerRef } from './types.js';

/** What the peer actors need from the node. */
export interface PeerHost {
  readonly supervisor: Actor<typeof supervisorMachine>;
  readonly peerOptions: PeerOptions;
  readonly nodeId: string;
  readonly peerLogic: PeerLogic;
  readonly transfers: TransferRegistry;
  readonly logger: Logger;
  spawn(id: string, logic: AnyActorLogic, options: { input?: unknown; restart?: RestartPolicy }): AnyActorRef;
  /** Tells the node's `onPeer` listeners. */
  tell(e: PeerEventInfo): void;
}

/** The peer actor id of `peer`; an insecure node dials an address without a node ID as seed v1. */
export function peerIdFor(peer: PeerRef, insecure: boolean): string {
  if (peer.nodeId) return `peer:${peer.nodeId}`;
  if (insecure) return `v1:${peer.address}`;
  return `addr:${peer.address}`;
}

/** The running peer actor `id`, spawned if needed. */
export function ensurePeer(host: PeerHost, id: string, nodeId: string | null, address: string | null, protocol: 'octopii' | 'lane-v1'): AnyActorRef {
  const existing = supervisedChild(host.supervisor.getSnapshot(), id);
  if (existing && existing.getSnapshot().status === 'active') return existing;
  const input = peerInputOf(host.peerOptions, { nodeId, address, localNodeId: host.nodeId, protocol });
  const ref = host.spawn(id, host.peerLogic, { input, restart: 'transient' });
  ref.on('peer.lost', (e: { error: ErrorInfo }) => {
    const n = host.transfers.abortPeer(id, OctopiiError.from(e.error));
    host.logger.warn({ event: 'peer.lost', peer: id, transfersFailed: n, error: e.error });
    host.tell({ type: 'peer.lost', peer: id, error: e.error });
  });
  ref.on('peer.up', () => {
    host.logger.info({ event: 'peer.up', peer: id });
    host.tell({ type: 'peer.up', peer: id });
  });
  ref.on('peer.unreachable', (e: { error: ErrorInfo }) => {
    host.logger.warn({ event: 'peer.unreachable', peer: id, error: e.error });
    host.tell({ type: 'peer.unreachable', peer: id, error: e.error });
  });
  return ref;
}

/** Closes the link of peer actor `id` and resolves once the actor stopped; does nothing for an unknown or stopped one. */
export async function closePeer(host: Pick<PeerHost, 'supervisor'>, id: string): Promise<void> {
  const ref = supervisedChild(host.supervisor.getSnapshot(), id);
  if (!ref || ref.getSnapshot().status !== 'active') return;
  const done = new Promise<void>((resolve) => {
    const sub = ref.subscribe({
      next: (s) => {
        if (s.status !== 'active') {
          sub.unsubscribe();
          resolve();
        }
      },
      complete: () => resolve(),
      error: () => resolve(),
    });
  });
  ref.send({ type: 'CLOSE' });
  await done;
}
