/**
 * blobBatch — one batched fetch of many whole blobs from one provider on ONE `blobs` stream
 * (docs/PROTOCOL.md "Blobs", request version 2; iroh-blobs answers a collection's children on one
 * stream the same way). A collection of small files costs one stream and one machine per batch
 * rather than one of each per file. Every blob is verified against its own root exactly as a
 * single fetch verifies it; the batch does not retry: roots it could not land (an ERROR for one
 * root, a failed stream, a provider that refuses batches) are handed back for the per-blob fetch
 * (machines/blobFetch.ts), which has retries and several sources.
 *
 * The chart holds the phase, the per-blob outcomes and every deadline; events are per-blob phase
 * changes (a blob landed, a blob failed), never per buffer. Provided actor (src/blobs/batch.ts),
 * taking `input`, sharing nothing:
 *  - `session` (input { handles, roots }): opens a stream, sends the batch request, reads the
 *    provider's answer → ACCEPTED (BATCH frame) or REFUSED { error } (an ERROR first: a provider
 *    that predates batches), then per root BLOB_DONE { index, bytes, blocks } (verified and durable) or
 *    BLOB_FAILED { index, error } (that root's ERROR frame), WRITTEN (a block of a many-block blob
 *    written: the provider is alive), HIGH_WATER / LOW_WATER (blob writes in flight), THROTTLE
 *    { waitMs } (download limits; it reads nothing until UNTHROTTLE), END (every root answered and
 *    every write settled), FAILED { error } (stream failure, BLOCK_MISMATCH: the rest go back).
 *    It stops reading on PAUSE until RESUME; stopping it resets the stream.
 *
 *   requesting ─ACCEPTED─▶ streaming (flowing ⇄ paused, flowing ⇄ throttled) ─END─▶ complete
 *     │ REFUSED ─▶ refused      │ FAILED / ABORT / idle (no blob answered for idleMs) ─▶ failed
 *     │ FAILED / idle ─▶ failed
 *
 * Output: `{ status: 'complete' | 'failed' | 'refused', roots, done, failed, bytes, throttledMs,
 * error }` — `done`: indexes (into `roots`) of blobs landed; `failed`: roots the provider answered
 * with an ERROR; the others were never answered. `bytes`, `blocks`: of the blobs landed.
 */
import { assign, fromCallback, sendTo, setup, type EventObject } from 'xstate';
import type { ErrorInfo } from '../src/errors.js';

export type BlobBatchEvent =
  | { type: 'ACCEPTED' }
  | { type: 'REFUSED'; error: ErrorInfo }
  | { type: 'BLOB_DONE'; index: number; bytes: number; blocks: number }
  | { type: 'BLOB_FAILED'; index: number; error: ErrorInfo }
  | { type: 'WRITTEN' }
  | { type: 'HIGH_WATER' }
  | { type: 'LOW_WATER' }
  | { type: 'THROTTLE'; waitMs: number }
  | { type: 'END' }
  | { type: 'FAILED'; error: ErrorInfo }
  | { type: 'ABORT'; error: ErrorInfo };

export interface BlobBatchInput {
  /** Opaque I/O handles (store, stream opener), typed by src/blobs/batch.ts. */
  handles: unknown;
  /** Roots, hex, in the order they are asked for. */
  roots: string[];
  /** No answer (BATCH, a blob landed or failed, a block written) for this long fails the batch (TIMEOUT), ms (default 30,000). */
  idleMs?: number;
}

export interface BatchSessionInput {
  handles: unknown;
  roots: string[];
}

export interface BlobBatchContext {
  status: 'running' | 'complete' | 'failed' | 'refused';
  handles: unknown;
  roots: string[];
  idleMs: number;
  done: number[];
  failed: Array<{ index: number; error: ErrorInfo }>;
  bytes: number;
  blocks: number;
  /** The wait of the current throttle, ms; and all waits so far, ms. */
  waitMs: number;
  throttledMs: number;
  error: ErrorInfo | null;
}

export interface BlobBatchOutput {
  status: 'complete' | 'failed' | 'refused';
  roots: string[];
  /** Indexes into `roots` of the blobs landed (verified and durable), ascending. */
  done: number[];
  /** Roots the provider answered with an ERROR of their own. */
  failed: Array<{ index: number; error: ErrorInfo }>;
  /** Bytes and blocks of the blobs this batch landed. */
  bytes: number;
  blocks: number;
  /** Time spent waiting for the download limits, ms (the machine's clock). */
  throttledMs: number;
  error: ErrorInfo | null;
}

