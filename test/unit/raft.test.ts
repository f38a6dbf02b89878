/**
 * Unit tests of the pure Raft core's answers to bad or unusual input: stale terms, non-members,
 * mismatched prevLog, oversized appends and proposals, proposals with no leader; plus batching,
 * pipelining, Ready/ADVANCE bookkeeping and the seeded election timeout.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { ackOf, raftMachine, readyOf } from '../../machines/raft.js';
import { isOctopiiError } from '../../src/errors.js';
import { MemoryLogStorage, NotLeaderError, RawNode, message, type Entry, type Message, type RaftMachineInput } from '../../src/raft/index.js';

const enc = new TextEncoder();
const entry = (term: number, index: number, data = ''): Entry => ({ term, index, data: enc.encode(data) });
const log = (...terms: number[]) => terms.map((t, i) => entry(t, i + 1, `e${i + 1}`));

/** A node 1 of (1,2,3) over `storage`, with its Ready drained after creation. */
function node(opts: Partial<RaftMachineInput> = {}, storage = new MemoryLogStorage()) {
  const n = new RawNode({ id: 1, voters: [1, 2, 3], storage, hardState: storage.hardState(), applied: storage.hardState().commit, preVote: false, checkQuorum: false, ...opts });
  return { n, storage };
}

/** Persist and collect one Ready's messages (what a driver does). */
function drain(n: RawNode, storage: MemoryLogStorage): Message[] {
  if (!n.hasReady()) return [];
  const rd = n.ready();
  if (rd.hardState) storage.setHardState(rd.hardState);
  storage.append(rd.entries);
  storage.sync();
  n.advance(rd);
  return [...rd.messages];
}

/** Make node 1 leader of `term` + 1 with votes from 2 and 3; returns its first MsgApps. */
function elect(n: RawNode, storage: MemoryLogStorage): Message[] {
  n.campaign();
  const term = n.status().term;
  drain(n, storage);
  n.step(message({ type: 'MsgVoteResp', from: 2, to: 1, term }));
  expect(n.status().role).toBe('leader');
  return drain(n, storage);
}

describe('raft: stale terms (Raft §5.1)', () => {
  it('answers a MsgApp of an older term with its own term and leaves the log alone', () => {
    const { n, storage } = node({}, new MemoryLogStorage(log(1, 2), { term: 3, vote: 0, commit: 0 }));
    n.step(message({ type: 'MsgApp', from: 2, to: 1, term: 2, index: 2, logTerm: 2, entries: [entry(2, 3)], commit: 3 }));
    const out = drain(n, storage);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: 'MsgAppResp', to: 2, term: 3 });
    expect(n.status()).toMatchObject({ term: 3, lead: 0, lastIndex: 2, commit: 0 });
  });

  it('rejects a MsgVote of an older term with its own term', () => {
    const { n, storage } = node({}, new MemoryLogStorage(log(1), { term: 5, vote: 0, commit: 0 }));
    n.step(message({ type: 'MsgVote', from: 3, to: 1, term: 4, index: 9, logTerm: 4 }));
    expect(drain(n, storage)).toEqual([expect.objectContaining({ type: 'MsgVoteResp', to: 3, term: 5, reject: true })]);
    expect(n.status().vote).toBe(0);
  });

  it('a leader that sees a higher term steps down to follower', () => {
    const { n, storage } = node();
    elect(n, storage);
    n.step(message({ type: 'MsgAppResp', from: 3, to: 1, term: 7 }));
    expect(n.status()).toMatchObject({ role: 'follower', term: 7, lead: 0 });
    expect(n.state).toBe('follower');
  });
});

