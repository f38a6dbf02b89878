/**
 * How a node stops (after `stop()` or a supervisor escalation): connects still waiting fail with
 * CLOSED (or the escalation), every peer link hears bye and gets up to {@link BYE_GRACE_MS} to
 * close, running transfers fail, the supervisor stops its children, the transport closes, in-flight
 * work settles, and the shared hash pool is released. The node facade (./node.ts) hands its
 * internals over through {@link StopHost}.
 */
import type { Actor } from 'xstate';
import { supervisedChild, type EscalationInfo, type supervisorMachine } from '../../machines/node.js';
import type { PeerLink } from '../../machines/peer.js';
import { OctopiiError } from '../errors.js';
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import type { Transport } from '../transport/types.js';
import { isPeerId } from './inspect.js';
import { sayGoodbye } from './support.js';
import type { TransferRegistry } from './transfers.js';

/**
 * How long a stopping node waits for its peers to close the links it said bye on, ms: long enough
 * for a busy peer to read the bye (and fail its work with this node UNAVAILABLE) before this node
 * resets the streams; a peer that answers sooner ends the wait sooner.
 */
export const BYE_GRACE_MS = 2_000;

/** What stopping needs from the node. */
export interface StopHost {
  readonly supervisor: Actor<typeof supervisorMachine>;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly transfers: TransferRegistry;
  /** Aborted first: connects still waiting for their peer fail with its reason. */
  readonly stopSignal: AbortController;
  /** Work the node waits for before it stops its supervisor. */
  readonly inflight: ReadonlySet<Promise<unknown>>;
  readonly releaseHasher: (() => Promise<void>) | undefined;
}

/** Stops the node: `escalation` is the supervisor's error, or null after `stop()`. Resolves once stopped. */
export async function stopNode(host: StopHost, escalation: EscalationInfo | null): Promise<void> {
  const { supervisor } = host;
  host.stopSignal.abort(escalation ? OctopiiError.from(escalation) : new OctopiiError('CLOSED', 'node is stopping'));
  // Say goodbye on every link first, so peers fail their work with this node at once
  // (UNAVAILABLE) rather than by a reset stream or a keep-alive deadline.
  const links = Object.keys(supervisor.getSnapshot().context.children)
    .filter(isPeerId)
    .map((id) => (supervisedChild(supervisor.getSnapshot(), id)?.getSnapshot() as { context?: { link?: PeerLink | null } } | undefined)?.context?.link);
  await sayGoodbye(links, host.clock, BYE_GRACE_MS);
  host.transfers.abortAll(escalation ? OctopiiError.from(escalation) : new OctopiiError('CLOSED', 'node is stopping'));
  if (supervisor.getSnapshot().status === 'active') supervisor.send({ type: 'STOP' });
  await host.transport.close();
  await Promise.allSettled([...host.inflight]);
  supervisor.stop();
  await host.releaseHasher?.();
  host.logger.info({ event: 'stopped', ...(escalation ? { error: escalation } : {}) });
}
