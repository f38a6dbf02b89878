/**
 * blobProvide — the provider side of one `blobs` stream (Shipping Lane v2, docs/PROTOCOL.md
 * "Blobs"): read the request, look the blob up, stream every requested block with its proof,
 * end. The chart holds the phase, the progress and the deadlines — a fetcher that sends no
 * request, or stops reading, cannot hold a stream (and its file handle) forever.
 *
 * Provided actors (src/blobs/provide.ts), taking `input`, sharing nothing:
 *  - `readRequest` (input { handles }) → done: { root, ranges, size } (the blob's size from the
 *                  store), or { roots } for a batch (request version 2: many whole blobs on
 *                  this stream) | error (PROTOCOL_ERROR, BLOB_NOT_FOUND, RANGE_NOT_SATISFIABLE …)
 *  - `pump`        (input { handles, request }): HEADER, then BLOCK frames, then END (a batch:
 *                  BATCH, then that per root, or an ERROR frame for a root the store lacks) → SENT
 *                  { index, bytes } per block, DONE, FAILED { error }; when the upload limits
 *                  (src/blobs/uploadLimits.ts) say a block must wait, THROTTLE { waitMs } — and
 *                  it sends nothing until the chart answers RESUME after that wait (its clock)
 *  - `refuse`      (input { handles, error }): ERROR frame, then close → done
 * Action `abortStream` resets the stream when even the ERROR frame cannot be delivered (write
 * failed, or the fetcher does not read it within `idleMs`).
 *
 *   reading ─request─▶ streaming ─DONE─▶ done
 *     │ error / idle    │ FAILED / idle (no block written for idleMs)
 *     ▼                 ▼
 *   refusing ─────────▶ failed
 *
 *   streaming = sending ─THROTTLE─▶ throttled ─after waitMs / RESUME to pump─▶ sending
 *
 * Output: `{ status: 'done' | 'failed', blocks, bytes, throttledMs, error }` (throttledMs: time
 * spent waiting for the upload limits, ms).
 */
import { assign, fromCallback, fromPromise, sendTo, setup, type EventObject } from 'xstate';
import type { ErrorInfo } from '../src/errors.js';

export interface ProvideRequest {
  /** Root, hex. */
  root: string;
  ranges: Array<[number, number]>;
  size: number;
  /** The blob's block size, bytes (default 1 MiB). */
  blockBytes?: number;
  /** Codecs the fetcher accepts (wire ids, src/wire/blobs.ts CODEC); empty = blocks as they are. */
  codecs?: number[];
  /**
   * A batch (roots, hex): every one of them whole, in order, on this stream (`root` is the first,
   * `ranges` and `size` unused). Each root's blocks are SENT like a single blob's; a root the
   * store lacks is answered alone by the pump and does not end the stream.
   */
  roots?: string[];
}

export type BlobProvideEvent =
  | { type: 'SENT'; index: number; bytes: number }
  | { type: 'THROTTLE'; waitMs: number }
  | { type: 'DONE' }
  | { type: 'FAILED'; error: ErrorInfo };

export interface BlobProvideInput {
  /** Opaque I/O handles (stream, store), typed by src/blobs/provide.ts. */
  handles: unknown;
  /** Deadline for the request, and for each block write, ms (default 30,000). */
  idleMs?: number;
}

export interface BlobProvideContext {
  handles: unknown;
  idleMs: number;
  request: ProvideRequest | null;
  blocks: number;
  bytes: number;
  /** The wait of the current throttle, ms; and all waits so far, ms. */
  waitMs: number;
  throttledMs: number;
  error: ErrorInfo | null;
  status: 'running' | 'done' | 'failed';
}

export interface BlobProvideOutput {
  status: 'done' | 'failed';
  blocks: number;
  bytes: number;
  throttledMs: number;
  error: ErrorInfo | null;
}

const asError = (e: unknown): ErrorInfo => {
  const o = e as { code?: unknown; message?: unknown } | null;
  return typeof o?.code === 'string' && typeof o.message === 'string' ? ({ code: o.code, message: o.message } as ErrorInfo) : { code: 'INTERNAL', message: String(e) };
};

export const blobProvideMachine = setup({
  types: {
    context: {} as BlobProvideContext,
    events: {} as BlobProvideEvent,
    input: {} as BlobProvideInput,
    output: {} as BlobProvideOutput,
  },
  actors: {
    readRequest: fromPromise<ProvideRequest, { handles: unknown }>(async () => {
      throw new Error('blobProvide: provide readRequest');
    }),
    pump: fromCallback<EventObject, { handles: unknown; request: ProvideRequest }>(() => undefined),
    refuse: fromPromise<void, { handles: unknown; error: ErrorInfo }>(async () => undefined),
  },
  delays: {
    idle: ({ context }) => context.idleMs,
    throttle: ({ context }) => context.waitMs,
  },
  actions: {
    countBlock: assign({
      blocks: ({ context }) => context.blocks + 1,
      bytes: ({ context, event }) => context.bytes + (event.type === 'SENT' ? event.bytes : 0),
    }),
    /** Resets the stream (provided: src/blobs/provide.ts). */
    abortStream: () => undefined,
    idleError: assign({ error: ({ context }) => ({ code: 'TIMEOUT' as const, message: `the fetcher did not read for ${context.idleMs} ms` }) }),
  },
}).createMachine({
  id: 'blobProvide',
  context: ({ input }) => ({ handles: input.handles, idleMs: input.idleMs ?? 30_000, request: null, blocks: 0, bytes: 0, waitMs: 0, throttledMs: 0, error: null, status: 'running' as const }),
  initial: 'reading',
  states: {
    reading: {
      invoke: {
        src: 'readRequest',
        input: ({ context }) => ({ handles: context.handles }),
        onDone: { target: 'streaming', actions: assign({ request: ({ event }) => event.output }) },
        onError: { target: 'refusing', actions: assign({ error: ({ event }) => asError(event.error) }) },
      },
      after: { idle: { target: 'refusing', actions: 'idleError' } },
    },
    streaming: {
      invoke: {
        id: 'pump',
        src: 'pump',
        input: ({ context }) => ({ handles: context.handles, request: context.request! }),
      },
      on: {
        DONE: 'done',
        FAILED: { target: 'refusing', actions: assign({ error: ({ event }) => event.error }) },
      },
      initial: 'sending',
      states: {
        sending: {
          on: {
            SENT: { target: 'sending', reenter: true, actions: 'countBlock' },
            THROTTLE: { target: 'throttled', actions: assign({ waitMs: ({ event }) => event.waitMs }) },
          },
          after: { idle: { target: '#blobProvide.refusing', actions: 'idleError' } },
        },
        /** Waiting for the upload limits' tokens: the pump holds its next block until RESUME. */
        throttled: {
          after: {
            throttle: {
              target: 'sending',
              actions: [assign({ throttledMs: ({ context }) => context.throttledMs + context.waitMs }), sendTo('pump', { type: 'RESUME' })],
            },
          },
        },
      },
    },
    refusing: {
      invoke: {
        src: 'refuse',
        input: ({ context }) => ({ handles: context.handles, error: context.error! }),
        onDone: 'failed',
        onError: { target: 'failed', actions: 'abortStream' },
      },
      after: { idle: { target: 'failed', actions: 'abortStream' } },
    },
    done: { type: 'final', entry: assign({ status: 'done' as const }) },
    failed: { type: 'final', entry: assign({ status: 'failed' as const }) },
  },
  output: ({ context }) => ({ status: context.status === 'done' ? 'done' : 'failed', blocks: context.blocks, bytes: context.bytes, throttledMs: context.throttledMs, error: context.error }),
});
