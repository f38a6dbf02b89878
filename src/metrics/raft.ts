/**
 * Prometheus metrics of one Raft member and its write-ahead log (etcd's `etcd_server_*` and
 * `etcd_disk_wal_fsync_duration_seconds` are the model). Term, indexes and role are read when
 * scraped; proposals and WAL syncs are counted as they settle (once per proposal and once per
 * group commit, never per message or entry):
 *
 *   octopii_raft_term, raft_commit_index, raft_applied_index, raft_last_index   gauges
 *   octopii_raft_role{role}                     1 for this member's role (leader, follower, candidate, …)
 *   octopii_raft_leader_changes_total           new leaders seen (the first included)
 *   octopii_raft_proposals_total{code}          proposals settled, by outcome (OK, NOT_LEADER, TIMEOUT, …)
 *   octopii_raft_proposal_duration_seconds      histogram: propose → applied here (or failed)
 *   octopii_wal_syncs_total                     fdatasyncs of WAL batches
 *   octopii_wal_sync_duration_seconds           histogram: fdatasync time of a batch
 *   octopii_wal_batch_calls                     histogram: WAL calls group-committed per sync
 *   octopii_wal_batch_bytes                     histogram: frame bytes per sync
 *
 *   const off = registerRaftMetrics(host, { registry });   // a RaftHost fits
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { WalSyncRecord } from '../wal/index.js';

/** What the Raft metrics read (a RaftHost fits). */
export interface RaftMetricsSource {
  status(): { role: string; term: number; commit: number; applied: number; lastIndex: number };
  readonly leaderChanges: number;
  onProposal(listener: (r: { ms: number; code: string }) => void): () => void;
  readonly storage: { readonly wal: { onSync(listener: (r: WalSyncRecord) => void): () => void } };
}

const ROLES = ['leader', 'follower', 'candidate', 'preCandidate'];
const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Registers the member's metrics in `registry` and starts feeding them; returns the unsubscribe. */
export function registerRaftMetrics(host: RaftMetricsSource, options: { registry: Registry; prefix?: string }): () => void {
  const p = options.prefix ?? 'octopii_';
  const registers = [options.registry];
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name: `${p}${name}`,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  gauge('raft_term', 'Current Raft term of this member', () => host.status().term);
  gauge('raft_commit_index', 'Highest log index known committed', () => host.status().commit);
  gauge('raft_applied_index', 'Highest log index applied to the state machine', () => host.status().applied);
  gauge('raft_last_index', 'Last index of the local log', () => host.status().lastIndex);
  new Gauge({
    name: `${p}raft_role`,
    help: 'This member\'s role: 1 for the current one, 0 for the others',
    labelNames: ['role'],
    registers,
    collect() {
      const role = host.status().role;
      for (const r of new Set([...ROLES, role])) this.set({ role: r }, r === role ? 1 : 0);
    },
  });
  new Counter({
    name: `${p}raft_leader_changes_total`,
    help: 'New leaders this member has seen (the first one included)',
    registers,
    collect() {
      this.reset();
      this.inc(host.leaderChanges);
    },
  });
  const proposals = new Counter({ name: `${p}raft_proposals_total`, help: 'Proposals settled on this member, by outcome code', labelNames: ['code'], registers });
  const proposalSeconds = new Histogram({ name: `${p}raft_proposal_duration_seconds`, help: 'Proposal latency: propose to applied on this member (or failed)', buckets: SECONDS, registers });
  const syncs = new Counter({ name: `${p}wal_syncs_total`, help: 'WAL batches written and fdatasynced', registers });
  const syncSeconds = new Histogram({ name: `${p}wal_sync_duration_seconds`, help: 'fdatasync time of one WAL batch', buckets: SECONDS, registers });
  const batchCalls = new Histogram({ name: `${p}wal_batch_calls`, help: 'WAL calls group-committed by one fdatasync', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], registers });
  const batchBytes = new Histogram({ name: `${p}wal_batch_bytes`, help: 'Frame bytes written per WAL fdatasync', buckets: [256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216], registers });
  const offProposal = host.onProposal((r) => {
    proposals.inc({ code: r.code });
    proposalSeconds.observe(r.ms / 1000);
  });
  const offSync = host.storage.wal.onSync((r) => {
    syncs.inc();
    syncSeconds.observe(r.syncMs / 1000);
    batchCalls.observe(r.calls);
    batchBytes.observe(r.bytes);
  });
  return () => {
    offProposal();
    offSync();
  };
}
