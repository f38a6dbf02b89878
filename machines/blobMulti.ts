/**
 * blobMulti — one blob fetched from several providers at once (iroh-blobs' downloader is the
 * model). The parent holds the queue of units (the missing blocks cut into runs of
 * `unitBlocks`) and every provider's record; it decides which unit goes to which provider,
 * when a provider is dropped, and when the fetch is complete or failed. One child machine per
 * provider (`blobMultiProvider`, spawned as `provider#<i>`) fetches one unit at a time and
 * reports UNIT_DONE / UNIT_FAILED; an idle provider gets the next unit at once, so a fast one
 * comes back for more sooner (work stealing) and units go by measured throughput.
 *
 * Provided actors (src/blobs/multi.ts), taking `input`, sharing nothing:
 *  - `loadMissing` (input { handles }): the block ranges the store still lacks → done:
 *                  ranges | null (nothing held: the size is unknown until one block proves it)
 *  - `fetchUnit`   (in the provider child; input { handles, index, unit }): fetches the blocks
 *                  of `unit` from provider `index` (a scoped blobFetch, with its own retries)
 *                  → done: { status, blocks, bytes, ms, error } (ms: the node's clock)
 *
 *   loading ─missing = []─▶ complete
 *     │ null (nothing held)          │ ranges
 *     ▼                              ▼
 *   probing ─UNIT_DONE─▶ loading    fetching ─queue empty, none in flight─▶ verifying ─[]─▶ complete
 *     │ every provider dropped        │ every provider dropped                │ blocks missing
 *     ▼                               ▼                                      ▼
 *   failed ◀──────────────────────────┴──────────────────────────────────────┘
 *
 *   probing:  block 0 alone, from the first provider not dropped (UNIT_FAILED drops it, next)
 *   fetching: UNIT_DONE → record, give that provider the next unit;
 *             UNIT_FAILED → record, drop the provider, put its unit back at the head of the
 *             queue (its verified blocks stay written: the next fetch of the unit asks only
 *             for what is still missing), give it to an idle provider
 *
 *   provider#<i>: idle ─UNIT─▶ fetching ─complete─▶ idle (UNIT_DONE)
 *                                 └─failed / error─▶ dropped (UNIT_FAILED)
 *
 * Output: `{ status: 'complete' | 'failed', providers: [{ peer, blocks, bytes, ms, bytesPerMs,
 * dropped }], error }` — error: the last provider's error (UNAVAILABLE when none reported one).
 */
import { assign, enqueueActions, fromPromise, sendParent, setup } from 'xstate';
import type { ErrorInfo } from '../src/errors.js';
import type { BlockRanges } from './blobFetch.js';

export type BlockUnit = [number, number];

/** `ranges` cut into units of at most `unit` blocks, in order. */
export function splitUnits(ranges: BlockRanges, unit: number): BlockRanges {
  const out: BlockRanges = [];
  for (const [s, e] of ranges) for (let a = s; a < e; a += unit) out.push([a, Math.min(e, a + unit)]);
  return out;
}

/** What `fetchUnit` resolves with: blocks and bytes it verified and wrote, time taken (ms). */
export interface UnitResult {
  status: 'complete' | 'failed';
  blocks: number;
  bytes: number;
  ms: number;
  error: ErrorInfo | null;
}

export interface FetchUnitInput {
  handles: unknown;
  /** Provider index. */
  index: number;
  unit: BlockUnit;
}

export type BlobMultiEvent =
  | ({ type: 'UNIT_DONE'; index: number; unit: BlockUnit } & Omit<UnitResult, 'status' | 'error'>)
  | ({ type: 'UNIT_FAILED'; index: number; unit: BlockUnit; error: ErrorInfo } & Omit<UnitResult, 'status' | 'error'>);

export interface ProviderRecord {
  /** `host:port` of the provider. */
  peer: string;
  /** Blocks it delivered (verified and written), their bytes, time spent on its units (ms). */
  blocks: number;
  bytes: number;
  ms: number;
  /** Why it was dropped, or null. */
  dropped: ErrorInfo | null;
  /** The unit it is fetching, or null when idle. */
  unit: BlockUnit | null;
}

export interface BlobMultiInput {
  /** Opaque I/O handles (node, peers, store, root), typed by src/blobs/multi.ts. */
  handles: unknown;
  /** The providers' addresses, in order (provider `i` is `provider#<i>`). */
  peers: string[];
  /** Blocks per unit (default 4). */
  unitBlocks?: number;
}

export interface BlobMultiContext {
  handles: unknown;
  unitBlocks: number;
  providers: ProviderRecord[];
  queue: BlockRanges;
  /** Units finished so far (done or failed). */
  units: number;
  error: ErrorInfo | null;
  status: 'running' | 'complete' | 'failed';
}

