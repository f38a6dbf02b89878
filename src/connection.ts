/**
 * The connection machine (machines/connection.ts) wired to a real {@link Transport}.
 *
 *   const logic = createConnectionLogic(transport);
 *   const actor = createActor(logic, { input: { address: '127.0.0.1:4000', expectedNodeId } });
 *   actor.start(); actor.send({ type: 'CONNECT' });
 *   // or hand `logic` to the node supervisor: { type: 'SPAWN', id: 'peer:…', logic, input, restart: 'transient' }
 *
 * Pattern: XState v5 `machine.provide({ actors })` — the machine names its side effects, this
 * file implements them (DESIGN.md §1). The same machine runs on the memory transport in
 * test/model and test/sim and on QUIC in integration tests.
 *
 * Note: transports pool connections by node ID, so the handle may be shared with other users
 * (lanes, RPC); a CLOSE of this actor closes the pooled connection for all of them.
 */
import { fromCallback, fromPromise } from 'xstate';
import { connectionMachine, type ConnectionEvent, type DialInput } from '../machines/connection.js';
import { toErrorInfo } from './errors.js';
import { OctopiiError } from './errors.js';
import type { PeerConnection, Transport } from './transport/types.js';

/**
 * Returns the connection machine with `dial`, `watchConnection` and `closeConnection`
 * implemented on `transport`. The machine's handle (`context.connection`) is then a
 * {@link PeerConnection}. Dial errors are the transport's OctopiiErrors (CONNECT_TIMEOUT,
 * CONNECTION_REFUSED, PEER_VERIFICATION_FAILED, TRANSPORT_MISMATCH, CLOSED …); a dial is aborted
 * (AbortSignal) when the actor leaves `connecting`.
 */
export function createConnectionLogic(transport: Transport) {
  return connectionMachine.provide({
    actors: {
      dial: fromPromise<unknown, DialInput>(async ({ input, signal }) => {
        return transport.dial(input.address, {
          expectedNodeId: input.expectedNodeId,
          timeoutMs: input.timeoutMs,
          signal,
        });
      }),
      watchConnection: fromCallback<ConnectionEvent, { connection: unknown }>(({ input, sendBack }) => {
        const connection = input.connection as PeerConnection;
        let active = true;
        const lost = (error?: Error) => {
          if (!active) return;
          active = false;
          sendBack({
            type: 'CONNECTION_LOST',
            error: toErrorInfo(error ?? new OctopiiError('CONNECTION_CLOSED', 'connection closed locally')),
          });
        };
        connection.onClose(lost);
        if (connection.closed) lost(new OctopiiError('CONNECTION_CLOSED', 'connection already closed'));
        return () => {
          active = false;
        };
      }),
      closeConnection: fromPromise<void, { connection: unknown }>(async ({ input }) => {
        await (input.connection as PeerConnection).close('closed by its connection actor');
      }),
    },
  });
}

export type ConnectionLogic = ReturnType<typeof createConnectionLogic>;
