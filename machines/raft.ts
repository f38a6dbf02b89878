/**
 * The `raft` machine: one Raft node as a pure XState v5 chart (Raft, Ongaro & Ousterhout 2014;
 * Ongaro's dissertation 2014; the I/O-free split of etcd-io/raft).
 *
 *            TICK (election timeout)            PreVote quorum
 *   follower ───────────────────▶ preCandidate ───────────────▶ candidate ──vote quorum──▶ leader
 *      ▲  ▲                            │                            │                        │
 *      │  └──── lost / a leader's MsgApp or MsgHeartbeat / higher term ┘                       │
 *      └──────────── higher term, or CheckQuorum finds no quorum (TICK) ─────────────────────┘
 *
 * (With `preVote: false` a timeout goes straight to `candidate`.)
 *
 * Events (all synchronous, nothing is awaited):
 *  - `TICK` — one unit of the driver's clock; election timeout and heartbeat are counted in ticks.
 *  - `MSG { msg }` — a {@link Message} from a peer.
 *  - `PROPOSE { data }` — `leader`: append and replicate; `follower` that knows the leader:
 *    forward as MsgProp; otherwise refuse `NOT_LEADER` with the leader hint (0 = none known);
 *    above `maxEntryBytes`: `TOO_LARGE`; a leader over `maxUncommittedBytes`: `RESOURCE_EXHAUSTED`.
 *    Refusals are reported in `Ready.rejections`.
 *  - `READ_INDEX { context }` — a linearizable read point for `context` (dissertation §6.4):
 *    `leader` runs a heartbeat round, a `follower` forwards to its leader, others refuse
 *    `NOT_LEADER`; answered in `Ready.readStates`.
 *  - `CAMPAIGN` — start an election now.
 *  - `ADVANCE { ack }` — the driver handled a Ready (`ackOf(readyOf(snapshot))`); for a Ready with
 *    `sendBeforeSync` it may do so before its write is synced (`ackOf(rd, { durable: false })`).
 *  - `DURABLE { index, term }` — that background write is synced: the log is durable through
 *    that entry (a leader's own entries count toward the quorum from then on, dissertation
 *    §10.2.1; etcd-io/raft's self-addressed MsgStorageAppendResp).
 *
 * Output is data: {@link readyOf} reads the pending {@link Ready} from a snapshot. The log is
 * not in the context: the machine reads the driver's storage through the {@link LogReader} in
 * its input and keeps only its not-yet-persisted tail.
 *
 * The step functions (machines/raft/*.ts) decide the role, as etcd's `r.state`; the chart's
 * states name it and `always` follows it, so a snapshot's `value` is the node's role.
 */
import { assign, setup } from 'xstate';
import { advance, durable, ready, type ReadyAck } from './raft/ready.js';
import { draft, initialState, type RaftState } from './raft/state.js';
import { campaign, forwardProposal, forwardRead, proposeAsLeader, readAsLeader, reject } from './raft/local.js';
import { step, tickElection, tickHeartbeat, uncommittedFull } from './raft/step.js';
import { DEFAULT_RAFT_CONFIG, type HardState, type LogReader, type Message, type RaftConfig, type Ready, type Role } from './raft/types.js';

export * from './raft/types.js';
export { ackOf, type ReadyAck } from './raft/ready.js';
export type { RaftState } from './raft/state.js';

/** Input of the `raft` machine: identity and tunables (defaults in DEFAULT_RAFT_CONFIG), storage, persisted hard state. */
export interface RaftMachineInput extends Partial<Omit<RaftConfig, 'id' | 'voters'>> {
  id: number;
  voters: readonly number[];
  storage: LogReader;
  hardState?: HardState;
  /**
   * Highest index the driver's state machine already applied (persisted with its state). On a
   * restart, committed entries after it are handed out again. Default 0: apply from the start.
   */
  applied?: number;
}

export type RaftEvent =
  | { type: 'TICK' }
  | { type: 'MSG'; msg: Message }
  | { type: 'PROPOSE'; data: Uint8Array }
  | { type: 'READ_INDEX'; context: string }
  | { type: 'CAMPAIGN' }
  | { type: 'ADVANCE'; ack: ReadyAck }
  | { type: 'DURABLE'; index: number; term: number };

/** Run a step function on a draft of the context and return the draft (every action's shape). */
function run(context: RaftState, f: (s: RaftState) => void): RaftState {
  const s = draft(context);
  f(s);
  return s;
}

