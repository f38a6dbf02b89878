/**
 * One connection to one peer (issue 2 item 4; DESIGN.md §1 "connection actors — one per peer").
 *
 *   idle ──CONNECT──▶ connecting ──dial ok──▶ open ──CLOSE──▶ closing ──▶ closed (final)
 *                        │   ▲                 │
 *          dial failed,  │   │ backoff         │ CONNECTION_LOST, budget left
 *          budget left   ▼   │ elapsed         ▼
 *                       retrying ◀─────────────┘
 *                        │
 *   budget spent, or a non-retryable error (wrong peer identity, other transport) ─▶ failed (final)
 *
 * CLOSE in idle, connecting or retrying goes straight to `closed`.
 *
 * Side effects are named here and provided from src/ (src/connection.ts):
 *  - `dial` (promise actor): input `{ address, expectedNodeId, timeoutMs }`, resolves to an
 *    opaque connection handle, rejects with an OctopiiError-like `{ code, message }`;
 *  - `watchConnection` (callback actor): input `{ connection }`, sends `CONNECTION_LOST { error }`
 *    when the connection closes;
 *  - `closeConnection` (promise actor): input `{ connection }`.
 *
 * The retry budget counts consecutive failures since the connection was last open; the delay
 * before retry n is `backoffDelay(n, retry)` (./backoff.ts). Final states give the output
 * `{ status: 'closed' | 'failed', address, attempts, error }`; `failed` reads as an abnormal exit
 * to the node supervisor (machines/node.ts), which may restart the whole actor.
 */
import { assign, fromCallback, fromPromise, setup } from 'xstate';
import type { OctopiiErrorCode } from '../src/errors.js';
import { backoffDelay, type BackoffConfig } from './backoff.js';
import { toErrorInfo, type ErrorInfo } from '../src/errors.js';

/** Errors that a retry cannot fix. */
export const NON_RETRYABLE: ReadonlySet<OctopiiErrorCode | string> = new Set<OctopiiErrorCode>([
  'PEER_VERIFICATION_FAILED',
  'TRANSPORT_MISMATCH',
  'INVALID_ARGUMENT',
  'INVALID_IDENTITY',
  'CLOSED',
  'ABORTED',
]);

export interface RetryConfig extends BackoffConfig {
  /** Retries allowed after consecutive failures (Infinity allowed). Default 5. */
  maxRetries: number;
}

export interface ConnectionInput {
  /** `host:port` of the peer. */
  address: string;
  /** Refuse the peer unless it proves this node ID. */
  expectedNodeId?: string;
  /** Connect timeout of one dial in ms (default 5,000). */
  dialTimeoutMs?: number;
  retry?: Partial<RetryConfig>;
  /** Dial at once instead of waiting for CONNECT (default false). */
  connectOnStart?: boolean;
}

export interface DialInput {
  address: string;
  expectedNodeId: string | undefined;
  timeoutMs: number;
}

export interface ConnectionContext {
  address: string;
  expectedNodeId: string | undefined;
  dialTimeoutMs: number;
  retry: RetryConfig;
  connectOnStart: boolean;
  /** Opaque handle from `dial` while connected (a PeerConnection in src/connection.ts). */
  connection: unknown;
  /** Consecutive failures since the connection was last open. */
  attempts: number;
  /** Times the connection was established. */
  connects: number;
  lastError: ErrorInfo | null;
  /** Set when a final state is reached. */
  outcome: 'closed' | 'failed' | null;
}

export type ConnectionEvent =
  | { type: 'CONNECT' }
  | { type: 'CLOSE' }
  | { type: 'CONNECTION_LOST'; error?: ErrorInfo };

export interface ConnectionOutput {
  status: 'closed' | 'failed';
  address: string;
  attempts: number;
  connects: number;
  error: ErrorInfo | null;
}

export const DEFAULT_RETRY: Readonly<RetryConfig> = { maxRetries: 5, initialMs: 100, maxMs: 5_000, factor: 2 };

const notProvided = (name: string) => new Error(`connection machine: actor "${name}" was not provided`);

