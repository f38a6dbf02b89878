import { OctopiiError, type OctopiiErrorCode } from '../../errors.js';

/**
 * A set of pending operations that can all be failed at once (stream abort, transport close).
 * Unlike `Promise.race` against one long-lived promise, nothing stays attached after an
 * operation settles — racing every read against a never-settling "aborted" promise retains
 * every chunk read (measured: 1 GiB RSS for a 1 GiB transfer).
 */
export class Cancel {
  #waiters = new Set<(e: OctopiiError) => void>();
  #error: OctopiiError | undefined;

  get error(): OctopiiError | undefined {
    return this.#error;
  }

  /** Settles with `p`, or rejects early on {@link fire}, on `timeoutMs` (with `code`), or on `signal` (ABORTED). */
  wrap<T>(p: Promise<T>, opts: { timeoutMs?: number; code?: OctopiiErrorCode; what?: string; signal?: AbortSignal } = {}): Promise<T> {
    if (this.#error) return Promise.reject(this.#error);
    const { timeoutMs, code = 'TIMEOUT', what = 'operation', signal } = opts;
    if (signal?.aborted) return Promise.reject(new OctopiiError('ABORTED', `${what} aborted: ${String(signal.reason ?? '')}`));
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => fail(new OctopiiError('ABORTED', `${what} aborted: ${String(signal?.reason ?? '')}`));
      const done = () => {
        this.#waiters.delete(fail);
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      function fail(e: OctopiiError) {
        done();
        reject(e);
      }
      this.#waiters.add(fail);
      if (timeoutMs !== undefined) timer = setTimeout(() => fail(new OctopiiError(code, `${what} timed out after ${timeoutMs} ms`)), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      p.then(
        (v) => {
          done();
          resolve(v);
        },
        (e: unknown) => {
          done();
          reject(e);
        },
      );
    });
  }

  /** Rejects every pending and later {@link wrap} with `err`. */
  fire(err: OctopiiError): void {
    if (this.#error) return;
    this.#error = err;
    const ws = [...this.#waiters];
    this.#waiters.clear();
    for (const w of ws) w(err);
  }
}
