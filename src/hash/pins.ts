/**
 * Pinning the jobs of one incremental hash to one worker of the hash pool (src/hash/pool.ts):
 * piscina 5's `loadBalancer` hook sends every job carrying `{ hashId }` in its queue options to
 * the worker that got that hash's first job, which holds its state; other jobs go to the least
 * loaded worker.
 */
import type { PiscinaTask } from 'piscina';

/**
 * piscina's `queueOptionsSymbol` (its symbols.ts: `Symbol.for('Piscina.queueOptions')`), named
 * here so that piscina loads only with a pool's first job ({@link HashPool}): an idle
 * `octopii serve` has no use for it (node:worker_threads it loads anyway, through pino).
 */
export const QUEUE_OPTIONS = Symbol.for('Piscina.queueOptions');

/** Shape of the worker objects piscina hands to a load balancer (not exported by piscina). */
export interface BalancerWorker {
  readonly id: number;
  readonly currentUsage: number;
  readonly terminating: boolean;
  readonly destroyed: boolean;
}

export interface PinOptions {
  hashId?: number;
  last?: boolean;
}

/** Per-pool pin tables: which worker holds which incremental hash state. */
export class Pins {
  /** hash id → worker threadId that holds its state (-1: that worker is gone). */
  readonly byHash = new Map<number, number>();
  /** worker threadId → number of hash ids pinned to it. */
  readonly perWorker = new Map<number, number>();

  unpin(id: number): void {
    const w = this.byHash.get(id);
    if (w === undefined) return;
    this.byHash.delete(id);
    const n = (this.perWorker.get(w) ?? 1) - 1;
    if (n <= 0) this.perWorker.delete(w);
    else this.perWorker.set(w, n);
  }

  leastLoaded(workers: BalancerWorker[]): BalancerWorker | null {
    let best: BalancerWorker | null = null;
    let bestScore = Infinity;
    for (const w of workers) {
      if (w.terminating || w.destroyed) continue;
      const score = (this.perWorker.get(w.id) ?? 0) * 1000 + w.currentUsage;
      if (score < bestScore) {
        best = w;
        bestScore = score;
      }
    }
    return best;
  }

  /**
   * piscina load balancer: jobs carrying `{ hashId }` in their queue options go to the worker
   * pinned for that id (pinned on the first job, released when the `last` job is placed).
   * Returning null queues the job (e.g. the pinned worker is still starting).
   */
  balance(task: PiscinaTask, workers: BalancerWorker[]): BalancerWorker | null {
    const opts = (task as unknown as Record<symbol, unknown>)[QUEUE_OPTIONS] as PinOptions | null;
    const id = opts?.hashId;
    if (id === undefined) return this.leastLoaded(workers);
    let target: BalancerWorker | null;
    const pinned = this.byHash.get(id);
    if (pinned === undefined) {
      target = this.leastLoaded(workers);
      if (target === null) return null;
      this.byHash.set(id, target.id);
      this.perWorker.set(target.id, (this.perWorker.get(target.id) ?? 0) + 1);
    } else if (pinned === -1) {
      // Its worker is gone: any worker will do (it reports the lost state as an error).
      target = this.leastLoaded(workers);
      if (target === null) return null;
    } else {
      target = workers.find((w) => w.id === pinned) ?? null;
      if (target === null) return null; // pinned worker not ready yet: stay queued, in order
    }
    if (opts?.last) this.unpin(id);
    return target;
  }

  workerGone(workerId: number): void {
    for (const [id, wid] of this.byHash) if (wid === workerId) this.byHash.set(id, -1);
    this.perWorker.delete(workerId);
  }

  clear(): void {
    this.byHash.clear();
    this.perWorker.clear();
  }
}