export const blobBatchMachine = setup({
  types: {
    context: {} as BlobBatchContext,
    events: {} as BlobBatchEvent,
    input: {} as BlobBatchInput,
    output: {} as BlobBatchOutput,
  },
  actors: {
    session: fromCallback<EventObject, BatchSessionInput>(() => undefined),
  },
  delays: {
    idle: ({ context }) => context.idleMs,
    throttle: ({ context }) => context.waitMs,
  },
  actions: {
    blobDone: assign({
      done: ({ context, event }) => (event.type === 'BLOB_DONE' ? [...context.done, event.index] : context.done),
      bytes: ({ context, event }) => context.bytes + (event.type === 'BLOB_DONE' ? event.bytes : 0),
      blocks: ({ context, event }) => context.blocks + (event.type === 'BLOB_DONE' ? event.blocks : 0),
    }),
    blobFailed: assign({ failed: ({ context, event }) => (event.type === 'BLOB_FAILED' ? [...context.failed, { index: event.index, error: event.error }] : context.failed) }),
    recordError: assign({ error: ({ event }) => (event.type === 'FAILED' || event.type === 'ABORT' || event.type === 'REFUSED' ? event.error : null) }),
    idleError: assign({ error: ({ context }) => ({ code: 'TIMEOUT' as const, message: `no answer from the provider for ${context.idleMs} ms` }) }),
    pauseSession: sendTo('session', { type: 'PAUSE' }),
    resumeSession: sendTo('session', { type: 'RESUME' }),
    unthrottleSession: sendTo('session', { type: 'UNTHROTTLE' }),
  },
}).createMachine({
  id: 'blobBatch',
  context: ({ input }) => ({
    status: 'running' as const,
    handles: input.handles,
    roots: input.roots,
    idleMs: input.idleMs ?? 30_000,
    done: [],
    failed: [],
    bytes: 0,
    blocks: 0,
    waitMs: 0,
    throttledMs: 0,
    error: null,
  }),
  initial: 'session',
  on: {
    ABORT: { target: '.failed', actions: 'recordError' },
  },
  states: {
    session: {
      invoke: {
        id: 'session',
        src: 'session',
        input: ({ context }) => ({ handles: context.handles, roots: context.roots }),
      },
      initial: 'requesting',
      on: {
        // A blob lands once its writes settle, which may be after the stream was paused or throttled.
        BLOB_DONE: { actions: 'blobDone' },
        BLOB_FAILED: { actions: 'blobFailed' },
        END: '#blobBatch.complete',
        FAILED: { target: '#blobBatch.failed', actions: 'recordError' },
      },
      states: {
        requesting: {
          on: {
            ACCEPTED: 'streaming',
            REFUSED: { target: '#blobBatch.refused', actions: 'recordError' },
          },
          after: { idle: { target: '#blobBatch.failed', actions: 'idleError' } },
        },
        streaming: {
          initial: 'flowing',
          states: {
            flowing: {
              on: {
                BLOB_DONE: { target: 'flowing', reenter: true, actions: 'blobDone' },
                BLOB_FAILED: { target: 'flowing', reenter: true, actions: 'blobFailed' },
                WRITTEN: { target: 'flowing', reenter: true },
                HIGH_WATER: 'paused',
                THROTTLE: { target: 'throttled', actions: assign({ waitMs: ({ event }) => event.waitMs }) },
              },
              after: { idle: { target: '#blobBatch.failed', actions: 'idleError' } },
            },
            /** Waiting for the download limits' tokens: the session reads nothing until UNTHROTTLE. */
            throttled: {
              after: {
                throttle: {
                  target: 'flowing',
                  actions: [assign({ throttledMs: ({ context }) => context.throttledMs + context.waitMs }), 'unthrottleSession'],
                },
              },
            },
            /** Blob writes in flight at the window: the session reads nothing until LOW_WATER. */
            paused: {
              entry: 'pauseSession',
              on: { LOW_WATER: { target: 'flowing', actions: 'resumeSession' } },
            },
          },
        },
      },
    },
    complete: { type: 'final', entry: assign({ status: 'complete' as const, error: null }) },
    failed: { type: 'final', entry: assign({ status: 'failed' as const }) },
    refused: { type: 'final', entry: assign({ status: 'refused' as const }) },
  },
  output: ({ context }) => ({
    status: context.status === 'running' ? 'failed' : context.status,
    roots: context.roots,
    done: [...context.done].sort((x, y) => x - y),
    failed: [...context.failed].sort((x, y) => x.index - y.index),
    bytes: context.bytes,
    blocks: context.blocks,
    throttledMs: context.throttledMs,
    error: context.error,
  }),
});
