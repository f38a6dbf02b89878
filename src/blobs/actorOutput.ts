/**
 * The promise side of a blob transfer actor (a blobFetch or blobBatch machine, src/blobs/fetch.ts
 * and src/blobs/batch.ts): resolves with the machine's output once it is done, reports progress
 * as its count of landed units (blocks, blobs) grows, turns an abort signal into its ABORT event.
 */
import type { AnyActorRef } from 'xstate';
import { OctopiiError, toOctopiiError } from '../errors.js';

export interface ActorOutputOptions {
  /** What the actor does, for the CLOSED message (`fetch`, `batch`). */
  what: string;
  /** The count of landed units in the actor's context (blocks of a fetch, blobs of a batch). */
  count: (context: { blocks?: number; done?: number[]; bytes?: number }) => number;
  signal?: AbortSignal | undefined;
  /** Called with the count and the context's bytes each time the count grows. */
  onProgress?: ((count: number, bytes: number) => void) | undefined;
}

/**
 * The output of `ref` once its status is done. Rejects CLOSED when the actor is stopped first
 * (its node stopped), INTERNAL for an error the actor threw; an aborted `signal` sends
 * `{ type: 'ABORT', error: ABORTED }`, which the machine answers with a failed output.
 */
export function actorOutput<T>(ref: AnyActorRef, o: ActorOutputOptions): Promise<T> {
  let seen = 0;
  return new Promise((resolve, reject) => {
    const onAbort = () => ref.send({ type: 'ABORT', error: { code: 'ABORTED', message: `${o.what} aborted` } });
    o.signal?.addEventListener('abort', onAbort, { once: true });
    let sub: { unsubscribe(): void } | undefined;
    let settled = false;
    const done = (fn: () => void) => {
      if (settled) return;
      settled = true;
      o.signal?.removeEventListener('abort', onAbort);
      sub?.unsubscribe();
      fn();
    };
    const check = (s: { status: string; output?: unknown; context?: { blocks?: number; done?: number[]; bytes?: number } }) => {
      const count = s.context ? o.count(s.context) : 0;
      if (o.onProgress && count > seen) {
        seen = count;
        o.onProgress(count, s.context?.bytes ?? 0);
      }
      if (s.status === 'done') done(() => resolve(s.output as T));
      else if (s.status === 'stopped') done(() => reject(new OctopiiError('CLOSED', `node stopped during the ${o.what}`)));
    };
    sub = ref.subscribe({ next: check, error: (e) => done(() => reject(toOctopiiError(e, 'INTERNAL'))), complete: () => check(ref.getSnapshot()) });
    if (settled) sub.unsubscribe();
    if (o.signal?.aborted) onAbort();
    check(ref.getSnapshot());
  });
}
