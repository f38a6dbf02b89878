/**
 * admission — a bulkhead per peer (Hystrix/resilience4j "bulkhead"; gRPC's max concurrent
 * streams): at most `limit` calls in flight; past it the admission is `saturated` and further
 * calls wait in a bounded FIFO queue (`queueLimit`, 0 = none) or are refused at once (the caller
 * fails them with RESOURCE_EXHAUSTED). Used on both sides: the client admits its outgoing calls
 * per peer, the server the calls each peer makes to it.
 *
 * State chart:
 *
 *   open ──ACQUIRE (inFlight+1 = limit)──▶ saturated
 *    ▲                                        │ ACQUIRE: queue it (queue not full) or reject
 *    └──RELEASE (queue empty, below limit)────┘ RELEASE: admit the head of the queue
 *
 * Events: `ACQUIRE { ticket }`, `RELEASE`, `WITHDRAW { ticket }` (a queued caller gave up).
 * Emitted: `admit { ticket }`, `reject { ticket }` — a ticket is answered exactly once
 * (withdrawn tickets never).
 */
import { assign, emit, enqueueActions, setup } from 'xstate';

export interface AdmissionInput {
  /** Calls in flight at most (≥ 1). */
  limit: number;
  /** Calls waiting at most (≥ 0). */
  queueLimit: number;
}
export interface AdmissionContext extends AdmissionInput {
  inFlight: number;
  queue: number[];
  admitted: number;
  rejected: number;
}
export type AdmissionEvent = { type: 'ACQUIRE'; ticket: number } | { type: 'RELEASE' } | { type: 'WITHDRAW'; ticket: number };
export type AdmissionEmitted = { type: 'admit'; ticket: number } | { type: 'reject'; ticket: number };

export const admissionMachine = setup({
  types: {
    input: {} as AdmissionInput,
    context: {} as AdmissionContext,
    events: {} as AdmissionEvent,
    emitted: {} as AdmissionEmitted,
  },
  guards: {
    /** This ACQUIRE takes the last free slot. */
    lastSlot: ({ context }) => context.inFlight + 1 >= context.limit,
    queueHasRoom: ({ context }) => context.queue.length < context.queueLimit,
    hasQueued: ({ context }) => context.queue.length > 0,
  },
  actions: {
    admit: assign(({ context }) => ({ inFlight: context.inFlight + 1, admitted: context.admitted + 1 })),
    emitAdmit: emit(({ event }) => ({ type: 'admit' as const, ticket: (event as { ticket: number }).ticket })),
    enqueueTicket: assign({ queue: ({ context, event }) => (event.type === 'ACQUIRE' ? [...context.queue, event.ticket] : context.queue) }),
    reject: assign(({ context }) => ({ rejected: context.rejected + 1 })),
    emitReject: emit(({ event }) => ({ type: 'reject' as const, ticket: (event as { ticket: number }).ticket })),
    /** RELEASE with nobody queued: a slot frees. */
    free: assign(({ context }) => ({ inFlight: Math.max(0, context.inFlight - 1) })),
    /** RELEASE with callers queued: the head of the queue takes the slot. */
    admitHead: enqueueActions(({ context, enqueue }) => {
      const [head, ...rest] = context.queue;
      enqueue.assign({ queue: rest, admitted: context.admitted + 1 });
      enqueue.emit({ type: 'admit', ticket: head! });
    }),
    withdraw: assign({ queue: ({ context, event }) => (event.type === 'WITHDRAW' ? context.queue.filter((t) => t !== event.ticket) : context.queue) }),
  },
}).createMachine({
  id: 'admission',
  context: ({ input }) => ({ ...input, limit: Math.max(1, input.limit), queueLimit: Math.max(0, input.queueLimit), inFlight: 0, queue: [], admitted: 0, rejected: 0 }),
  initial: 'open',
  on: { WITHDRAW: { actions: 'withdraw' } },
  states: {
    // Guarded transitions, no eventless `always`: XState evaluates eventless transitions after
    // every microstep, which doubled the cost of an ACQUIRE + RELEASE (bench/rpc-machine-cost.ts).
    open: {
      on: {
        ACQUIRE: [
          { guard: 'lastSlot', target: 'saturated', actions: ['admit', 'emitAdmit'] },
          { actions: ['admit', 'emitAdmit'] },
        ],
        // Open means nobody is queued.
        RELEASE: { actions: 'free' },
      },
    },
    saturated: {
      on: {
        ACQUIRE: [{ guard: 'queueHasRoom', actions: 'enqueueTicket' }, { actions: ['reject', 'emitReject'] }],
        RELEASE: [{ guard: 'hasQueued', actions: 'admitHead' }, { target: 'open', actions: 'free' }],
      },
    },
  },
});
