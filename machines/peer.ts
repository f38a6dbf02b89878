/**
 * peer — one remote node, as the node sees it (DESIGN.md §1 "peer actors — one per remote node
 * ID"): it owns zero or one connection (a *link*: the connection, its control channel and the
 * peer's hello), dials when asked, adopts inbound connections, resolves a simultaneous open
 * deterministically, reconnects with backoff and a budget, and decides when a silent peer is
 * dead (keep-alive pings on the link's control channel, answered by pongs).
 *
 * State chart:
 *
 *   idle ──DIAL──▶ connecting ──dial ok──────────────▶ connected ──CLOSE──▶ closing ──▶ stopped
 *    ▲  ◀─────────── │ budget spent / not retryable       │  alive ──keepAliveMs──▶ probing
 *    │               │ failure, budget left               │    ▲ PONG                │ no PONG in deadAfterMs
 *    │               ▼                                    │    └──────────────────────┤
 *    │            backoff ──retryDelay──▶ connecting      │ LINK_LOST                 ▼
 *    └──────────── lost ◀─────────────────────────────────┴─────────────────────── lost
 *                   └── reconnect (an address to dial) ──▶ backoff
 *
 *  - ADOPT (an inbound connection whose hello is done) is taken in idle, backoff and
 *    connecting; in `connecting` it is taken at once when the peer's dial wins the
 *    simultaneous-open rule, else kept as a spare until our own dial settles.
 *  - Simultaneous open: when both nodes dial each other, both keep the connection dialled by
 *    the node with the smaller node ID (string order) and close the other; a new connection
 *    from the same dialler replaces the old one (the peer restarted).
 *  - A link without a control channel (the seed's Shipping Lane v1 ALPN) is never pinged:
 *    only the transport's idle timeout (LINK_LOST) ends it.
 *
 * Provided from src/ (src/node/peerLogic.ts): `dial` (promise: input {@link DialInput} → a
 * {@link PeerLink}; rejects with an ErrorInfo-like error), `watch` (callback: input
 * `{ link }`, takes `PING { n }`, sends `PONG { n }` and `LINK_LOST { error }`), `close`
 * (promise: input `{ link }`), and the action `closeLink` (params `{ link }`, fire and forget).
 *
 * Emitted (actor.on): `peer.up { link }`, `peer.lost { error }` (the node fails work on the
 * lost link with UNAVAILABLE at once), `peer.unreachable { error }` (a dial gave up).
 *
 * Ideas: OTP-style supervised connection owners; libp2p's simultaneous-open tie-break by peer
 * ID; keep-alive with a dead-peer deadline as in gRPC keepalive (`GRPC_ARG_KEEPALIVE_TIMEOUT_MS`).
 */
import { assign, emit, fromCallback, fromPromise, not, sendTo, setup, type EventObject } from 'xstate';
import { isErrorCode, isRetryable, toErrorInfo, type ErrorInfo } from '../src/errors.js';
import { backoffDelay, type BackoffConfig } from './backoff.js';

/** An established connection to the peer, as the node hands it over (opaque to the machine but for these fields). */
export interface PeerLink {
  /** The transport connection (opaque here). */
  connection: unknown;
  /** Control channel (octopii protocol), or null on a Shipping Lane v1 link. */
  control: unknown;
  /** True when this node dialled it. */
  dialled: boolean;
  /** The peer's node ID as proved on this link (null: v1 peer without identity). */
  remoteNodeId: string | null;
  /** Stream kinds the peer serves (from its hello; `['lane']` on a v1 link). */
  kinds: readonly string[];
}

export interface PeerRetry extends BackoffConfig {
  /** Consecutive failed dials allowed before the peer gives up (goes idle). */
  maxRetries: number;
}

