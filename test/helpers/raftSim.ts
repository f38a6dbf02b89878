/**
 * The engine of the seeded Raft simulation (test/sim/raft-core.test.ts): one cluster of pure
 * cores under a seed, with faults, and the Raft Figure 3 safety properties checked after every
 * step, plus linearizable ReadIndex answers. Throws on the first violation.
 */
import { NotLeaderError, type Entry, type Message } from '../../src/raft/index.js';
import { isOctopiiError } from '../../src/errors.js';
import { RaftCluster } from './raftCluster.js';
import { describeMessage } from './raftFormat.js';
import { Random } from '../sim/random.js';

interface InFlight {
  m: Message;
  at: number;
}

/** Chain hash of a log prefix: equal hashes at (index, term) ⇔ equal prefixes (up to 64-bit collisions). */
function chain(prev: string, e: Entry): string {
  const [p1, p2] = prev === '' ? [0x811c9dc5, 0x01000193] : prev.split('.').map((x) => parseInt(x, 36));
  let h1 = Math.imul(p1! ^ e.term, 16777619) ^ e.index;
  let h2 = Math.imul(p2! + e.term, 2246822519) + e.index;
  for (const b of e.data) {
    h1 = Math.imul(h1 ^ b, 16777619);
    h2 = Math.imul(h2 + b, 2246822519) ^ (h2 >>> 13);
  }
  return `${(h1 >>> 0).toString(36)}.${(h2 >>> 0).toString(36)}`;
}

class Invariants {
  /** term → leader. */
  leaders = new Map<number, number>();
  /** "index/term" → chain hash: Log Matching across every log ever seen. */
  entries = new Map<string, string>();
  /** index → "term:hash" of the entry applied there by anyone. */
  applied = new Map<number, string>();
  /** index → term of committed entries (from applies). */
  committed = new Map<number, number>();
  /** node → chain hashes of its stable log (index 1 at [0]). */
  chains = new Map<number, string[]>();
  maxApplied(): number {
    let m = 0;
    for (const i of this.applied.keys()) if (i > m) m = i;
    return m;
  }

  /** "node/term" pairs already checked for Leader Completeness. */
  checkedLeaders = new Set<string>();

  fail(msg: string): never {
    throw new Error(`invariant violated: ${msg}`);
  }

  appended(id: number, es: readonly Entry[]): void {
    if (es.length === 0) return;
    const c = this.chains.get(id) ?? [];
    // A committed entry is never removed from a log that holds it (it is in every later leader's log).
    for (let i = es[0]!.index; i <= c.length; i++) {
      const e = es[i - es[0]!.index];
      const committed = this.applied.get(i);
      if (committed !== undefined && committed === `${this.committed.get(i)}:${c[i - 1]}` && (!e || `${e.term}` !== committed.split(':')[0])) {
        this.fail(`node ${id} truncated committed entry ${committed.split(':')[0]}/${i}`);
      }
    }
    c.length = es[0]!.index - 1;
    for (const e of es) {
      const h = chain(c[c.length - 1] ?? '', e);
      c.push(h);
      const key = `${e.index}/${e.term}`;
      const seen = this.entries.get(key);
      if (seen === undefined) this.entries.set(key, h);
      else if (seen !== h) this.fail(`Log Matching: node ${id} holds ${key} with a different prefix`);
    }
    this.chains.set(id, c);
  }

  restarted(id: number, all: readonly Entry[]): void {
    this.chains.set(id, []);
    this.appended(id, all);
  }

  appliedBy(id: number, es: readonly Entry[]): void {
    const c = this.chains.get(id) ?? [];
    for (const e of es) {
      const v = `${e.term}:${c[e.index - 1] ?? '?'}`;
      const seen = this.applied.get(e.index);
      if (seen === undefined) {
        this.applied.set(e.index, v);
        this.committed.set(e.index, e.term);
      } else if (seen !== v) this.fail(`State Machine Safety: node ${id} applied ${e.term}/${e.index}, another node applied ${seen} there`);
    }
  }

  leader(id: number, term: number, logTerm: (i: number) => number): void {
    const other = this.leaders.get(term);
    if (other !== undefined && other !== id) this.fail(`Election Safety: ${other} and ${id} both led term ${term}`);
    this.leaders.set(term, id);
    const key = `${id}/${term}`;
    if (this.checkedLeaders.has(key)) return;
    this.checkedLeaders.add(key);
    for (const [i, t] of this.committed) {
      if (t < term && logTerm(i) !== t) this.fail(`Leader Completeness: leader ${id} of term ${term} lacks committed ${t}/${i}`);
    }
  }
}

export interface SimOptions {
  size: number;
  /** Fault rate multiplier (partitions, crashes); default 1. */
  intensity?: number;
  steps: number;
  calmSteps: number;
}

export function simulate(seed: number, opts: SimOptions): { commits: number } {
  const trace: string[] = [];
  try {
    return run(seed, opts, trace);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(`${msg}\nlast events (newest last):\n  ${trace.join('\n  ')}`, { cause: e });
  }
}

