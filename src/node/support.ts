/**
 * What the node facade (./node.ts) does around its peers and transfers: wait for a peer actor's
 * link, say goodbye on every link when stopping, refuse an incoming lane stream at a limit, and
 * retain the shared hash pool.
 */
import type { AnyActorRef } from 'xstate';
import type { PeerLink } from '../../machines/peer.js';
import { OctopiiError, toOctopiiError, type ErrorInfo } from '../errors.js';
import { encodeLaneReason } from '../lane/reason.js';
import type { Clock } from '../runtime/clock.js';
import type { Runtime } from '../runtime/types.js';
import type { DuplexStream, PeerConnection } from '../transport/types.js';

/**
 * Refuses an incoming lane stream at once: status 2 (seed 001) and, on octopii's protocol, the
 * reason; the stream's readable is cancelled so no data is held. Never throws.
 */
export async function refuseLane(stream: DuplexStream, error: OctopiiError, reasons: boolean): Promise<void> {
  const w = stream.writable.getWriter();
  try {
    await w.write(Uint8Array.of(2));
    if (reasons) await w.write(encodeLaneReason(error.toJSON()));
    await w.close();
  } catch {
    stream.abort(error);
  }
  await stream.readable.cancel(error).catch(() => undefined);
}


/**
 * Hash worker threads of a node when config `hashThreads` is unset: 1. A node hashes what it
 * receives at network rate, and one worker hashes ~1.6 GB/s (src/hash/pool.ts); each more
 * worker is another V8 isolate, ~10 MiB of RSS (`npm run bench:memory`, 2 GiB receive).
 */
export const NODE_HASH_THREADS = 1;

/**
 * The shared worker pool, retained for the node's life (loaded lazily: simulations pass their
 * own hasher); `threads` unset = {@link NODE_HASH_THREADS}.
 */
export async function defaultHasher(threads: number | undefined): Promise<{ hasher: Runtime['hasher']; release: () => Promise<void> }> {
  const { sharedHashPool } = await import('../hash/index.js');
  const handle = sharedHashPool(threads ?? NODE_HASH_THREADS);
  return { hasher: handle.retain(), release: () => handle.release() };
}

/**
 * Resolves with the peer's link once its actor is `connected` (asking it to dial `address`);
 * rejects with the peer's error when it gives up, UNAVAILABLE when it cannot dial, CLOSED when
 * it stops, ABORTED on `signal`. The message of a give-up names the attempts and the elapsed ms.
 */
export function waitConnected(ref: AnyActorRef, address: string | undefined, clock: Clock, signal?: AbortSignal): Promise<PeerLink> {
  const snap = ref.getSnapshot() as { status: string; context: { link: PeerLink | null; address: string | null } };
  if (snap.status === 'active' && snap.context.link) return Promise.resolve(snap.context.link);
  const started = clock.now();
  return new Promise((resolve, reject) => {
    const subs: Array<{ unsubscribe(): void }> = [];
    const finish = (fn: () => void) => {
      for (const s of subs) s.unsubscribe();
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = () => finish(() => reject(signal!.reason instanceof OctopiiError ? signal!.reason : new OctopiiError('ABORTED', 'connect aborted')));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    subs.push(ref.on('peer.up', (e: { link: PeerLink }) => finish(() => resolve(e.link))));
    subs.push(
      ref.on('peer.unreachable', (e: { error: ErrorInfo }) => {
        const attempts = (ref.getSnapshot() as { context: { attempts: number } }).context.attempts;
        const elapsed = Math.round(clock.now() - started);
        finish(() => reject(new OctopiiError(e.error.code, `${e.error.message} (gave up after ${attempts} attempt(s) in ${elapsed} ms)`)));
      }),
    );
    subs.push(
      ref.subscribe({
        next: (s) => {
          if (s.status !== 'active') finish(() => reject(new OctopiiError('CLOSED', 'peer actor stopped')));
        },
        error: (e) => finish(() => reject(toOctopiiError(e, 'INTERNAL'))),
        // A child stopped by its parent completes without a last non-active snapshot.
        complete: () => finish(() => reject(new OctopiiError('CLOSED', 'peer actor stopped'))),
      }),
    );
    const before = ref.getSnapshot() as { value: unknown; context: { address: string | null } };
    ref.send({ type: 'DIAL', ...(address ? { address } : {}) });
    const after = ref.getSnapshot() as { value: unknown; context: { address: string | null } };
    if (after.value === 'idle' && before.value === 'idle' && after.context.address === null) {
      finish(() => reject(new OctopiiError('UNAVAILABLE', 'peer is not connected and has no address to dial')));
    }
  });
}

/**
 * Sends the control channel's bye on every link that has one, then waits until the peers have
 * closed those links (a peer that heard the bye fails its work with this node as UNAVAILABLE and
 * closes) or `graceMs` passed on `clock`, whichever is first — so that, not a reset stream, is
 * what they see. Never throws.
 */
export async function sayGoodbye(links: ReadonlyArray<PeerLink | null | undefined>, clock: Clock, graceMs: number): Promise<void> {
  const byes: Promise<unknown>[] = [];
  const closedByPeers: Promise<void>[] = [];
  for (const link of links) {
    const channel = link?.control as { close(reason: string): Promise<void> } | null | undefined;
    if (!link || !channel) continue;
    const conn = link.connection as PeerConnection;
    closedByPeers.push(new Promise((resolve) => conn.onClose(() => resolve())));
    byes.push(channel.close('node stopping').catch(() => undefined));
  }
  await Promise.all(byes);
  let timer: unknown;
  await Promise.race([Promise.all(closedByPeers), new Promise<void>((resolve) => (timer = clock.setTimeout(() => resolve(), graceMs)))]);
  clock.clearTimeout(timer);
}