export interface ProviderReport {
  /** `host:port` of the provider. */
  peer: string;
  /** Blocks this provider delivered (verified and written), and their bytes. */
  blocks: number;
  bytes: number;
  /** Time spent fetching from it, ms (the node's clock). */
  ms: number;
  /** Measured throughput, bytes per ms (0 before any block). */
  bytesPerMs: number;
  /** Why it was dropped, or null. */
  dropped: ErrorInfo | null;
}

export interface BlobMultiOutput {
  status: 'complete' | 'failed';
  providers: ProviderReport[];
  error: ErrorInfo | null;
}

const asError = (e: unknown): ErrorInfo => {
  const o = e as { code?: unknown; message?: unknown } | null;
  return typeof o?.code === 'string' && typeof o.message === 'string' ? ({ code: o.code, message: o.message } as ErrorInfo) : { code: 'INTERNAL', message: String(e) };
};

export interface ProviderContext {
  handles: unknown;
  index: number;
  unit: BlockUnit | null;
}

/** One provider: fetches the units it is given, one at a time, and reports each to the parent. */
export const blobMultiProviderMachine = setup({
  types: {
    context: {} as ProviderContext,
    events: {} as { type: 'UNIT'; unit: BlockUnit },
    input: {} as { handles: unknown; index: number },
  },
  actors: {
    fetchUnit: fromPromise<UnitResult, FetchUnitInput>(async () => {
      throw new Error('blobMultiProvider: provide fetchUnit');
    }),
  },
  guards: {
    unitComplete: (_, r: UnitResult) => r.status === 'complete',
  },
}).createMachine({
  id: 'blobMultiProvider',
  context: ({ input }) => ({ handles: input.handles, index: input.index, unit: null }),
  initial: 'idle',
  states: {
    idle: {
      on: { UNIT: { target: 'fetching', actions: assign({ unit: ({ event }) => event.unit }) } },
    },
    fetching: {
      invoke: {
        src: 'fetchUnit',
        input: ({ context }) => ({ handles: context.handles, index: context.index, unit: context.unit! }),
        onDone: [
          {
            guard: { type: 'unitComplete', params: ({ event }) => event.output },
            target: 'idle',
            actions: sendParent(({ context, event }) => ({ type: 'UNIT_DONE', index: context.index, unit: context.unit!, blocks: event.output.blocks, bytes: event.output.bytes, ms: event.output.ms })),
          },
          {
            target: 'dropped',
            actions: sendParent(({ context, event }) => ({
              type: 'UNIT_FAILED',
              index: context.index,
              unit: context.unit!,
              blocks: event.output.blocks,
              bytes: event.output.bytes,
              ms: event.output.ms,
              error: event.output.error ?? { code: 'UNAVAILABLE', message: 'the unit failed' },
            })),
          },
        ],
        onError: {
          target: 'dropped',
          actions: sendParent(({ context, event }) => ({ type: 'UNIT_FAILED', index: context.index, unit: context.unit!, blocks: 0, bytes: 0, ms: 0, error: asError(event.error) })),
        },
      },
    },
    /** Not final: the parent decides; the provider stays visible until the fetch ends. */
    dropped: {},
  },
});

const addResult = (p: ProviderRecord, e: BlobMultiEvent): ProviderRecord => ({ ...p, blocks: p.blocks + e.blocks, bytes: p.bytes + e.bytes, ms: p.ms + e.ms, unit: null });

