// SHA-256 worker for the piscina pool (src/hash/pool.ts). Plain JavaScript on purpose: worker
// threads load it directly under node, tsx and vitest alike, with no TypeScript loader.
//
// Incremental hashes keep their state here, in `states`, keyed by the hash id; the pool's
// load balancer pins every job of one id to this same worker, in order. State is freed on
// `digest` and `free`. A job for an id this worker does not know (and that is not the id's
// first job) fails: the state was lost (worker restarted) and the hash cannot be trusted.
//
// `impl: 'noble'` selects @noble/hashes instead of node:crypto; only bench/hash.ts uses it.
import { createHash } from 'node:crypto';

/** @type {Map<number, { update(d: Uint8Array): unknown; digest(): Uint8Array }>} */
const states = new Map();
// Loaded up front so that the job handler stays synchronous: piscina starts every queued
// message's handler in arrival order, and a handler that awaited before touching `states` could
// let the next job of the same hash run first.
const { sha256: nobleSha256 } = await import('@noble/hashes/sha2.js');

function newHash(impl) {
  if (impl === 'noble') {
    const h = nobleSha256.create();
    return { update: (d) => h.update(d), digest: () => h.digest() };
  }
  const h = createHash('sha256');
  return { update: (d) => h.update(d), digest: () => new Uint8Array(h.digest()) };
}

function stateFor(task) {
  let h = states.get(task.id);
  if (h === undefined) {
    if (!task.first) throw new Error(`sha256 worker: unknown hash state ${task.id} (worker restarted?)`);
    h = newHash(task.impl);
    states.set(task.id, h);
  }
  return h;
}

export default function sha256Job(task) {
  switch (task.op) {
    case 'update': {
      const h = stateFor(task);
      h.update(task.data);
      return null;
    }
    case 'digest': {
      const h = stateFor(task);
      states.delete(task.id);
      if (task.data) h.update(task.data);
      return h.digest();
    }
    case 'free':
      states.delete(task.id);
      return null;
    case 'oneshot': {
      const h = newHash(task.impl);
      h.update(task.data);
      return h.digest();
    }
    case 'stats':
      return states.size;
    default:
      throw new Error(`sha256 worker: unknown op ${task.op}`);
  }
}