export interface PeerInput {
  /** The peer's node ID, when known (required to verify it). */
  nodeId: string | null;
  /** `host:port` to dial, or null for a peer known only from its inbound connection. */
  address: string | null;
  /** This node's ID (the simultaneous-open rule compares it with the peer's). */
  localNodeId: string;
  /** `octopii` (hello, kinds, keep-alive) or `lane-v1` (the seed's ALPN). Default `octopii`. */
  protocol?: 'octopii' | 'lane-v1';
  /** Deadline of one dial including the hello, ms (default 5,000). */
  dialTimeoutMs?: number;
  /** Idle time on a link before a ping, ms (default 1,000). */
  keepAliveMs?: number;
  /** A ping unanswered this long means the peer is dead, ms (default 2,500). */
  deadAfterMs?: number;
  retry?: Partial<PeerRetry>;
  /** Redial after a lost link (default: true when `address` is known). */
  reconnect?: boolean;
}

export interface DialInput {
  address: string;
  nodeId: string | null;
  protocol: 'octopii' | 'lane-v1';
  timeoutMs: number;
}

export interface PeerContext {
  nodeId: string | null;
  address: string | null;
  localNodeId: string;
  protocol: 'octopii' | 'lane-v1';
  dialTimeoutMs: number;
  keepAliveMs: number;
  deadAfterMs: number;
  retry: PeerRetry;
  reconnect: boolean;
  link: PeerLink | null;
  /** An inbound link held while our own dial (which wins the tie-break) settles. */
  spare: PeerLink | null;
  /** Consecutive failures since the last established link. */
  attempts: number;
  /** Links established so far (dialled or adopted). */
  connects: number;
  /** Links lost so far. */
  losses: number;
  /** Sequence number of the last ping. */
  pingSeq: number;
  lastError: ErrorInfo | null;
}

export type PeerEvent =
  /** Connect (if not connected); `address` updates where to dial. */
  | { type: 'DIAL'; address?: string }
  | { type: 'ADOPT'; link: PeerLink }
  | { type: 'PONG'; n: number }
  | { type: 'LINK_LOST'; error?: ErrorInfo; connection?: unknown }
  | { type: 'CLOSE' };

export type PeerEmitted =
  | { type: 'peer.up'; link: PeerLink }
  | { type: 'peer.lost'; error: ErrorInfo }
  | { type: 'peer.unreachable'; error: ErrorInfo };

export const DEFAULT_PEER_RETRY: Readonly<PeerRetry> = { maxRetries: 3, initialMs: 200, maxMs: 5_000, factor: 2 };

const notProvided = (name: string) => new Error(`peer machine: "${name}" was not provided`);

/** The dialler's node ID of a link (this node's when it dialled). */
const diallerOf = (link: PeerLink, ctx: PeerContext): string => (link.dialled ? ctx.localNodeId : (link.remoteNodeId ?? ctx.nodeId ?? ''));

/** Simultaneous-open rule: does `offered` replace `held`? */
export function prefersLink(offered: PeerLink, held: PeerLink, ctx: PeerContext): boolean {
  const a = diallerOf(offered, ctx);
  const b = diallerOf(held, ctx);
  if (a === b) return true; // same dialler: the newer connection (the old one is stale)
  return a < b;
}

