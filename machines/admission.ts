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
import { assign, enqueueActions, setup } from 'xstate';

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
    belowLimit: ({ context }) => context.inFlight < context.limit,
    queueHasRoom: ({ context }) => context.queue.length < context.queueLimit,
    hasQueued: ({ context }) => context.queue.length > 0,
    atLimit: ({ context }) => context.inFlight >= context.limit,
  },
  actions: {
    admit: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'ACQUIRE') return;
      enqueue.assign({ inFlight: context.inFlight + 1, admitted: context.admitted + 1 });
      enqueue.emit({ type: 'admit', ticket: event.ticket });
    }),
    enqueueTicket: assign({ queue: ({ context, event }) => (event.type === 'ACQUIRE' ? [...context.queue, event.ticket] : context.queue) }),
    reject: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'ACQUIRE') return;
      enqueue.assign({ rejected: context.rejected + 1 });
      enqueue.emit({ type: 'reject', ticket: event.ticket });
    }),
    /** RELEASE: a slot frees; the head of the queue takes it. */
    release: enqueueActions(({ context, enqueue }) => {
      const [head, ...rest] = context.queue;
      if (head !== undefined) {
        enqueue.assign({ queue: rest, admitted: context.admitted + 1 });
        enqueue.emit({ type: 'admit', ticket: head });
      } else enqueue.assign({ inFlight: Math.max(0, context.inFlight - 1) });
    }),
    withdraw: assign({ queue: ({ context, event }) => (event.type === 'WITHDRAW' ? context.queue.filter((t) => t !== event.ticket) : context.queue) }),
  },
}).createMachine({
  id: 'admission',
  context: ({ input }) => ({ ...input, limit: Math.max(1, input.limit), queueLimit: Math.max(0, input.queueLimit), inFlight: 0, queue: [], admitted: 0, rejected: 0 }),
  initial: 'open',
  on: { WITHDRAW: { actions: 'withdraw' } },
  states: {
    open: {
      always: { guard: 'atLimit', target: 'saturated' },
      on: {
        ACQUIRE: { actions: 'admit' },
        RELEASE: { actions: 'release' },
      },
    },
    saturated: {
      on: {
        ACQUIRE: [{ guard: 'queueHasRoom', actions: 'enqueueTicket' }, { actions: 'reject' }],
        RELEASE: [{ guard: 'hasQueued', actions: 'release' }, { target: 'open', actions: 'release' }],
      },
    },
  },
});