describe('raft: non-members and misrouted messages', () => {
  it('ignores every message from a node that is not a voter', () => {
    const { n, storage } = node();
    n.step(message({ type: 'MsgVote', from: 9, to: 1, term: 5, index: 10, logTerm: 5 }));
    n.step(message({ type: 'MsgApp', from: 9, to: 1, term: 6, entries: [entry(6, 1)], commit: 1 }));
    n.step(message({ type: 'MsgHeartbeat', from: 9, to: 1, term: 6, commit: 0 }));
    expect(n.status()).toMatchObject({ term: 0, vote: 0, lead: 0, lastIndex: 0 });
    expect(drain(n, storage)).toEqual([]);
  });

  it('ignores a message addressed to another node', () => {
    const { n, storage } = node();
    n.step(message({ type: 'MsgVote', from: 2, to: 3, term: 5 }));
    expect(n.status().term).toBe(0);
    expect(drain(n, storage)).toEqual([]);
  });
});

describe('raft: AppendEntries consistency check (Raft §5.3)', () => {
  it('rejects a mismatched prevLog with a conflict hint and keeps its log', () => {
    // Follower log terms 1 1 2 2 2; leader (term 5) claims entry 5 has term 4.
    const { n, storage } = node({}, new MemoryLogStorage(log(1, 1, 2, 2, 2), { term: 4, vote: 0, commit: 2 }));
    n.step(message({ type: 'MsgApp', from: 2, to: 1, term: 5, index: 5, logTerm: 4, entries: [entry(5, 6)], commit: 2 }));
    const [resp] = drain(n, storage);
    // Hint: the last index ≤ 5 whose term is ≤ 4 is 5 itself (term 2), so the leader can skip term 4.
    expect(resp).toMatchObject({ type: 'MsgAppResp', reject: true, index: 5, rejectHint: 5, logTerm: 2 });
    expect(n.status().lastIndex).toBe(5);
  });

  it('hints its last index when prevLogIndex is beyond its log', () => {
    const { n, storage } = node({}, new MemoryLogStorage(log(1, 1), { term: 1, vote: 0, commit: 0 }));
    n.step(message({ type: 'MsgApp', from: 2, to: 1, term: 2, index: 9, logTerm: 2, commit: 0 }));
    expect(drain(n, storage)[0]).toMatchObject({ reject: true, index: 9, rejectHint: 2, logTerm: 1 });
  });

  it('truncates a conflicting uncommitted suffix and appends the leader entries', () => {
    const { n, storage } = node({}, new MemoryLogStorage(log(1, 1, 2, 2), { term: 2, vote: 0, commit: 2 }));
    n.step(message({ type: 'MsgApp', from: 2, to: 1, term: 3, index: 2, logTerm: 1, entries: [entry(3, 3, 'a'), entry(3, 4, 'b'), entry(3, 5, 'c')], commit: 4 }));
    const rd = n.ready();
    expect(rd.entries.map((e) => `${e.term}/${e.index}`)).toEqual(['3/3', '3/4', '3/5']);
    expect(rd.committedEntries.map((e) => e.index)).toEqual([3, 4]);
    drain(n, storage);
    expect(storage.all().map((e) => e.term)).toEqual([1, 1, 3, 3, 3]);
  });

  it('answers a MsgApp below its commit index with the commit index, touching nothing committed', () => {
    const { n, storage } = node({}, new MemoryLogStorage(log(1, 1, 2), { term: 2, vote: 0, commit: 3 }));
    n.step(message({ type: 'MsgApp', from: 2, to: 1, term: 3, index: 1, logTerm: 1, entries: [entry(3, 2)], commit: 3 }));
    expect(drain(n, storage)).toEqual([expect.objectContaining({ type: 'MsgAppResp', index: 3, reject: false })]);
    expect(storage.all().map((e) => e.term)).toEqual([1, 1, 2]);
  });

  it('surfaces an error thrown inside the machine synchronously (here: a bad config)', () => {
    expect(() => new RawNode({ id: 1, voters: [1, 2, 3], storage: new MemoryLogStorage(), electionTick: 1, heartbeatTick: 1 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('the leader backs next up with the hint and resends in one round trip', () => {
    const { n, storage } = node({}, new MemoryLogStorage(log(1, 3, 3, 3), { term: 3, vote: 0, commit: 1 }));
    const first = elect(n, storage);
    expect(first.find((m) => m.to === 2)).toMatchObject({ type: 'MsgApp', index: 4, logTerm: 3 });
    // Follower 2 holds terms 1 2 2 2 2 2: its hint for (index 4, term 3) is index 4, term 2.
    n.step(message({ type: 'MsgAppResp', from: 2, to: 1, term: 4, index: 4, reject: true, rejectHint: 4, logTerm: 2 }));
    const again = drain(n, storage).find((m) => m.to === 2)!;
    // The leader has no term-2 entries: its last index with term ≤ 2 is 1.
    expect(again).toMatchObject({ type: 'MsgApp', index: 1, logTerm: 1 });
    expect(again.entries.map((e) => e.index)).toEqual([2, 3, 4, 5]);
  });
});

describe('raft: size limits', () => {
  it('drops a MsgApp whose payload exceeds maxAppendBytes, unread', () => {
    const { n, storage } = node({ maxAppendBytes: 8 });
    n.step(message({ type: 'MsgApp', from: 2, to: 1, term: 1, index: 0, logTerm: 0, entries: [entry(1, 1, '0123456789')], commit: 0 }));
    expect(n.status()).toMatchObject({ lastIndex: 0, term: 1, lead: 2 });
    expect(drain(n, storage)).toEqual([]);
  });

  it('rejects a proposal above maxEntryBytes with TOO_LARGE', () => {
    const { n, storage } = node({ maxEntryBytes: 4 });
    elect(n, storage);
    let err: unknown;
    try {
      n.propose(enc.encode('too long'));
    } catch (e) {
      err = e;
    }
    expect(isOctopiiError(err, 'TOO_LARGE')).toBe(true);
    expect(n.ready().rejections).toEqual([{ kind: 'propose', code: 'TOO_LARGE', leaderHint: 1, context: '' }]);
    expect(n.status().lastIndex).toBe(1);
  });

  it('batches at most maxMsgEntries entries and maxMsgBytes bytes per MsgApp', () => {
    const { n, storage } = node({ maxMsgEntries: 3, maxMsgBytes: 10, maxInflight: 100 });
    elect(n, storage);
    n.step(message({ type: 'MsgAppResp', from: 2, to: 1, term: 1, index: 1 }));
    drain(n, storage);
    for (const d of ['aaaa', 'bbbb', 'cccc', 'd', 'e', 'f', 'g']) n.propose(enc.encode(d));
    const toTwo = drain(n, storage).filter((m) => m.to === 2 && m.type === 'MsgApp');
    // Each proposal is sent as it comes (one entry per MsgApp): batching shows when catching up.
    expect(toTwo.every((m) => m.entries.length <= 3)).toBe(true);
    // Node 3 is still in probe (never answered): it gets one batch when it does.
    n.step(message({ type: 'MsgAppResp', from: 3, to: 1, term: 1, index: 1 }));
    const toThree = drain(n, storage).filter((m) => m.to === 3 && m.type === 'MsgApp');
    expect(toThree.map((m) => m.entries.map((e) => new TextDecoder().decode(e.data)).join(','))).toEqual(['aaaa,bbbb', 'cccc,d,e', 'f,g']);
  });

  it('pipelines at most maxInflight MsgApps to a replicating follower', () => {
    const { n, storage } = node({ maxInflight: 2 });
    elect(n, storage);
    n.step(message({ type: 'MsgAppResp', from: 2, to: 1, term: 1, index: 1 }));
    drain(n, storage);
    for (let i = 0; i < 5; i++) n.propose(enc.encode(`p${i}`));
    expect(drain(n, storage).filter((m) => m.to === 2 && m.type === 'MsgApp')).toHaveLength(2);
    // An ack frees the window; the rest go out in one batch.
    n.step(message({ type: 'MsgAppResp', from: 2, to: 1, term: 1, index: 3 }));
    const more = drain(n, storage).filter((m) => m.to === 2 && m.type === 'MsgApp');
    expect(more.flatMap((m) => m.entries.map((e) => e.index))).toEqual([4, 5, 6]);
  });
});

describe('raft: proposals and reads without a leader', () => {
  it('a follower that knows no leader rejects NOT_LEADER without a hint', () => {
    const { n } = node();
    let err: unknown;
    try {
      n.propose(enc.encode('x'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NotLeaderError);
    expect((err as NotLeaderError).code).toBe('NOT_LEADER');
    expect((err as NotLeaderError).leaderHint).toBeUndefined();
    expect(n.ready().rejections).toEqual([{ kind: 'propose', code: 'NOT_LEADER', leaderHint: 0, context: '' }]);
  });

  it('a follower that knows the leader forwards the proposal (MsgProp, term 0)', () => {
    const { n, storage } = node();
    n.step(message({ type: 'MsgHeartbeat', from: 3, to: 1, term: 2, commit: 0 }));
    drain(n, storage);
    n.propose(enc.encode('x'));
    expect(drain(n, storage)).toEqual([expect.objectContaining({ type: 'MsgProp', to: 3, term: 0 })]);
  });

  it('a candidate rejects reads NOT_LEADER', () => {
    const { n } = node();
    n.campaign();
    expect(() => n.readIndex('r')).toThrow(NotLeaderError);
  });
});

describe('raft: Ready / ADVANCE', () => {
  it('reports changes once; ADVANCE clears them; the log reaches storage', () => {
    const { n, storage } = node();
    elect(n, storage);
    expect(n.hasReady()).toBe(false);
    n.propose(enc.encode('x'));
    const rd = n.ready();
    expect(n.ready()).toEqual(rd);
    expect(rd.entries.map((e) => e.index)).toEqual([2]);
    expect(rd.mustSync).toBe(true);
    drain(n, storage);
    expect(n.hasReady()).toBe(false);
    expect(storage.lastIndex()).toBe(2);
  });

  it('restarts from persisted state only', () => {
    const { n, storage } = node();
    elect(n, storage);
    const again = new RawNode({ id: 1, voters: [1, 2, 3], storage: storage.durableCopy(), hardState: storage.hardState() });
    expect(again.status()).toMatchObject({ role: 'follower', term: 1, vote: 1, lastIndex: 1 });
  });

  it('works as a bare actor: the snapshot value is the role, readyOf gives the Ready', () => {
    const storage = new MemoryLogStorage();
    const actor = createActor(raftMachine, { input: { id: 1, voters: [1], storage, preVote: false } }).start();
    actor.send({ type: 'CAMPAIGN' });
    expect(actor.getSnapshot().value).toBe('leader');
    const rd = readyOf(actor.getSnapshot());
    expect(rd.entries.map((e) => e.index)).toEqual([1]);
    // A single voter's quorum is its own disk: the no-op commits once ADVANCE reports it stable.
    expect(rd.committedEntries).toEqual([]);
    storage.setHardState(rd.hardState!);
    storage.append(rd.entries);
    storage.sync();
    actor.send({ type: 'ADVANCE', ack: ackOf(rd) });
    expect(readyOf(actor.getSnapshot()).committedEntries.map((e) => e.index)).toEqual([1]);
  });
});

describe("raft: the leader's write in parallel with replication (dissertation §10.2.1)", () => {
  /** Leader 1 of (1,2,3) in term 1 with everything up to its no-op (index 1) committed. */
  function leader() {
    const { n, storage } = node();
    elect(n, storage);
    n.step(message({ type: 'MsgAppResp', from: 2, to: 1, term: 1, index: 1 }));
    n.step(message({ type: 'MsgAppResp', from: 3, to: 1, term: 1, index: 1 }));
    drain(n, storage);
    drain(n, storage);
    expect(n.status()).toMatchObject({ role: 'leader', commit: 1 });
    return { n, storage };
  }

  it("a leader's Ready may be sent before its write; a candidate's (new term and vote) may not", () => {
    const { n, storage } = node();
    n.campaign();
    expect(n.ready()).toMatchObject({ mustSync: true, sendBeforeSync: false });
    drain(n, storage);
    n.step(message({ type: 'MsgVoteResp', from: 2, to: 1, term: 1 }));
    const rd = n.ready();
    expect(rd).toMatchObject({ mustSync: true, sendBeforeSync: true });
    expect(rd.messages.map((m) => [m.type, m.to, m.entries.length])).toEqual([
      ['MsgApp', 2, 1],
      ['MsgApp', 3, 1],
    ]);
  });

  it("the leader's own entry counts toward the quorum only once ADVANCE reports it stable", () => {
    const { n, storage } = leader();
    n.propose(enc.encode('x'));
    const rd = n.ready();
    expect(rd.sendBeforeSync).toBe(true);
    expect(n.status().progress[1]!.match).toBe(1);
    n.step(message({ type: 'MsgAppResp', from: 2, to: 1, term: 1, index: 2 }));
    expect(n.status().commit).toBe(1); // follower 2 and a leader whose write is not done: no quorum
    storage.append(rd.entries);
    storage.sync();
    n.advance(rd);
    expect(n.status().progress[1]!.match).toBe(2);
    expect(n.status().commit).toBe(2);
    // The new commit index goes out at once.
    expect(n.ready().messages.map((m) => [m.type, m.to, m.commit])).toEqual([
      ['MsgApp', 2, 2],
      ['MsgApp', 3, 2],
    ]);
  });

  it('a Ready acknowledged before its sync (durable: false) counts the leader only at DURABLE', () => {
    const { n, storage } = leader();
    n.propose(enc.encode('x'));
    const rd = n.ready();
    storage.append(rd.entries);
    n.advance(rd, { durable: false });
    expect(n.hasReady()).toBe(false); // the entries were handed over: not in the next Ready again
    n.step(message({ type: 'MsgAppResp', from: 2, to: 1, term: 1, index: 2 }));
    expect(n.status().commit).toBe(1);
    storage.sync();
    n.durable(2, 1);
    expect(n.status()).toMatchObject({ commit: 2 });
    expect(n.status().progress[1]!.match).toBe(2);
  });

  it('only a sendBeforeSync Ready may be acknowledged before its sync (INVALID_ARGUMENT)', () => {
    const { n } = node();
    n.campaign();
    const rd = n.ready();
    expect(rd.sendBeforeSync).toBe(false);
    expect(() => n.advance(rd, { durable: false })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('a DURABLE for an entry replaced after stepping down changes nothing; re-elected, the leader counts only what its disk holds', () => {
    const { n, storage } = leader();
    n.propose(enc.encode('x'));
    const rd = n.ready();
    storage.append(rd.entries); // 2/1 written, not synced
    n.advance(rd, { durable: false });
    // Leader 2 of term 2 replaces 2/1 before our sync completes.
    n.step(message({ type: 'MsgApp', from: 2, to: 1, term: 2, index: 1, logTerm: 1, entries: [entry(2, 2, 'y')], commit: 1 }));
    expect(n.status()).toMatchObject({ role: 'follower', term: 2 });
    n.durable(2, 1); // the stale report of the replaced write
    n.campaign(); // term 3, before the follower Ready (2/2) is written
    const c = n.ready();
    expect(c.sendBeforeSync).toBe(false);
    storage.setHardState(c.hardState!);
    storage.append(c.entries);
    storage.sync();
    n.advance(c); // 2/2 durable now
    n.step(message({ type: 'MsgVoteResp', from: 3, to: 1, term: 3 }));
    expect(n.status().role).toBe('leader');
    expect(n.status().progress[1]!.match).toBe(2);
    const l = n.ready(); // the no-op 3/3
    expect(l.sendBeforeSync).toBe(true);
    storage.append(l.entries);
    n.advance(l, { durable: false });
    n.durable(2, 1); // stale again: still nothing
    n.step(message({ type: 'MsgAppResp', from: 3, to: 1, term: 3, index: 3 }));
    expect(n.status().commit).toBe(1); // 3 holds 3/3, we do not yet: no quorum
    storage.sync();
    n.durable(3, 3);
    expect(n.status().commit).toBe(3);
  });

  it('two followers commit an entry the leader has not yet made durable', () => {
    const { n } = leader();
    n.propose(enc.encode('x'));
    n.ready();
    n.step(message({ type: 'MsgAppResp', from: 2, to: 1, term: 1, index: 2 }));
    n.step(message({ type: 'MsgAppResp', from: 3, to: 1, term: 1, index: 2 }));
    expect(n.status()).toMatchObject({ commit: 2 });
    expect(n.status().progress[1]!.match).toBe(1);
    expect(n.ready().committedEntries.map((e) => e.index)).toEqual([2]);
  });
});

describe('raft: randomized election timeout (Raft §5.2)', () => {
  const timeoutOf = (seed: number) => {
    const { n } = node({ seed });
    let ticks = 0;
    while (n.status().role === 'follower') {
      n.tick();
      ticks++;
    }
    return ticks;
  };

  it('is drawn from [electionTick, 2·electionTick) by a seeded PRNG: the same seed, the same timeout', () => {
    const seen = new Set<number>();
    for (let seed = 0; seed < 40; seed++) {
      const t = timeoutOf(seed);
      expect(t).toBeGreaterThanOrEqual(10);
      expect(t).toBeLessThan(20);
      expect(timeoutOf(seed)).toBe(t);
      seen.add(t);
    }
    expect(seen.size).toBeGreaterThan(3);
  });
});

it('rejects a configuration where the node is not a voter', () => {
  expect(() => new RawNode({ id: 4, voters: [1, 2, 3], storage: new MemoryLogStorage() })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
});

it('a leader that steps down refuses its own reads still waiting for a quorum (NOT_LEADER)', () => {
  const { n, storage } = node();
  elect(n, storage);
  n.step(message({ type: 'MsgAppResp', from: 2, to: 1, term: 1, index: 1 }));
  drain(n, storage);
  n.readIndex('r1');
  expect(drain(n, storage).filter((m) => m.type === 'MsgHeartbeat' && m.context === 'r1')).toHaveLength(2);
  n.step(message({ type: 'MsgHeartbeat', from: 3, to: 1, term: 2, commit: 0 }));
  expect(n.ready().rejections).toEqual([{ kind: 'readIndex', code: 'NOT_LEADER', leaderHint: 3, context: 'r1' }]);
});

describe('raft: votes (Raft §5.2, §5.4.1; PreVote, dissertation §9.6)', () => {
  it('a vote survives a restart: no second vote in the same term', () => {
    const { n, storage } = node();
    n.step(message({ type: 'MsgVote', from: 2, to: 1, term: 2, index: 0, logTerm: 0 }));
    expect(drain(n, storage)).toEqual([expect.objectContaining({ type: 'MsgVoteResp', to: 2, reject: false })]);
    const again = new RawNode({ id: 1, voters: [1, 2, 3], storage, hardState: storage.hardState(), preVote: false, checkQuorum: false });
    again.step(message({ type: 'MsgVote', from: 3, to: 1, term: 2, index: 0, logTerm: 0 }));
    expect(drain(again, storage)).toEqual([expect.objectContaining({ type: 'MsgVoteResp', to: 3, reject: true })]);
    expect(again.status().vote).toBe(2);
  });

  it('refuses a candidate whose log is behind (last term, then length)', () => {
    const { n, storage } = node({}, new MemoryLogStorage(log(1, 2, 2), { term: 2, vote: 0, commit: 0 }));
    n.step(message({ type: 'MsgVote', from: 2, to: 1, term: 3, index: 9, logTerm: 1 }));
    n.step(message({ type: 'MsgVote', from: 3, to: 1, term: 3, index: 2, logTerm: 2 }));
    expect(drain(n, storage).map((m) => m.reject)).toEqual([true, true]);
    expect(n.status()).toMatchObject({ term: 3, vote: 0 });
  });

  it('a pre-vote changes neither term nor vote, and a pre-candidate keeps its term', () => {
    const { n, storage } = node({ preVote: true });
    n.step(message({ type: 'MsgPreVote', from: 2, to: 1, term: 1, index: 0, logTerm: 0 }));
    expect(drain(n, storage)).toEqual([expect.objectContaining({ type: 'MsgPreVoteResp', term: 1, reject: false })]);
    expect(n.status()).toMatchObject({ term: 0, vote: 0 });
    n.campaign();
    expect(n.status()).toMatchObject({ role: 'preCandidate', term: 0 });
    expect(drain(n, storage).map((m) => `${m.type} ${m.term}`)).toEqual(['MsgPreVote 1', 'MsgPreVote 1']);
    n.step(message({ type: 'MsgPreVoteResp', from: 3, to: 1, term: 1 }));
    expect(n.status()).toMatchObject({ role: 'candidate', term: 1, vote: 1 });
  });

  it('ignores (pre-)vote requests while its leader is alive', () => {
    const { n, storage } = node({ preVote: true, checkQuorum: true });
    n.step(message({ type: 'MsgHeartbeat', from: 2, to: 1, term: 1, commit: 0 }));
    drain(n, storage);
    n.step(message({ type: 'MsgPreVote', from: 3, to: 1, term: 2, index: 5, logTerm: 1 }));
    n.step(message({ type: 'MsgVote', from: 3, to: 1, term: 2, index: 5, logTerm: 1 }));
    expect(drain(n, storage)).toEqual([]);
    expect(n.status()).toMatchObject({ term: 1, lead: 2 });
  });
});

describe('raft: malformed input', () => {
  it('ignores a MsgApp or MsgHeartbeat without a term (only forwarded requests have term 0)', () => {
    const { n, storage } = node({}, new MemoryLogStorage(log(1), { term: 1, vote: 0, commit: 0 }));
    n.step(message({ type: 'MsgApp', from: 2, to: 1, term: 0, index: 1, logTerm: 1, entries: [entry(1, 2)], commit: 2 }));
    n.step(message({ type: 'MsgHeartbeat', from: 2, to: 1, term: 0, commit: 1 }));
    expect(n.status()).toMatchObject({ lead: 0, lastIndex: 1, commit: 0 });
    expect(drain(n, storage)).toEqual([]);
  });

  it("a leader drops forwarded proposals above its own maxEntryBytes", () => {
    const { n, storage } = node({ maxEntryBytes: 4 });
    elect(n, storage);
    n.step(message({ type: 'MsgProp', from: 2, to: 1, entries: [entry(0, 0, 'way too long'), entry(0, 0, 'ok')] }));
    expect(n.ready().entries.map((e) => new TextDecoder().decode(e.data))).toEqual(['ok']);
  });
});

it('rejects invalid tunables and duplicate voters (INVALID_ARGUMENT)', () => {
  const storage = new MemoryLogStorage();
  for (const bad of [{ maxInflight: 0 }, { maxMsgEntries: 1.5 }, { heartbeatTick: 0 }]) {
    expect(() => new RawNode({ id: 1, voters: [1, 2, 3], storage, ...bad })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  }
  expect(() => new RawNode({ id: 1, voters: [1, 2, 2], storage })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
});

it('hands out committed entries in Readies of at most maxApplyBytes', () => {
  const entries = Array.from({ length: 6 }, (_, i) => entry(1, i + 1, 'abcd'));
  const storage = new MemoryLogStorage(entries, { term: 1, vote: 0, commit: 6 });
  const n = new RawNode({ id: 1, voters: [1, 2, 3], storage, hardState: storage.hardState(), maxApplyBytes: 10 });
  const batches: number[][] = [];
  while (n.hasReady()) {
    const rd = n.ready();
    batches.push(rd.committedEntries.map((e) => e.index));
    n.advance(rd);
  }
  expect(batches).toEqual([[1, 2], [3, 4], [5, 6]]);
});

it('a leader refuses proposals beyond maxUncommittedBytes (RESOURCE_EXHAUSTED) until entries commit', () => {
  const { n, storage } = node({ maxUncommittedBytes: 8 });
  elect(n, storage);
  n.propose(enc.encode('aaaa'));
  n.propose(enc.encode('bbbb'));
  expect(() => n.propose(enc.encode('c'))).toThrow(expect.objectContaining({ code: 'RESOURCE_EXHAUSTED' }));
  drain(n, storage);
  n.step(message({ type: 'MsgAppResp', from: 2, to: 1, term: 1, index: 3 }));
  expect(n.status().commit).toBe(3);
  n.propose(enc.encode('c'));
  expect(n.status().lastIndex).toBe(4);
});