export const peerMachine = setup({
  types: {
    context: {} as PeerContext,
    events: {} as PeerEvent,
    input: {} as PeerInput,
    emitted: {} as PeerEmitted,
  },
  actors: {
    dial: fromPromise<PeerLink, DialInput>(async () => {
      throw notProvided('dial');
    }),
    watch: fromCallback<EventObject, { link: PeerLink }>(() => {
      throw notProvided('watch');
    }),
    close: fromPromise<void, { link: PeerLink }>(async () => {
      throw notProvided('close');
    }),
  },
  guards: {
    canDial: ({ context, event }) => (event.type === 'DIAL' && event.address !== undefined) || context.address !== null,
    hasControl: ({ context }) => context.link?.control != null,
    hasSpare: ({ context }) => context.spare !== null,
    dialFailureRetryable: ({ context, event }) => {
      const code = toErrorInfo((event as { error?: unknown }).error).code;
      return isRetryable(code) && context.attempts + 1 <= context.retry.maxRetries;
    },
    /** In `connecting`: the offered inbound link beats our own dial (its dialler has the smaller ID). */
    offeredWinsDial: ({ context, event }) => {
      if (event.type !== 'ADOPT') return false;
      return diallerOf(event.link, context) < context.localNodeId;
    },
    offeredReplacesLink: ({ context, event }) =>
      event.type === 'ADOPT' && context.link !== null && prefersLink(event.link, context.link, context),
    isCurrentLink: ({ context, event }) =>
      event.type === 'LINK_LOST' && (event.connection === undefined || event.connection === context.link?.connection),
    shouldReconnect: ({ context }) => context.reconnect && context.address !== null && context.attempts < context.retry.maxRetries,
  },
  actions: {
    /** Closes a link that is not (or no longer) ours; provided by src/ (I/O). */
    closeLink: (_, _params: { link: PeerLink | null }) => {
      throw notProvided('closeLink');
    },
    resetAttempts: assign({ attempts: 0, lastError: null }),
    takeAddress: assign({
      address: ({ context, event }) => (event.type === 'DIAL' && event.address !== undefined ? event.address : context.address),
    }),
    takeDialledLink: assign(({ context, event }) => ({
      link: (event as unknown as { output: PeerLink }).output,
      attempts: 0,
      connects: context.connects + 1,
      lastError: null,
    })),
    takeOfferedLink: assign(({ context, event }) =>
      event.type === 'ADOPT' ? { link: event.link, attempts: 0, connects: context.connects + 1, lastError: null } : {},
    ),
    takeSpare: assign(({ context }) => ({ link: context.spare, spare: null, attempts: 0, connects: context.connects + 1 })),
    keepSpare: assign(({ event }) => (event.type === 'ADOPT' ? { spare: event.link } : {})),
    dropSpare: assign({ spare: null }),
    recordDialError: assign(({ context, event }) => ({
      lastError: toErrorInfo((event as { error?: unknown }).error),
      attempts: context.attempts + 1,
    })),
    recordLoss: assign(({ context, event }) => {
      const error: ErrorInfo =
        event.type === 'LINK_LOST'
          ? (event.error ?? { code: 'CONNECTION_CLOSED', message: 'connection closed' })
          : { code: 'UNAVAILABLE', message: `peer answered no keep-alive ping within ${context.deadAfterMs} ms` };
      return { lastError: error, losses: context.losses + 1 };
    }),
    forgetLink: assign({ link: null }),
    nextPing: assign({ pingSeq: ({ context }) => (context.pingSeq + 1) >>> 0 }),
    sendPing: sendTo('watch', ({ context }) => ({ type: 'PING', n: context.pingSeq })),
    emitUp: emit(({ context }) => ({ type: 'peer.up' as const, link: context.link! })),
    emitLost: emit(({ context }) => ({
      type: 'peer.lost' as const,
      error: { code: 'UNAVAILABLE' as const, message: `peer ${context.nodeId ?? context.address} is unavailable: ${context.lastError?.message ?? 'link lost'}` },
    })),
    emitUnreachable: emit(({ context }) => ({
      type: 'peer.unreachable' as const,
      error: context.lastError ?? { code: 'UNAVAILABLE' as const, message: 'peer unreachable' },
    })),
  },
  delays: {
    retryDelay: ({ context }) => backoffDelay(context.attempts, context.retry),
    keepAlive: ({ context }) => context.keepAliveMs,
    deadAfter: ({ context }) => context.deadAfterMs,
  },
}).createMachine({
  id: 'peer',
  context: ({ input }) => ({
    nodeId: input.nodeId,
    address: input.address,
    localNodeId: input.localNodeId,
    protocol: input.protocol ?? 'octopii',
    dialTimeoutMs: input.dialTimeoutMs ?? 5_000,
    keepAliveMs: input.keepAliveMs ?? 1_000,
    deadAfterMs: input.deadAfterMs ?? 2_500,
    retry: { ...DEFAULT_PEER_RETRY, ...input.retry },
    reconnect: input.reconnect ?? input.address !== null,
    link: null,
    spare: null,
    attempts: 0,
    connects: 0,
    losses: 0,
    pingSeq: 0,
    lastError: null,
  }),
  initial: 'idle',
  on: {
    CLOSE: '.closing',
  },
  states: {
    idle: {
      on: {
        DIAL: { guard: 'canDial', target: 'connecting', actions: ['takeAddress', 'resetAttempts'] },
        ADOPT: { target: 'connected', actions: 'takeOfferedLink' },
      },
    },
    connecting: {
      invoke: {
        id: 'dial',
        src: 'dial',
        input: ({ context }) => ({
          address: context.address!,
          nodeId: context.nodeId,
          protocol: context.protocol,
          timeoutMs: context.dialTimeoutMs,
        }),
        onDone: {
          target: 'connected',
          actions: [{ type: 'closeLink', params: ({ context }) => ({ link: context.spare }) }, 'dropSpare', 'takeDialledLink'],
        },
        onError: [
          { guard: 'hasSpare', target: 'connected', actions: ['recordDialError', 'takeSpare'] },
          { guard: 'dialFailureRetryable', target: 'backoff', actions: 'recordDialError' },
          { target: 'idle', actions: ['recordDialError', 'emitUnreachable'] },
        ],
      },
      on: {
        ADOPT: [
          {
            guard: 'offeredWinsDial',
            target: 'connected',
            actions: [{ type: 'closeLink', params: ({ context }) => ({ link: context.spare }) }, 'dropSpare', 'takeOfferedLink'],
          },
          { actions: [{ type: 'closeLink', params: ({ context }) => ({ link: context.spare }) }, 'keepSpare'] },
        ],
      },
    },
    backoff: {
      after: { retryDelay: 'connecting' },
      on: {
        ADOPT: { target: 'connected', actions: 'takeOfferedLink' },
      },
    },
    connected: {
      entry: 'emitUp',
      invoke: { id: 'watch', src: 'watch', input: ({ context }) => ({ link: context.link! }) },
      initial: 'alive',
      on: {
        LINK_LOST: { guard: 'isCurrentLink', target: 'lost' },
        ADOPT: [
          {
            guard: 'offeredReplacesLink',
            target: 'connected',
            reenter: true,
            actions: [{ type: 'closeLink', params: ({ context }) => ({ link: context.link }) }, 'takeOfferedLink'],
          },
          { actions: { type: 'closeLink', params: ({ event }) => ({ link: event.link }) } },
        ],
      },
      states: {
        alive: {
          always: { guard: not('hasControl'), target: 'passive' },
          after: { keepAlive: 'probing' },
        },
        probing: {
          entry: ['nextPing', 'sendPing'],
          on: { PONG: 'alive' },
          after: { deadAfter: '#peer.lost' },
        },
        /** A v1 link: no control channel, so no keep-alive of our own. */
        passive: {},
      },
    },
    lost: {
      entry: ['recordLoss', { type: 'closeLink', params: ({ context }) => ({ link: context.link }) }, 'forgetLink', 'emitLost'],
      always: [{ guard: 'shouldReconnect', target: 'backoff' }, { target: 'idle' }],
    },
    closing: {
      invoke: {
        id: 'close',
        src: 'close',
        input: ({ context }) => ({ link: context.link! }),
        onDone: 'stopped',
        onError: 'stopped',
      },
      always: { guard: ({ context }) => context.link === null, target: 'stopped' },
      exit: [{ type: 'closeLink', params: ({ context }) => ({ link: context.spare }) }, 'dropSpare', 'forgetLink'],
    },
    stopped: { type: 'final' },
  },
});

export type PeerMachine = typeof peerMachine;

/** True when `code` names an error a new dial cannot fix (re-exported for callers' messages). */
export const isPermanentDialError = (code: string): boolean => isErrorCode(code) && !isRetryable(code);
