/**
 * A whole Raft cluster over the pure core, in one process: nodes (RawNode + MemoryLogStorage),
 * one in-memory message queue, partitions, crash-restarts. The scenario runner and the seeded
 * simulation both drive it; it does only what a real driver does (persist, send, apply, advance).
 */
import { MemoryLogStorage, RawNode, type Entry, type Message, type RaftMachineInput, type Ready } from '../../src/raft/index.js';
import { describeMessage as describe, describeReady } from './raftFormat.js';

export type NodeOptions = Partial<Omit<RaftMachineInput, 'id' | 'voters' | 'storage' | 'hardState'>>;

export interface ClusterNode {
  id: number;
  voters: number[];
  opts: NodeOptions;
  node: RawNode;
  storage: MemoryLogStorage;
  /** Every entry the driver applied since the node (re)started, in order (a restart applies from 1 again). */
  applied: Entry[];
  /** Last entry of a leader's write still syncing in the background (see `processReady`'s `background`). */
  syncing: { index: number; term: number } | null;
}

export class RaftCluster {
  readonly nodes = new Map<number, ClusterNode>();
  /** Messages sent and not yet delivered, in send order. */
  queue: Message[] = [];
  /** Node → side; messages between different sides are dropped on delivery. Empty = healed. */
  side = new Map<number, number>();
  /** Observers of each handled Ready (the simulation checks invariants here). */
  onReady: ((id: number, rd: Ready) => void)[] = [];

  add(id: number, voters: number[], opts: NodeOptions, storage = new MemoryLogStorage()): ClusterNode {
    const hs = storage.hardState();
    const node = new RawNode({ ...opts, id, voters, storage, hardState: hs });
    const n: ClusterNode = { id, voters, opts, node, storage, applied: [], syncing: null };
    this.nodes.set(id, n);
    return n;
  }

  get(id: number): ClusterNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Crash and restart: only what the driver synced survives (an unhandled Ready is lost). */
  restart(id: number, storage?: MemoryLogStorage): ClusterNode {
    const old = this.get(id);
    old.node.stop();
    return this.add(id, old.voters, old.opts, storage ?? old.storage.durableCopy());
  }

  /**
   * Handle one Ready of `id` like a driver: write, sync when `mustSync`, send (before the sync
   * when `sendBeforeSync`), apply, advance. Returns it, or null when none. With
   * `crashBeforeSync` the node dies after writing (and after sending, when `sendBeforeSync`):
   * nothing becomes durable or applied (restart it from `storage.durableCopy()`). With
   * `background`, a `sendBeforeSync` Ready with entries is acknowledged before its sync, which
   * {@link RaftCluster.finishSync} completes later (a crash meanwhile loses it).
   */
  processReady(id: number, crashBeforeSync = false, background = false): Ready | null {
    const n = this.get(id);
    if (!n.node.hasReady()) return null;
    const rd = n.node.ready();
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    n.storage.append(rd.entries);
    if (rd.sendBeforeSync) this.queue.push(...rd.messages);
    if (crashBeforeSync) return rd;
    const last = rd.entries[rd.entries.length - 1];
    if (background && rd.sendBeforeSync && last) {
      // A leader's write left syncing in the background: acknowledged now, reported by finishSync.
      n.applied.push(...rd.committedEntries);
      for (const f of this.onReady) f(id, rd);
      n.node.advance(rd, { durable: false });
      n.syncing = { index: last.index, term: last.term };
      return rd;
    }
    if (rd.mustSync) n.storage.sync();
    if (!rd.sendBeforeSync) this.queue.push(...rd.messages);
    n.applied.push(...rd.committedEntries);
    for (const f of this.onReady) f(id, rd);
    n.node.advance(rd);
    return rd;
  }

  /** The background sync of `id` completes: everything written so far is durable, and the core hears of it. */
  finishSync(id: number): void {
    const n = this.get(id);
    if (!n.syncing) return;
    n.storage.sync();
    const { index, term } = n.syncing;
    n.syncing = null;
    n.node.durable(index, term);
  }

  connected(a: number, b: number): boolean {
    return this.side.size === 0 || (this.side.get(a) ?? 0) === (this.side.get(b) ?? 0);
  }

  /** Take the queued messages addressed to `id` (all of them, in order). */
  take(id: number): Message[] {
    const mine = this.queue.filter((m) => m.to === id);
    this.queue = this.queue.filter((m) => m.to !== id);
    return mine;
  }

  /** Deliver every queued message to `id`; returns one line per message. */
  deliver(id: number): string[] {
    const out: string[] = [];
    for (const m of this.take(id)) {
      const line = describe(m);
      if (!this.connected(m.from, m.to)) {
        out.push(`${line} DROPPED (partition)`);
        continue;
      }
      out.push(line);
      this.get(id).node.step(m);
    }
    return out;
  }

  /** Process Readies and deliver messages until nothing moves; etcd's `stabilize` transcript. */
  stabilize(ids: number[] = [...this.nodes.keys()]): string[] {
    const out: string[] = [];
    for (let round = 0; ; round++) {
      if (round > 1000) throw new Error('stabilize: still busy after 1000 rounds (a message loop?)');
      let moved = false;
      for (const id of ids) {
        const rd = this.processReady(id);
        if (rd) {
          moved = true;
          out.push(`> ${id} handling Ready`, ...describeReady(rd).map((l) => `  ${l}`));
        }
      }
      for (const id of ids) {
        if (!this.queue.some((m) => m.to === id)) continue;
        moved = true;
        out.push(`> ${id} receiving messages`, ...this.deliver(id).map((l) => `  ${l}`));
      }
      if (!moved) return out;
    }
  }
}
