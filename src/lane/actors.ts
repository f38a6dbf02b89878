/**
 * Pieces shared by the lane's send and receive actors (src/lane/send.ts, src/lane/receive.ts):
 * the callback-actor shape they all use, and the two actors both machines invoke.
 */
import { fromCallback, type EventObject } from 'xstate';
import type { ErrorInfo } from '../errors.js';
import type { ByteReader } from './bytes.js';
import { abortError } from './util.js';

/** What an effect body gets: its input, a `send` that is muted once the actor stopped, control messages. */
export interface EffectArgs<I, E extends EventObject> {
  input: I;
  send: (e: E) => void;
  stopped: () => boolean;
  receive: (fn: (e: EventObject) => void) => void;
}

/**
 * A callback actor running `body` with its `input` only (no state shared with other actors);
 * `body` may return a stop function, run when the invoking state exits.
 */
export function effect<I, E extends EventObject>(body: (args: EffectArgs<I, E>) => (() => void) | void) {
  return fromCallback<EventObject, I>(({ input, sendBack, receive }) => {
    let stopped = false;
    const stop = body({
      input,
      send: (e) => {
        if (!stopped) sendBack(e);
      },
      stopped: () => stopped,
      receive,
    });
    return () => {
      stopped = true;
      stop?.();
    };
  });
}

/** The caller's AbortSignal → ABORT { error } at once (its reason if an OctopiiError, else ABORTED). */
export const watchSignal = effect<{ signal: unknown }, { type: 'ABORT'; error: ErrorInfo }>(({ input, send }) => {
  const signal = input.signal as AbortSignal | undefined;
  if (!signal) return;
  const fire = () => send({ type: 'ABORT', error: abortError(signal) });
  if (signal.aborted) {
    queueMicrotask(fire);
    return;
  }
  signal.addEventListener('abort', fire, { once: true });
  return () => signal.removeEventListener('abort', fire);
});

/** Waits for the peer to end its side of the stream → FINISHED (the machine bounds the wait with its close grace). */
export const finishStream = effect<{ reader: unknown }, { type: 'FINISHED' }>(({ input, send }) => {
  void (input.reader as ByteReader).drain().then(() => send({ type: 'FINISHED' }));
});
