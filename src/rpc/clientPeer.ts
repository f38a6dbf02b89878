/**
 * The caller's per-peer RPC state (docs/PROTOCOL.md "RPC"): the one long-lived `rpc` stream that
 * carries every call to the peer multiplexed by call ID (opened on first use, opened anew after
 * it closes; a close fails the calls on it UNAVAILABLE), the peer's circuit breaker
 * (machines/breaker.ts, Nygard's "Release It!" circuit breaker) and its admission bulkhead
 * (machines/admission.ts: a bounded number in flight, a bounded queue behind it). The client
 * (./client.ts) runs calls over it.
 */
import { createActor, type Actor, type AnyActorRef } from 'xstate';
import { admissionMachine } from '../../machines/admission.js';
import { breakerMachine } from '../../machines/breaker.js';
import type { Clock } from '../runtime/clock.js';
import type { DuplexStream } from '../transport/types.js';
import type { Channel } from './attempt.js';
import { RpcChannel } from './channel.js';
import { RpcError } from './errors.js';
import type { ClientCallInfo } from './interceptors.js';

/** A remote node to call: its address and, when known, its node ID (the key is `peer:<id>`, else `addr:<address>`). */
export interface RpcPeer {
  address: string;
  nodeId?: string;
}

export interface PeerState {
  key: string;
  peer: RpcPeer;
  channel: Promise<Channel> | null;
  /** The channel once open (calls on it send at once, without awaiting `channel`). */
  ready: Channel | null;
  breaker: Actor<typeof breakerMachine>;
  admission: Actor<typeof admissionMachine>;
  calls: AnyActorRef | null;
  /** Queued admission tickets → their waiter (one listener per peer, not per ticket). */
  waiters: Map<number, (admitted: boolean) => void>;
}

/** Codes that say the peer (not the call) is unwell: they count against the breaker. */
export const BREAKER_CODES = new Set(['UNAVAILABLE', 'CONNECTION_CLOSED', 'CONNECT_TIMEOUT', 'CONNECTION_REFUSED', 'DEADLINE_EXCEEDED', 'STREAM_ABORTED', 'RESOURCE_EXHAUSTED']);

/** The key of `peer` in the client's peer table. */
export function peerKeyOf(peer: RpcPeer): string {
  return peer.nodeId ? `peer:${peer.nodeId}` : `addr:${peer.address}`;
}

/** A peer's fresh state with its breaker and admission actors started on `clock`. */
export function createPeerState(
  key: string,
  peer: RpcPeer,
  clock: Clock,
  o: { breaker: { failureThreshold?: number; openMs?: number }; maxInFlightPerPeer: number; maxQueuedPerPeer: number },
): PeerState {
  const breaker = createActor(breakerMachine, { input: o.breaker, clock });
  const admission = createActor(admissionMachine, { input: { limit: o.maxInFlightPerPeer, queueLimit: o.maxQueuedPerPeer }, clock });
  const waiters = new Map<number, (admitted: boolean) => void>();
  admission.on('admit', (e) => waiters.get(e.ticket)?.(true));
  admission.on('reject', (e) => waiters.get(e.ticket)?.(false));
  breaker.start();
  admission.start();
  return { key, peer, channel: null, ready: null, breaker, admission, calls: null, waiters };
}

/** What opening a peer's channel needs from the client. */
export interface ChannelHost {
  maxMessageBytes: number;
  /** Opens an `rpc` stream to the peer (connecting first). */
  openStream(peer: RpcPeer, signal?: AbortSignal): Promise<DuplexStream>;
  /** Counts replies for call IDs this side does not know (ignored). */
  stats: { unknownReplies: number };
}

/** The peer's channel: the open one, or a new `rpc` stream. Rejects with the connect errors. */
export function peerChannel(host: ChannelHost, ps: PeerState, signal?: AbortSignal): Promise<Channel> {
  if (ps.channel) return ps.channel;
  const p = (async () => {
    const stream = await host.openStream(ps.peer, signal);
    const state: Channel = { ch: undefined as unknown as RpcChannel, calls: new Map(), nextId: 1 };
    state.ch = new RpcChannel(stream, host.maxMessageBytes, {
      onMessage: (m) => {
        const a = state.calls.get(m.id);
        if (a) a.onMessage(m);
        else host.stats.unknownReplies++;
      },
      onBadFrame: (id, e) => {
        const a = state.calls.get(id);
        if (a) a.onFail(e);
        else host.stats.unknownReplies++;
      },
      onClose: (e) => {
        if (ps.channel === p) ps.channel = null;
        if (ps.ready === state) ps.ready = null;
        const why = e && e.code === 'UNAVAILABLE' ? e : new RpcError('UNAVAILABLE', `rpc stream to ${ps.key} closed${e ? `: ${e.message}` : ''}`);
        for (const a of [...state.calls.values()]) a.onFail(why);
        state.calls.clear();
      },
    });
    return state;
  })();
  ps.channel = p;
  p.then(
    (state) => {
      if (ps.channel === p && !state.ch.closed) ps.ready = state;
    },
    () => {
      if (ps.channel === p) ps.channel = null;
    },
  );
  return p;
}

/**
 * Takes a slot of the peer's admission with `ticket`: at once below the limit (returns nothing),
 * else waits in its bounded queue (rejects RESOURCE_EXHAUSTED when full, CANCELLED on the signal,
 * DEADLINE_EXCEEDED when `call.deadlineMs` passes on `clock` while queued).
 */
export function admitCall(ps: PeerState, call: ClientCallInfo, ticket: number, clock: Clock): Promise<void> | void {
  if (ps.admission.getSnapshot().value === 'open') {
    ps.admission.send({ type: 'ACQUIRE', ticket });
    return;
  }
  return new Promise<void>((resolve, reject) => {
    let timer: unknown;
    const cleanup = () => {
      ps.waiters.delete(ticket);
      clock.clearTimeout(timer);
      call.signal?.removeEventListener('abort', onAbort);
    };
    const giveUp = (e: RpcError) => {
      cleanup();
      ps.admission.send({ type: 'WITHDRAW', ticket });
      reject(e);
    };
    const onAbort = () => giveUp(new RpcError('CANCELLED', `${call.method}: cancelled while queued`, { method: call.method }));
    ps.waiters.set(ticket, (admitted) => {
      cleanup();
      if (admitted) resolve();
      else reject(new RpcError('RESOURCE_EXHAUSTED', `${call.method}: too many calls to ${ps.key} (in flight and queued)`, { method: call.method }));
    });
    call.signal?.addEventListener('abort', onAbort, { once: true });
    ps.admission.send({ type: 'ACQUIRE', ticket });
    if (ps.waiters.has(ticket)) {
      timer = clock.setTimeout(() => giveUp(new RpcError('DEADLINE_EXCEEDED', `${call.method}: deadline passed while queued for admission`, { method: call.method })), call.deadlineMs);
    }
  });
}
