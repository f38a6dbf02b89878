/**
 * blobFetch — one fetch of a blob by its root from one provider over a `blobs` stream
 * (Shipping Lane v2, docs/PROTOCOL.md "Blobs"; iroh-blobs' verified streaming is the model).
 *
 * The chart holds the phase, the attempt count, the progress, the provider's record and every
 * deadline; bytes never pass through events. Provided actors (src/blobs/fetch.ts) take `input`
 * and share nothing:
 *  - `loadMissing` (input { handles, root }): the block ranges the store still lacks, from its
 *                  verified-block map (no block is read) → done: ranges | null (nothing held)
 *  - `session`     (input { handles, root, missing }): opens a stream, asks for the missing
 *                  ranges, verifies each block against the root and writes it to the store
 *                  → HEADER { size, blocks }, WRITTEN (a block verified and written: the
 *                  provider is alive), BLOCK { index, bytes } (a block committed: durable,
 *                  progress), HIGH_WATER / LOW_WATER (block writes in flight: the fetch's
 *                  window), END, FAILED { error }. It stops reading when told PAUSE (entry of
 *                  `paused`) until RESUME; when the download limits (src/blobs/downloadLimits.ts)
 *                  say the next read must wait, THROTTLE { waitMs } (only while not paused) — and
 *                  it reads nothing until the chart answers UNTHROTTLE after that wait (its
 *                  clock); stopping it (exit of `session`) resets the stream.
 *
 *   resuming ─missing = []─▶ complete
 *     │ missing ranges
 *     ▼
 *   session: requesting ─HEADER─▶ streaming (flowing ⇄ paused) ─END─▶ verifying ─[]─▶ complete
 *     │ FAILED retryable, attempts left (BLOCK_MISMATCH: provider marked)    │ blocks missing
 *     ▼                                                                     ▼
 *   retrying ─backoff─▶ resuming                                          retrying
 *   FAILED otherwise, attempts or mismatches spent, ABORT ─▶ failed
 *
 *   streaming: paused ◀─HIGH_WATER / LOW_WATER─▶ flowing ─THROTTLE─▶ throttled ─after waitMs─▶ flowing
 *
 * Output: `{ status: 'complete' | 'failed', root, size, blocks, bytes, attempts, mismatches,
 * throttledMs, error }` — `bytes`/`blocks`: what this fetch verified and wrote (resumed blocks
 * excluded); `throttledMs`: time spent waiting for the download limits, ms.
 */
import { assign, fromCallback, fromPromise, sendTo, setup, type EventObject } from 'xstate';
import { isRetryable, type ErrorInfo } from '../src/errors.js';
import { backoffDelay, type BackoffConfig } from './backoff.js';

/** Block ranges `[start, end)`. */
export type BlockRanges = Array<[number, number]>;

export type BlobFetchEvent =
  | { type: 'HEADER'; size: number; blocks: number }
  | { type: 'BLOCK'; index: number; bytes: number }
  | { type: 'WRITTEN' }
  | { type: 'HIGH_WATER' }
  | { type: 'LOW_WATER' }
  | { type: 'THROTTLE'; waitMs: number }
  | { type: 'END' }
  | { type: 'FAILED'; error: ErrorInfo }
  | { type: 'ABORT'; error: ErrorInfo };

export interface BlobFetchInput {
  /** Opaque I/O handles (store, stream opener), typed by src/blobs/fetch.ts. */
  handles: unknown;
  /** Root, hex. */
  root: string;
  /** Attempts (sessions) before giving up (default 8). */
  maxAttempts?: number;
  /** BLOCK_MISMATCH failures tolerated from the provider before giving up (default 2). */
  maxMismatches?: number;
  /** Delay before retry n (default 200 ms doubling to 5,000 ms). */
  backoff?: BackoffConfig;
  /** No header or block for this long while flowing fails the session (TIMEOUT), ms (default 30,000). */
  idleMs?: number;
}