export const blobMultiMachine = setup({
  types: {
    context: {} as BlobMultiContext,
    events: {} as BlobMultiEvent,
    input: {} as BlobMultiInput,
    output: {} as BlobMultiOutput,
  },
  actors: {
    loadMissing: fromPromise<BlockRanges | null, { handles: unknown }>(async () => {
      throw new Error('blobMulti: provide loadMissing');
    }),
    provider: blobMultiProviderMachine,
  },
  guards: {
    nothingMissing: (_, missing: BlockRanges | null) => missing !== null && missing.length === 0,
    nothingHeld: (_, missing: BlockRanges | null) => missing === null,
    /** After the event's provider is dropped, another is left. */
    providerLeft: ({ context, event }) => context.providers.some((p, i) => i !== event.index && p.dropped === null),
    drained: ({ context }) => context.queue.length === 0 && context.providers.every((p) => p.unit === null),
    noProviderLeft: ({ context }) => context.providers.every((p) => p.dropped !== null),
  },
  actions: {
    spawnProviders: enqueueActions(({ context, enqueue }) => {
      context.providers.forEach((_, index) => enqueue.spawnChild('provider', { id: `provider#${index}`, input: { handles: context.handles, index } }));
    }),
    queueMissing: assign({ queue: ({ context }, missing: BlockRanges | null) => splitUnits(missing ?? [], context.unitBlocks) }),
    /** Block 0 alone to the first provider not dropped. */
    assignProbe: enqueueActions(({ context, enqueue }) => {
      const index = context.providers.findIndex((p) => p.dropped === null);
      if (index < 0) return;
      const unit: BlockUnit = [0, 1];
      enqueue.assign({ providers: context.providers.map((p, i) => (i === index ? { ...p, unit } : p)) });
      enqueue.sendTo(`provider#${index}`, { type: 'UNIT', unit });
    }),
    /** The head of the queue to every idle provider not dropped, in provider order. */
    dispatch: enqueueActions(({ context, enqueue }) => {
      const queue = [...context.queue];
      const providers = context.providers.map((p, index) => {
        if (p.dropped !== null || p.unit !== null || queue.length === 0) return p;
        const unit = queue.shift()!;
        enqueue.sendTo(`provider#${index}`, { type: 'UNIT', unit });
        return { ...p, unit };
      });
      enqueue.assign({ queue, providers });
    }),
    recordDone: assign({
      providers: ({ context, event }) => context.providers.map((p, i) => (i === event.index ? addResult(p, event) : p)),
      units: ({ context }) => context.units + 1,
    }),
    /** The provider is dropped with its error, which becomes the fetch's last error. */
    recordFailure: assign(({ context, event }) => {
      if (event.type !== 'UNIT_FAILED') return {};
      return {
        providers: context.providers.map((p, i) => (i === event.index ? { ...addResult(p, event), dropped: event.error } : p)),
        units: context.units + 1,
        error: event.error,
      };
    }),
    /** The failed unit back at the head of the queue (fetching only: a probe is not queued). */
    requeue: assign({ queue: ({ context, event }) => [event.unit, ...context.queue] }),
    ioError: assign({ error: ({ event }) => ({ code: 'IO_ERROR' as const, message: String(((event as { error?: unknown }).error as Error)?.message ?? (event as { error?: unknown }).error) }) }),
    noProviderError: assign({ error: ({ context }) => context.error ?? { code: 'UNAVAILABLE' as const, message: 'no provider left' } }),
  },
}).createMachine({
  id: 'blobMulti',
  context: ({ input }) => ({
    handles: input.handles,
    unitBlocks: Math.max(1, input.unitBlocks ?? 4),
    providers: input.peers.map((peer) => ({ peer, blocks: 0, bytes: 0, ms: 0, dropped: null, unit: null })),
    queue: [],
    units: 0,
    error: null,
    status: 'running' as const,
  }),
  entry: 'spawnProviders',
  initial: 'loading',
  states: {
    loading: {
      invoke: {
        src: 'loadMissing',
        input: ({ context }) => ({ handles: context.handles }),
        onDone: [
          { guard: { type: 'nothingMissing', params: ({ event }) => event.output }, target: 'complete' },
          { guard: { type: 'nothingHeld', params: ({ event }) => event.output }, target: 'probing' },
          { target: 'fetching', actions: { type: 'queueMissing', params: ({ event }) => event.output } },
        ],
        onError: { target: 'failed', actions: 'ioError' },
      },
    },
    probing: {
      entry: 'assignProbe',
      on: {
        UNIT_DONE: { target: 'loading', actions: 'recordDone' },
        UNIT_FAILED: [
          { guard: 'providerLeft', target: 'probing', reenter: true, actions: 'recordFailure' },
          { target: 'failed', actions: 'recordFailure' },
        ],
      },
    },
    fetching: {
      entry: 'dispatch',
      always: [
        { guard: 'drained', target: 'verifying' },
        { guard: 'noProviderLeft', target: 'failed' },
      ],
      on: {
        UNIT_DONE: { actions: ['recordDone', 'dispatch'] },
        UNIT_FAILED: { actions: ['recordFailure', 'requeue', 'dispatch'] },
      },
    },
    verifying: {
      invoke: {
        src: 'loadMissing',
        input: ({ context }) => ({ handles: context.handles }),
        onDone: [
          { guard: { type: 'nothingMissing', params: ({ event }) => event.output }, target: 'complete' },
          { target: 'failed' },
        ],
        onError: { target: 'failed', actions: 'ioError' },
      },
    },
    complete: { type: 'final', entry: assign({ status: 'complete' as const, error: null }) },
    failed: { type: 'final', entry: ['noProviderError', assign({ status: 'failed' as const })] },
  },
  output: ({ context }) => ({
    status: context.status === 'complete' ? 'complete' : 'failed',
    providers: context.providers.map((p) => ({ peer: p.peer, blocks: p.blocks, bytes: p.bytes, ms: p.ms, bytesPerMs: p.ms > 0 ? p.bytes / p.ms : 0, dropped: p.dropped })),
    error: context.error,
  }),
});