function run(seed: number, { size, steps, calmSteps, intensity = 1 }: SimOptions, trace: string[]): { commits: number } {
  const r = new Random(seed);
  const k = intensity;
  const voters = Array.from({ length: size }, (_, i) => i + 1);
  const c = new RaftCluster();
  const inv = new Invariants();
  const log = (s: string) => {
    trace.push(s);
    if (trace.length > 60) trace.shift();
  };
  for (const id of voters) {
    c.add(id, voters, { seed: seed * 31 + id, preVote: r.chance(0.7), checkQuorum: r.chance(0.7), maxMsgEntries: r.int(1, 8), maxInflight: r.int(1, 8), maxUncommittedBytes: r.pick([0, 0, 40]) });
  }
  const down = new Map<number, number>(); // node → step it comes back
  let net: InFlight[] = [];
  let proposals = 0;
  let reads = 0;
  /** Read context → highest index applied anywhere when the read was issued. */
  const readsIssued = new Map<string, number>();
  const enc = new TextEncoder();
  const dropP = r.pick([0, 0.02, 0.1, 0.2]);
  const maxDelay = r.int(0, 4);
  const dupP = r.pick([0, 0.02]);

  const checkedCommit = new Map<number, number>();
  const restart = (id: number) => {
    c.restart(id);
    inv.restarted(id, c.get(id).storage.all());
  };

  for (let now = 0; now < steps + calmSteps; now++) {
    const calm = now >= steps;
    if (calm && now === steps) {
      c.side = new Map();
      for (const id of [...down.keys()]) {
        down.delete(id);
        restart(id);
        log(`${now}: calm: restart ${id}`);
      }
      log(`${now}: calm`);
    }
    // Faults.
    if (!calm) {
      if (r.chance(0.01 * k)) {
        const side = new Map(voters.map((v) => [v, r.int(0, 1)]));
        c.side = side;
        log(`${now}: partition ${[...side].map(([v, s]) => `${v}:${s}`).join(' ')}`);
      } else if (c.side.size > 0 && r.chance(0.03)) {
        c.side = new Map();
        log(`${now}: heal`);
      }
      if (r.chance(0.01 * k) && down.size + 1 < size) {
        const id = r.pick(voters.filter((v) => !down.has(v)));
        down.set(id, now + r.int(1, 30));
        log(`${now}: crash ${id}`);
      }
    }
    for (const [id, at] of down) {
      if (at <= now && !calm) {
        down.delete(id);
        restart(id);
        log(`${now}: restart ${id}`);
      }
    }
    const up = voters.filter((v) => !down.has(v));
    // Clients (quiet for the last 30 steps so the cluster can settle).
    const quiet = now >= steps + calmSteps - 30;
    if (!quiet && r.chance(calm ? 0.3 : 0.2)) {
      const id = r.pick(up);
      try {
        c.get(id).node.propose(enc.encode(`p${proposals++}`));
      } catch (e) {
        if (!(e instanceof NotLeaderError) && !isOctopiiError(e, 'RESOURCE_EXHAUSTED')) throw e;
      }
    }
    if (r.chance(0.05)) {
      const id = r.pick(up);
      try {
        c.get(id).node.readIndex(`r${now}`);
        readsIssued.set(`r${now}`, inv.maxApplied());
      } catch (e) {
        if (!isOctopiiError(e, 'NOT_LEADER')) throw e;
      }
    }
    // Time.
    for (const id of up) if (calm || r.chance(0.9)) c.get(id).node.tick();
    // Background syncs of leaders' writes (sendBeforeSync Readies acknowledged early) complete.
    for (const id of up) if (c.get(id).syncing && (calm || r.chance(0.5))) c.finishSync(id);
    // Drivers: persist, send, apply.
    for (const id of r.chance(0.5) ? up : [...up].reverse()) {
      if (!calm && r.chance(0.1)) continue; // a slow driver
      const before = c.queue.length;
      const crashBeforeSync = !calm && r.chance(0.005 * k) && down.size + 1 < size;
      const rd = c.processReady(id, crashBeforeSync, !calm && r.chance(0.5));
      if (!rd) continue;
      const post = (sent: Message[]) => {
        for (const m of sent) {
          // Nothing leaves before the term and vote it rests on are durable (Raft §5, Figure 2 "Persistent state").
          if (process.env.SIM_DURABLE_QUORUM !== '0' && !m.type.startsWith('MsgPreVote')) {
            const dh = c.get(id).storage.durableCopy().hardState();
            if (dh.term < m.term) inv.fail(`Durable term: node ${id} sent ${m.type} of term ${m.term} with durable term ${dh.term}`);
            if (m.type === 'MsgVote' && dh.term === m.term && dh.vote !== id) inv.fail(`Durable vote: node ${id} asked for votes in term ${m.term} before its own vote was durable`);
            if (m.type === 'MsgVoteResp' && !m.reject && dh.term === m.term && dh.vote !== m.to) inv.fail(`Durable vote: node ${id} granted ${m.to} a vote in term ${m.term} before it was durable`);
          }
          if (!calm && r.chance(dropP)) continue;
          net.push({ m, at: now + (calm ? 0 : r.int(0, maxDelay)) });
          if (!calm && r.chance(dupP)) net.push({ m, at: now + r.int(0, maxDelay + 2) });
        }
      };
      if (crashBeforeSync) {
        // Crash after writing, before the fsync: the writes are lost; only a leader's messages
        // sent before its write (sendBeforeSync) went out.
        post(c.queue.splice(before));
        down.set(id, now + r.int(1, 20));
        log(`${now}: crash ${id} before sync${rd.sendBeforeSync ? ' (its messages were sent)' : ''}`);
        continue;
      }
      inv.appended(id, rd.entries);
      inv.appliedBy(id, rd.committedEntries);
      for (const rs of rd.readStates) {
        // Linearizable reads (dissertation §6.4): the read point covers every write completed before the read began.
        const floor = readsIssued.get(rs.context);
        if (floor === undefined || rs.index < floor) inv.fail(`ReadIndex: read ${rs.context} at index ${rs.index}, but ${floor ?? '(unknown read)'} was applied before it was issued`);
        reads++;
      }
      const sent = c.queue.splice(before);
      if (rd.sendBeforeSync) post(sent); // went out before the write
      if (!calm && r.chance(0.005 * k) && down.size + 1 < size) {
        // Crash after the fsync, before sending: the writes survive, the messages are lost (unless already sent).
        down.set(id, now + r.int(1, 20));
        log(`${now}: crash ${id} after persisting`);
        continue;
      }
      if (!rd.sendBeforeSync) post(sent);
    }
    // Network: deliver what is due, in random order (reordering) until the calm phase, then in
    // send order (one ordered stream per peer, as a healthy transport gives).
    const due = net.filter((f) => f.at <= now);
    net = net.filter((f) => f.at > now);
    for (let i = calm ? 0 : due.length - 1; i > 0; i--) {
      const j = r.int(0, i);
      [due[i], due[j]] = [due[j]!, due[i]!];
    }
    for (const { m } of due) {
      if (down.has(m.to) || !c.connected(m.from, m.to)) continue;
      log(`${now}: ${describeMessage(m).slice(0, 160)}`);
      c.get(m.to).node.step(m);
    }
    // Commit durability (Raft §5.3/§10.2.1): an entry a node counts committed is on the disks of a quorum.
    if (process.env.SIM_DURABLE_QUORUM !== '0') {
      for (const id of up) {
        const st = c.get(id).node.status();
        if (st.commit === 0 || st.commit === checkedCommit.get(id)) continue;
        checkedCommit.set(id, st.commit);
        const t = c.get(id).node.logTerm(st.commit);
        const holders = voters.filter((v) => c.get(v).storage.durableCopy().all()[st.commit - 1]?.term === t);
        if (holders.length < Math.floor(size / 2) + 1) inv.fail(`Durable quorum: node ${id} (${st.role}, term ${st.term}) has commit ${t}/${st.commit}, but only ${holders.join(',') || 'none'} hold it on disk`);
      }
    }
    // Election Safety and Leader Completeness.
    for (const id of up) {
      const st = c.get(id).node.status();
      if (c.get(id).node.state !== st.role) inv.fail(`node ${id}: chart state ${c.get(id).node.state} but role ${st.role}`);
      if (st.role === 'leader') inv.leader(id, st.term, (i) => c.get(id).node.logTerm(i));
    }
  }
  const leaders = voters.filter((v) => c.get(v).node.status().role === 'leader');
  const commits = Math.max(...voters.map((v) => c.get(v).node.status().commit));
  if (leaders.length === 0) throw new Error(`liveness: no leader after ${calmSteps} calm steps`);
  const lead = leaders.reduce((a, b) => (c.get(a).node.status().term >= c.get(b).node.status().term ? a : b));
  const ls = c.get(lead).node.status();
  if (ls.commit !== ls.lastIndex) throw new Error(`liveness: leader ${lead} commit ${ls.commit} lags its log ${ls.lastIndex} after the calm phase`);
  for (const v of voters) {
    const st = c.get(v).node.status();
    // Everyone caught up with the leader.
    if (st.term !== ls.term || st.lead !== lead || st.commit !== ls.commit) {
      throw new Error(`liveness: after the calm phase node ${v} (term ${st.term}, lead ${st.lead}, commit ${st.commit}) has not caught up with leader ${lead} (term ${ls.term}, commit ${ls.commit})`);
    }
  }
  if (process.env.SIM_STATS) console.log(`seed ${seed}: size ${size} commits ${commits} terms ${inv.leaders.size} maxTerm ${Math.max(0, ...inv.leaders.keys())} proposals ${proposals} reads ${reads}`);
  return { commits };
}

