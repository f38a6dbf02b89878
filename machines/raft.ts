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
 *  - `PROPOSE { data }` — append `data` (leader), forward it to the leader (follower), or reject
 *    it `NOT_LEADER` with the leader hint (0 = none known) / `TOO_LARGE` (see `Ready.rejections`).
 *  - `READ_INDEX { context }` — a linearizable read point for `context` (dissertation §6.4),
 *    delivered later in `Ready.readStates` or rejected `NOT_LEADER`.
 *  - `CAMPAIGN` — start an election now.
 *  - `ADVANCE { ack }` — the driver handled a Ready (`ackOf(readyOf(snapshot))`).
 *
 * Output is data: {@link readyOf} reads the pending {@link Ready} from a snapshot. The log is
 * not in the context: the machine reads the driver's storage through the {@link LogReader} in
 * its input and keeps only its not-yet-persisted tail.
 *
 * The step functions (machines/raft/*.ts) decide the role, as etcd's `r.state`; the chart's
 * states name it and `always` follows it, so a snapshot's `value` is the node's role.
 */
import { assign, setup } from 'xstate';
import { advance, ready, type ReadyAck } from './raft/ready.js';
import { draft, initialState, type RaftState } from './raft/state.js';
import { campaign, propose, readIndex, step, tickElection, tickHeartbeat } from './raft/step.js';
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
}

export type RaftEvent =
  | { type: 'TICK' }
  | { type: 'MSG'; msg: Message }
  | { type: 'PROPOSE'; data: Uint8Array }
  | { type: 'READ_INDEX'; context: string }
  | { type: 'CAMPAIGN' }
  | { type: 'ADVANCE'; ack: ReadyAck };

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
  },
  actions: {
    tickElection: assign(({ context }) => run(context, tickElection)),
    tickHeartbeat: assign(({ context }) => run(context, tickHeartbeat)),
    step: assign(({ context, event }) => run(context, (s) => event.type === 'MSG' && step(s, event.msg))),
    propose: assign(({ context, event }) => run(context, (s) => event.type === 'PROPOSE' && propose(s, event.data))),
    readIndex: assign(({ context, event }) => run(context, (s) => event.type === 'READ_INDEX' && readIndex(s, event.context))),
    campaign: assign(({ context }) => run(context, campaign)),
    advance: assign(({ context, event }) => run(context, (s) => event.type === 'ADVANCE' && advance(s, event.ack))),
  },
}).createMachine({
  id: 'raft',
  context: ({ input }) => {
    const { id, voters, storage, hardState, ...rest } = input;
    const cfg: RaftConfig = { ...DEFAULT_RAFT_CONFIG, seed: id, ...rest, id, voters: [...voters] };
    return initialState({ cfg, storage, ...(hardState ? { hardState } : {}) });
  },
  initial: 'follower',
  on: {
    MSG: { actions: 'step' },
    PROPOSE: { actions: 'propose' },
    READ_INDEX: { actions: 'readIndex' },
    ADVANCE: { actions: 'advance' },
  },
  states: {
    follower: {
      always: [
        { guard: { type: 'roleIs', params: { role: 'preCandidate' } }, target: 'preCandidate' },
        { guard: { type: 'roleIs', params: { role: 'candidate' } }, target: 'candidate' },
        { guard: { type: 'roleIs', params: { role: 'leader' } }, target: 'leader' },
      ],
      on: { TICK: { actions: 'tickElection' }, CAMPAIGN: { actions: 'campaign' } },
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
      always: [
        { guard: { type: 'roleIs', params: { role: 'follower' } }, target: 'follower' },
        { guard: { type: 'roleIs', params: { role: 'preCandidate' } }, target: 'preCandidate' },
        { guard: { type: 'roleIs', params: { role: 'candidate' } }, target: 'candidate' },
      ],
      on: { TICK: { actions: 'tickHeartbeat' } },
    },
  },
});

/** The pending Ready of a `raft` actor's snapshot (etcd's `RawNode.Ready`). */
export const readyOf = (snapshot: { context: RaftState }): Ready => ready(snapshot.context);
