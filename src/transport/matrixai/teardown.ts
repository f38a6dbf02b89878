/**
 * Bounded teardown of @matrixai/quic connections: the library's `stop()` can wait on a peer that
 * vanished (its closing period, a stream destroy, a final send); these helpers stop waiting
 * after a grace and cancel the library's timers, so every close is bounded and leaves no handle
 * that keeps the process alive.
 */
import type QUICConnection from '@matrixai/quic/QUICConnection.js';

/** How long a closing connection may wait for its peer before we stop waiting (see teardown). */
export const CLOSE_GRACE_MS = 250;

/**
 * After `onGrace`, how long a library teardown may still run before we stop waiting for it.
 * Its steps (stream destroys, the final send) can wait on a peer that vanished; nothing of
 * ours depends on them finishing, and {@link abandon} has already cancelled its timers.
 */
export const ABANDON_MS = 500;

/** Whether `p` settled within `ms`. */
export async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Awaits `p` for at most `ms + ABANDON_MS`: if it has not settled after `ms`, calls `onGrace`
 * (which should make it settle) and waits at most ABANDON_MS more. Returns whether it settled.
 * This is what makes every close bounded, whatever the library waits on.
 */
export async function withGrace(p: Promise<unknown>, ms: number, onGrace: () => void): Promise<boolean> {
  if (await settledWithin(p, ms)) return true;
  onGrace();
  return settledWithin(p, ABANDON_MS);
}

/**
 * Ends a library connection's closing period now: cancels its quiche and keep-alive timers
 * (so no handle of it keeps the process alive) and resolves the promise its `stop()` /
 * `start()` wait on. Only for connections we are closing anyway.
 */
export function abandon(qc: QUICConnection): void {
  const q = qc as unknown as {
    connTimeoutTimer?: { cancel(): void };
    keepAliveIntervalTimer?: { cancel(): void };
    resolveClosedP?: () => void;
  };
  q.connTimeoutTimer?.cancel();
  q.keepAliveIntervalTimer?.cancel();
  q.resolveClosedP?.();
}