export interface BlobFetchContext {
  status: 'running' | 'complete' | 'failed';
  handles: unknown;
  root: string;
  maxAttempts: number;
  maxMismatches: number;
  backoff: BackoffConfig;
  idleMs: number;
  missing: BlockRanges | null;
  size: number | null;
  blocks: number;
  bytes: number;
  attempts: number;
  mismatches: number;
  /** The wait of the current throttle, ms; and all waits so far, ms. */
  waitMs: number;
  throttledMs: number;
  error: ErrorInfo | null;
}

export interface BlobFetchOutput {
  status: 'complete' | 'failed';
  root: string;
  size: number | null;
  blocks: number;
  bytes: number;
  attempts: number;
  mismatches: number;
  /** Time spent waiting for the download limits, ms (the machine's clock). */
  throttledMs: number;
  error: ErrorInfo | null;
}

export interface SessionInput {
  handles: unknown;
  root: string;
  missing: BlockRanges | null;
}

export const blobFetchMachine = setup({
  types: {
    context: {} as BlobFetchContext,
    events: {} as BlobFetchEvent,
    input: {} as BlobFetchInput,
    output: {} as BlobFetchOutput,
  },
  actors: {
    loadMissing: fromPromise<BlockRanges | null, { handles: unknown; root: string }>(async () => {
      throw new Error('blobFetch: provide loadMissing');
    }),
    session: fromCallback<EventObject, SessionInput>(() => undefined),
  },
  delays: {
    retryDelay: ({ context }) => backoffDelay(context.attempts, context.backoff),
    idle: ({ context }) => context.idleMs,
    throttle: ({ context }) => context.waitMs,
  },
  guards: {
    nothingMissing: (_, missing: BlockRanges | null) => missing !== null && missing.length === 0,
    mismatchWithinBudget: ({ context, event }) =>
      event.type === 'FAILED' && event.error.code === 'BLOCK_MISMATCH' && context.mismatches + 1 < context.maxMismatches && context.attempts < context.maxAttempts,
    canRetry: ({ context, event }) => event.type === 'FAILED' && event.error.code !== 'BLOCK_MISMATCH' && isRetryable(event.error.code) && context.attempts < context.maxAttempts,
  },
  actions: {
    recordMissing: assign({ missing: (_, missing: BlockRanges | null) => missing }),
    recordHeader: assign({ size: ({ event }) => (event.type === 'HEADER' ? event.size : null) }),
    countBlock: assign({
      blocks: ({ context, event }) => context.blocks + (event.type === 'BLOCK' ? 1 : 0),
      bytes: ({ context, event }) => context.bytes + (event.type === 'BLOCK' ? event.bytes : 0),
    }),
    recordError: assign({ error: ({ event }) => (event.type === 'FAILED' || event.type === 'ABORT' ? event.error : null) }),
    markProvider: assign({ mismatches: ({ context }) => context.mismatches + 1 }),
    countAttempt: assign({ attempts: ({ context }) => context.attempts + 1 }),
    idleError: assign({ error: ({ context }) => ({ code: 'TIMEOUT' as const, message: `no block from the provider for ${context.idleMs} ms` }) }),
    endedShort: assign({ error: () => ({ code: 'PROTOCOL_ERROR' as const, message: 'the provider ended the stream with blocks still missing' }) }),
    pauseSession: sendTo('session', { type: 'PAUSE' }),
    resumeSession: sendTo('session', { type: 'RESUME' }),
    unthrottleSession: sendTo('session', { type: 'UNTHROTTLE' }),
  },
}).createMachine({
  id: 'blobFetch',
  context: ({ input }) => ({
    status: 'running' as const,
    handles: input.handles,
    root: input.root,
    maxAttempts: input.maxAttempts ?? 8,
    maxMismatches: input.maxMismatches ?? 2,
    backoff: input.backoff ?? { initialMs: 200, maxMs: 5_000 },
    idleMs: input.idleMs ?? 30_000,
    missing: null,
    size: null,
    blocks: 0,
    bytes: 0,
    attempts: 0,
    mismatches: 0,
    waitMs: 0,
    throttledMs: 0,
    error: null,
  }),
  initial: 'resuming',
  on: {
    ABORT: { target: '.failed', actions: 'recordError' },
  },
  states: {
    resuming: {
      invoke: {
        src: 'loadMissing',
        input: ({ context }) => ({ handles: context.handles, root: context.root }),
        onDone: [
          { guard: { type: 'nothingMissing', params: ({ event }) => event.output }, target: 'complete' },
          { target: 'session', actions: { type: 'recordMissing', params: ({ event }) => event.output } },
        ],
        onError: { target: 'failed', actions: assign({ error: ({ event }) => ({ code: 'IO_ERROR' as const, message: String((event.error as Error)?.message ?? event.error) }) }) },
      },
    },
    session: {
      entry: 'countAttempt',
      invoke: {
        id: 'session',
        src: 'session',
        input: ({ context }) => ({ handles: context.handles, root: context.root, missing: context.missing }),
      },
      initial: 'requesting',
      on: {
        BLOCK: { actions: 'countBlock' },
        END: 'verifying',
        FAILED: [
          { guard: 'mismatchWithinBudget', target: 'retrying', actions: ['recordError', 'markProvider'] },
          { guard: 'canRetry', target: 'retrying', actions: 'recordError' },
          { target: 'failed', actions: ['recordError', assign({ mismatches: ({ context, event }) => context.mismatches + (event.error.code === 'BLOCK_MISMATCH' ? 1 : 0) })] },
        ],
      },
      states: {
        requesting: {
          on: { HEADER: { target: 'streaming', actions: 'recordHeader' } },
          after: { idle: { target: '#blobFetch.retrying', actions: 'idleError' } },
        },
        streaming: {
          initial: 'flowing',
          states: {
            flowing: {
              on: {
                BLOCK: { target: 'flowing', reenter: true, actions: 'countBlock' },
                // Blocks are committed (BLOCK) in groups; each one written restarts the idle deadline too.
                WRITTEN: { target: 'flowing', reenter: true },
                HIGH_WATER: 'paused',
                THROTTLE: { target: 'throttled', actions: assign({ waitMs: ({ event }) => event.waitMs }) },
              },
              after: { idle: { target: '#blobFetch.retrying', actions: 'idleError' } },
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
            paused: {
              entry: 'pauseSession',
              on: { LOW_WATER: { target: 'flowing', actions: 'resumeSession' } },
            },
          },
        },
      },
    },
    verifying: {
      invoke: {
        src: 'loadMissing',
        input: ({ context }) => ({ handles: context.handles, root: context.root }),
        onDone: [
          { guard: { type: 'nothingMissing', params: ({ event }) => event.output }, target: 'complete' },
          { target: 'retrying', actions: 'endedShort' },
        ],
        onError: { target: 'failed', actions: assign({ error: ({ event }) => ({ code: 'IO_ERROR' as const, message: String((event.error as Error)?.message ?? event.error) }) }) },
      },
    },
    retrying: {
      always: { guard: ({ context }) => context.attempts >= context.maxAttempts, target: 'failed' },
      after: { retryDelay: 'resuming' },
    },
    complete: { type: 'final', entry: assign({ status: 'complete' as const, error: null }) },
    failed: { type: 'final', entry: assign({ status: 'failed' as const }) },
  },
  output: ({ context }) => ({
    status: context.status === 'complete' ? 'complete' : 'failed',
    root: context.root,
    size: context.size,
    blocks: context.blocks,
    bytes: context.bytes,
    attempts: context.attempts,
    mismatches: context.mismatches,
    throttledMs: context.throttledMs,
    error: context.error,
  }),
});