export const raftMachine = setup({
  types: {
    context: {} as RaftState,
    events: {} as RaftEvent,
    input: {} as RaftMachineInput,
  },
  guards: {
    roleIs: ({ context }, params: { role: Role }) => context.role === params.role,
    knowsLeader: ({ context }) => context.lead !== 0,
    proposalTooLarge: ({ context, event }) => event.type === 'PROPOSE' && event.data.length > context.cfg.maxEntryBytes,
    uncommittedFull: ({ context, event }) => event.type === 'PROPOSE' && uncommittedFull(context, [event.data]),
  },
  actions: {
    tickElection: assign(({ context }) => run(context, tickElection)),
    tickHeartbeat: assign(({ context }) => run(context, tickHeartbeat)),
    step: assign(({ context, event }) => run(context, (s) => event.type === 'MSG' && step(s, event.msg))),
    appendProposal: assign(({ context, event }) => run(context, (s) => event.type === 'PROPOSE' && proposeAsLeader(s, event.data))),
    forwardProposal: assign(({ context, event }) => run(context, (s) => event.type === 'PROPOSE' && forwardProposal(s, event.data))),
    rejectNotLeader: assign(({ context }) => run(context, (s) => reject(s, 'propose', 'NOT_LEADER'))),
    rejectTooLarge: assign(({ context }) => run(context, (s) => reject(s, 'propose', 'TOO_LARGE'))),
    rejectBusy: assign(({ context }) => run(context, (s) => reject(s, 'propose', 'RESOURCE_EXHAUSTED'))),
    readAsLeader: assign(({ context, event }) => run(context, (s) => event.type === 'READ_INDEX' && readAsLeader(s, event.context))),
    forwardRead: assign(({ context, event }) => run(context, (s) => event.type === 'READ_INDEX' && forwardRead(s, event.context))),
    rejectRead: assign(({ context, event }) => run(context, (s) => event.type === 'READ_INDEX' && reject(s, 'readIndex', 'NOT_LEADER', event.context))),
    campaign: assign(({ context }) => run(context, campaign)),
    advance: assign(({ context, event }) => run(context, (s) => event.type === 'ADVANCE' && advance(s, event.ack))),
    durable: assign(({ context, event }) => run(context, (s) => event.type === 'DURABLE' && durable(s, event.index, event.term))),
  },
}).createMachine({
  id: 'raft',
  context: ({ input }) => {
    const { id, voters, storage, hardState, applied, ...rest } = input;
    const cfg: RaftConfig = { ...DEFAULT_RAFT_CONFIG, seed: id, ...rest, id, voters: [...voters] };
    return initialState({ cfg, storage, ...(hardState ? { hardState } : {}), ...(applied !== undefined ? { applied } : {}) });
  },
  initial: 'follower',
  on: {
    MSG: { actions: 'step' },
    ADVANCE: { actions: 'advance' },
    DURABLE: { actions: 'durable' },
    // Not a leader (states below override): refuse.
    PROPOSE: [{ guard: 'proposalTooLarge', actions: 'rejectTooLarge' }, { actions: 'rejectNotLeader' }],
    READ_INDEX: { actions: 'rejectRead' },
  },
  states: {
    // Within one event a follower may pass through several roles (a single voter wins at once).
    follower: {
      always: [
        { guard: { type: 'roleIs', params: { role: 'preCandidate' } }, target: 'preCandidate' },
        { guard: { type: 'roleIs', params: { role: 'candidate' } }, target: 'candidate' },
        { guard: { type: 'roleIs', params: { role: 'leader' } }, target: 'leader' },
      ],
      on: {
        TICK: { actions: 'tickElection' },
        CAMPAIGN: { actions: 'campaign' },
        PROPOSE: [
          { guard: 'proposalTooLarge', actions: 'rejectTooLarge' },
          { guard: 'knowsLeader', actions: 'forwardProposal' },
          { actions: 'rejectNotLeader' },
        ],
        READ_INDEX: [{ guard: 'knowsLeader', actions: 'forwardRead' }, { actions: 'rejectRead' }],
      },
    },
    preCandidate: {
      always: [
        { guard: { type: 'roleIs', params: { role: 'follower' } }, target: 'follower' },
        { guard: { type: 'roleIs', params: { role: 'candidate' } }, target: 'candidate' },
        { guard: { type: 'roleIs', params: { role: 'leader' } }, target: 'leader' },
      ],
      on: { TICK: { actions: 'tickElection' }, CAMPAIGN: { actions: 'campaign' } },
    },
    candidate: {
      always: [
        { guard: { type: 'roleIs', params: { role: 'follower' } }, target: 'follower' },
        { guard: { type: 'roleIs', params: { role: 'preCandidate' } }, target: 'preCandidate' },
        { guard: { type: 'roleIs', params: { role: 'leader' } }, target: 'leader' },
      ],
      on: { TICK: { actions: 'tickElection' }, CAMPAIGN: { actions: 'campaign' } },
    },
    leader: {
      // A leader only ever steps down (a higher term, or CheckQuorum).
      always: { guard: { type: 'roleIs', params: { role: 'follower' } }, target: 'follower' },
      on: {
        TICK: { actions: 'tickHeartbeat' },
        PROPOSE: [
          { guard: 'proposalTooLarge', actions: 'rejectTooLarge' },
          { guard: 'uncommittedFull', actions: 'rejectBusy' },
          { actions: 'appendProposal' },
        ],
        READ_INDEX: { actions: 'readAsLeader' },
      },
    },
  },
});

/** The pending Ready of a `raft` actor's snapshot (etcd's `RawNode.Ready`). */
export const readyOf = (snapshot: { context: RaftState }): Ready => ready(snapshot.context);
