/**
 * The peer machine (machines/peer.ts) wired to a transport and a stream router: `dial` dials
 * and runs the hello, `watch` turns the link's control channel and the connection's close into
 * events and sends the pings the machine asks for, `close` / `closeLink` close links.
 */
import { fromCallback, fromPromise, type EventObject } from 'xstate';
import { peerMachine, type DialInput, type PeerEvent, type PeerInput, type PeerLink } from '../../machines/peer.js';
import { OctopiiError, toErrorInfo, toOctopiiError } from '../errors.js';
import type { Clock } from '../runtime/clock.js';
import type { ControlChannel } from '../router/control.js';
import { dialHello } from '../router/control.js';
import type { StreamRouter } from '../router/router.js';
import type { PeerConnection, Transport } from '../transport/types.js';
import type { HelloMessage } from '../wire/control.js';
import type { PeerOptions } from './types.js';

export interface PeerLogicDeps {
  transport: Transport;
  router: StreamRouter;
  clock: Clock;
  /** This node's hello (kinds change as handlers register). */
  hello: () => HelloMessage;
  /** Called for every connection this node dials, before its hello: wires its inbound streams. */
  onDialled: (connection: PeerConnection) => void;
}

const connOf = (link: PeerLink) => link.connection as PeerConnection;
const channelOf = (link: PeerLink) => link.control as ControlChannel | null;

/** Closes a link: `bye` on its control channel (best effort), then the connection. Never throws. */
export async function closeLink(link: PeerLink | null, reason: string): Promise<void> {
  if (!link) return;
  await channelOf(link)?.close(reason).catch(() => undefined);
  await connOf(link).close(reason).catch(() => undefined);
}

/** The peer machine with its effects implemented on `deps`. */
export function createPeerLogic(deps: PeerLogicDeps) {
  return peerMachine.provide({
    actors: {
      dial: fromPromise<PeerLink, DialInput>(async ({ input, signal }) => {
        const protocol = input.protocol;
        const connection = await deps.transport.dial(input.address, {
          ...(input.nodeId ? { expectedNodeId: input.nodeId } : {}),
          timeoutMs: input.timeoutMs,
          signal,
          protocol,
        });
        const giveBack = async (e: unknown): Promise<never> => {
          await connection.close('dial abandoned').catch(() => undefined);
          throw toOctopiiError(e, 'HANDSHAKE_FAILED');
        };
        if (signal.aborted) return giveBack(new OctopiiError('ABORTED', 'dial abandoned'));
        deps.onDialled(connection);
        if ((connection.protocol ?? protocol) === 'lane-v1') {
          return { connection, control: null, dialled: true, remoteNodeId: connection.remoteNodeId, kinds: ['lane'] };
        }
        try {
          const { channel, hello } = await dialHello(connection, deps.router, deps.hello(), { clock: deps.clock, timeoutMs: input.timeoutMs });
          if (signal.aborted) {
            await channel.close('dial abandoned');
            return giveBack(new OctopiiError('ABORTED', 'dial abandoned'));
          }
          return { connection, control: channel, dialled: true, remoteNodeId: hello.nodeId, kinds: hello.kinds };
        } catch (e) {
          return giveBack(e);
        }
      }),
      watch: fromCallback<EventObject, { link: PeerLink }>(({ input, sendBack, receive }) => {
        let stopped = false;
        const send = (e: PeerEvent) => {
          if (!stopped) sendBack(e);
        };
        const connection = connOf(input.link);
        const channel = channelOf(input.link);
        connection.onClose((error) =>
          send({ type: 'LINK_LOST', connection, error: toErrorInfo(error ?? new OctopiiError('CONNECTION_CLOSED', 'connection closed'), 'CONNECTION_CLOSED') }),
        );
        channel?.listen({
          pong: (n) => send({ type: 'PONG', n }),
          bye: (reason) =>
            send({ type: 'LINK_LOST', connection, error: { code: 'CONNECTION_CLOSED', message: `peer closed the connection: ${reason}`, origin: 'remote' } }),
          closed: (error) =>
            send({ type: 'LINK_LOST', connection, error: toErrorInfo(error ?? new OctopiiError('CONNECTION_CLOSED', 'control stream closed'), 'CONNECTION_CLOSED') }),
        });
        receive((e) => {
          if (e.type === 'PING' && channel) channel.ping((e as unknown as { n: number }).n);
        });
        return () => {
          stopped = true;
        };
      }),
      close: fromPromise<void, { link: PeerLink }>(async ({ input }) => closeLink(input.link, 'closing')),
    },
    actions: {
      closeLink: (_, params: { link: PeerLink | null }) => {
        void closeLink(params.link, 'duplicate connection');
      },
    },
  });
}

export type PeerLogic = ReturnType<typeof createPeerLogic>;

/** The peer machine's input for a peer actor, from the node's peer options (unset options keep the machine's defaults). */
export function peerInputOf(o: PeerOptions, who: Pick<PeerInput, 'nodeId' | 'address' | 'localNodeId' | 'protocol'>): PeerInput {
  return {
    ...who,
    ...(o.dialTimeoutMs !== undefined ? { dialTimeoutMs: o.dialTimeoutMs } : {}),
    ...(o.keepAliveMs !== undefined ? { keepAliveMs: o.keepAliveMs } : {}),
    ...(o.deadAfterMs !== undefined ? { deadAfterMs: o.deadAfterMs } : {}),
    retry: {
      ...(o.maxRetries !== undefined ? { maxRetries: o.maxRetries } : {}),
      ...(o.retryInitialMs !== undefined ? { initialMs: o.retryInitialMs } : {}),
    },
  };
}
