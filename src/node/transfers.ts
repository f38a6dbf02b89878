/**
 * The transfers in flight, by peer: each has an AbortController the node fires when its peer is
 * lost (dead-peer detection → UNAVAILABLE, at once) or when the node stops (CLOSED).
 */
import type { OctopiiError } from '../errors.js';

export class TransferRegistry {
  readonly #byPeer = new Map<string, Set<AbortController>>();

  /** A controller for a new transfer with `peerKey`; call the returned `done` when it ends. */
  begin(peerKey: string, outer?: AbortSignal): { signal: AbortSignal; done: () => void } {
    const controller = new AbortController();
    let set = this.#byPeer.get(peerKey);
    if (!set) this.#byPeer.set(peerKey, (set = new Set()));
    set.add(controller);
    const onOuter = () => controller.abort(outer!.reason);
    if (outer?.aborted) onOuter();
    else outer?.addEventListener('abort', onOuter, { once: true });
    return {
      signal: controller.signal,
      done: () => {
        outer?.removeEventListener('abort', onOuter);
        set.delete(controller);
        if (set.size === 0 && this.#byPeer.get(peerKey) === set) this.#byPeer.delete(peerKey);
      },
    };
  }

  /** Aborts every transfer with `peerKey`, with `error` as the reason. Returns how many. */
  abortPeer(peerKey: string, error: OctopiiError): number {
    const set = this.#byPeer.get(peerKey);
    if (!set) return 0;
    for (const c of set) c.abort(error);
    return set.size;
  }

  /** Aborts every transfer. */
  abortAll(error: OctopiiError): void {
    for (const key of [...this.#byPeer.keys()]) this.abortPeer(key, error);
  }

  /** Transfers in flight with `peerKey`. */
  count(peerKey?: string): number {
    if (peerKey !== undefined) return this.#byPeer.get(peerKey)?.size ?? 0;
    let n = 0;
    for (const s of this.#byPeer.values()) n += s.size;
    return n;
  }
}