export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
    input: {} as ConnectionInput,
    output: {} as ConnectionOutput,
  },
  actors: {
    dial: fromPromise<unknown, DialInput>(async () => {
      throw notProvided('dial');
    }),
    watchConnection: fromCallback<ConnectionEvent, { connection: unknown }>(() => {
      throw notProvided('watchConnection');
    }),
    closeConnection: fromPromise<void, { connection: unknown }>(async () => {
      throw notProvided('closeConnection');
    }),
  },
  guards: {
    connectOnStart: ({ context }) => context.connectOnStart,
    isNonRetryable: ({ event }) => NON_RETRYABLE.has(toErrorInfo((event as { error?: unknown }).error).code),
    hasRetryBudget: ({ context }) => context.attempts < context.retry.maxRetries,
  },
  actions: {
    keepConnection: assign({
      connection: ({ event }) => (event as { output?: unknown }).output,
      attempts: 0,
      connects: ({ context }) => context.connects + 1,
    }),
    dropConnection: assign({ connection: null }),
    recordError: assign({
      lastError: ({ event }) => {
        const e = (event as { error?: unknown }).error;
        return e === undefined ? { code: 'CONNECTION_CLOSED', message: 'connection lost' } : toErrorInfo(e);
      },
    }),
    countFailure: assign({ attempts: ({ context }) => context.attempts + 1 }),
  },
  delays: {
    retryDelay: ({ context }) => backoffDelay(context.attempts, context.retry),
  },
}).createMachine({
  id: 'connection',
  context: ({ input }) => ({
    address: input.address,
    expectedNodeId: input.expectedNodeId,
    dialTimeoutMs: input.dialTimeoutMs ?? 5_000,
    retry: { ...DEFAULT_RETRY, ...input.retry },
    connectOnStart: input.connectOnStart ?? false,
    connection: null,
    attempts: 0,
    connects: 0,
    lastError: null,
    outcome: null,
  }),
  initial: 'idle',
  output: ({ context }): ConnectionOutput => ({
    status: context.outcome ?? 'closed',
    address: context.address,
    attempts: context.attempts,
    connects: context.connects,
    error: context.lastError,
  }),
  states: {
    idle: {
      always: { guard: 'connectOnStart', target: 'connecting' },
      on: { CONNECT: 'connecting', CLOSE: 'closed' },
    },
    connecting: {
      invoke: {
        id: 'dial',
        src: 'dial',
        input: ({ context }) => ({
          address: context.address,
          expectedNodeId: context.expectedNodeId,
          timeoutMs: context.dialTimeoutMs,
        }),
        onDone: { target: 'open', actions: 'keepConnection' },
        onError: [
          { guard: 'isNonRetryable', target: 'failed', actions: 'recordError' },
          { guard: 'hasRetryBudget', target: 'retrying', actions: ['recordError', 'countFailure'] },
          { target: 'failed', actions: ['recordError', 'countFailure'] },
        ],
      },
      on: { CLOSE: 'closed' },
    },
    open: {
      invoke: {
        id: 'watch',
        src: 'watchConnection',
        input: ({ context }) => ({ connection: context.connection }),
      },
      on: {
        CONNECTION_LOST: [
          { guard: 'hasRetryBudget', target: 'retrying', actions: ['recordError', 'dropConnection', 'countFailure'] },
          { target: 'failed', actions: ['recordError', 'dropConnection', 'countFailure'] },
        ],
        CLOSE: 'closing',
      },
    },
    retrying: {
      after: { retryDelay: 'connecting' },
      on: { CLOSE: 'closed' },
    },
    closing: {
      invoke: {
        id: 'close',
        src: 'closeConnection',
        input: ({ context }) => ({ connection: context.connection }),
        onDone: { target: 'closed', actions: 'dropConnection' },
        onError: { target: 'closed', actions: ['recordError', 'dropConnection'] },
      },
    },
    closed: { type: 'final', entry: assign({ outcome: 'closed' as const, connection: null }) },
    failed: { type: 'final', entry: assign({ outcome: 'failed' as const, connection: null }) },
  },
});

export type ConnectionMachine = typeof connectionMachine;
