/**
 * A KV cluster of whole octopii nodes on SimWorld's memory network (test/helpers/simWorld.ts):
 * each member runs a RaftHost with its WAL in a real temp dir, through a file layer that can
 * "lose power" — on `crash`, every file is cut back to what its last fdatasync covered, and
 * the old process's later writes fail — so a restart finds only what was synced.
 */
import { join } from 'node:path';
import { nodeWalFs, type WalFile, type WalFs } from '../../src/wal/index.js';
import { RaftHost, type RaftMember } from '../../src/raft/index.js';
import { KvStateMachine, KvServer, KvClient, type KvResult } from '../../src/kv/index.js';
import { SimWorld } from '../helpers/simWorld.js';

/** A WalFs whose unsynced bytes vanish at `crash()`, and which fails every call afterwards. */
export class CrashableFs implements WalFs {
  #dead = false;
  /** Bytes covered by the last datasync, per file (its record moves with a rename). */
  readonly #synced = new Map<string, { n: number }>();
  /** When set, writes fail with this errno code (ENOSPC, EIO). */
  failWrites: string | null = null;
  /** File operations under way (the simulation lets them finish before time moves on). */
  readonly inflight = new Set<Promise<unknown>>();

  constructor(private readonly realSync = false) {}

  #track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const drop = () => this.inflight.delete(p);
    p.then(drop, drop);
    return p;
  }

  #check(): void {
    if (this.#dead) throw Object.assign(new Error('power lost'), { code: 'EIO' });
  }

  #wrap(f: WalFile, fresh: boolean): WalFile {
    const self = this;
    const path = f.path;
    let rec = this.#synced.get(path);
    if (fresh || !rec) this.#synced.set(path, (rec = { n: 0 }));
    const r = rec;
    return {
      path,
      async write(data, position) {
        self.#check();
        if (self.failWrites) throw Object.assign(new Error(`injected ${self.failWrites}`), { code: self.failWrites });
        return self.#track(f.write(data, position));
      },
      read: (into, position) => f.read(into, position),
      async datasync() {
        self.#check();
        // Durability is modelled (crash() cuts back to here); a real fsync only where asked.
        if (self.realSync) await self.#track(f.datasync());
        r.n = await self.#track(f.size());
      },
      async truncate(length) {
        self.#check();
        await f.truncate(length);
      },
      size: () => f.size(),
      close: () => f.close(),
    };
  }

  mkdirp = (dir: string) => (this.#check(), nodeWalFs.mkdirp(dir));
  list = (dir: string) => nodeWalFs.list(dir);
  openWrite = async (p: string) => {
    this.#check();
    const f = await nodeWalFs.openWrite(p);
    if (!this.#synced.has(p)) this.#synced.set(p, { n: await f.size() });
    return this.#wrap(f, false);
  };
  openRead = (p: string) => nodeWalFs.openRead(p);
  create = async (p: string) => (this.#check(), this.#wrap(await nodeWalFs.create(p), true));
  readAll = (p: string) => nodeWalFs.readAll(p);
  rename = async (a: string, b: string) => {
    this.#check();
    await nodeWalFs.rename(a, b);
    const rec = this.#synced.get(a);
    if (rec) {
      this.#synced.delete(a);
      this.#synced.set(b, rec);
    }
  };
  remove = (p: string) => (this.#check(), nodeWalFs.remove(p));
  syncDir = (d: string) => (this.#check(), nodeWalFs.syncDir(d));

  /** Power loss: unsynced bytes of every file are gone; this layer refuses everything after. */
  async crash(): Promise<void> {
    this.#dead = true;
    for (const [p, { n }] of this.#synced) {
      const f = await nodeWalFs.openWrite(p).catch(() => null);
      if (!f) continue;
      if ((await f.size()) > n) await f.truncate(n);
      await f.close();
    }
  }
}

export interface SimMember {
  name: string;
  host: RaftHost<KvResult>;
  sm: KvStateMachine;
  server: KvServer;
  fs: CrashableFs;
}

export class KvSim {
  readonly running = new Map<number, SimMember>();
  members: RaftMember[] = [];
  /** Every committed (applied) entry seen per index, to check State Machine Safety. */
  readonly appliedAt = new Map<number, string>();
  violations: string[] = [];

  private constructor(readonly world: SimWorld, readonly n: number, readonly seed: number) {}

  static async create(n: number, seed: number): Promise<KvSim> {
    const world = await SimWorld.create({ receive: 'memory', peer: { keepAliveMs: 300, deadAfterMs: 900, retryInitialMs: 50, maxRetries: 1_000_000 } });
    const sim = new KvSim(world, n, seed);
    for (let i = 1; i <= n; i++) {
      await world.start(`m${i}`);
      sim.members.push({ id: i, ...world.ref(`m${i}`) });
    }
    for (let i = 1; i <= n; i++) await sim.open(i);
    return sim;
  }

  name(id: number): string {
    return `m${id}`;
  }

  async open(id: number): Promise<SimMember> {
    const name = this.name(id);
    const node = this.world.node(name);
    const fs = new CrashableFs();
    const sm = new KvStateMachine();
    const dir = join(this.world.nodes.get(name)!.dir, 'raft');
    const host = await RaftHost.open({ node, dir, self: id, members: this.members, stateMachine: sm, tickMs: 10, electionTick: 10, wal: { fs }, raft: { seed: this.seed * 31 + id } });
    const server = new KvServer({ node, host, stateMachine: sm, timeoutMs: 1000 });
    const m = { name, host, sm, server, fs };
    this.running.set(id, m);
    return m;
  }

  /** Crash: the process dies, unsynced WAL bytes are lost, the network forgets it. */
  async crash(id: number): Promise<void> {
    const m = this.running.get(id);
    if (!m) return;
    this.running.delete(id);
    m.server.close();
    void m.host.stop();
    await m.fs.crash();
    await this.drive(this.world.kill(m.name));
  }

  /** Restarts a crashed member from what its WAL synced (time runs while it starts). */
  async restart(id: number): Promise<void> {
    await this.drive((async () => {
      await this.world.start(this.name(id));
      await this.open(id);
    })());
  }

  /** Awaits `p` while simulated time runs (starting a node waits on the clock). */
  async drive<T>(p: Promise<T>): Promise<T> {
    let done = false;
    const settled = p.finally(() => (done = true));
    settled.catch(() => undefined);
    while (!done) await this.advance(10);
    return settled;
  }

  /** Waits until no member's file operation is under way (simulated time stands still meanwhile). */
  async settle(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      await this.world.flush(4);
      const pending = [...this.running.values()].flatMap((m) => [...m.fs.inflight]);
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }

  /** Advances simulated time by `ms` in 10 ms steps, letting file I/O finish before each step. */
  async advance(ms: number): Promise<void> {
    for (let done = 0; done < ms; done += 10) {
      await this.settle();
      this.world.clock.increment(Math.min(10, ms - done));
    }
    await this.settle();
  }

  /** Advances until `pred()` holds or `limitMs` passed; returns whether it held. */
  async until(pred: () => boolean, limitMs = 60_000): Promise<boolean> {
    await this.settle();
    for (let t = 0; !pred(); t += 10) {
      if (t >= limitMs) return false;
      this.world.clock.increment(10);
      await this.settle();
    }
    return true;
  }

  /** Checks Election Safety and State Machine Safety over the running members. */
  check(): void {
    const leaders = new Map<number, number>();
    for (const [id, m] of this.running) {
      const s = m.host.raw.status();
      if (s.role === 'leader') {
        const other = leaders.get(s.term);
        if (other !== undefined && other !== id) this.violations.push(`two leaders in term ${s.term}: ${other} and ${id}`);
        leaders.set(s.term, id);
      }
      const log = m.host.storage.all();
      for (let i = 1; i <= Math.min(s.commit, log.length); i++) {
        const e = log[i - 1]!;
        const key = `${e.term}:${Buffer.from(e.data).toString('hex')}`;
        const seen = this.appliedAt.get(i);
        if (seen === undefined) this.appliedAt.set(i, key);
        else if (seen !== key) this.violations.push(`member ${id} has committed ${key} at ${i}, another had ${seen}`);
      }
    }
  }

  leader(): number | undefined {
    for (const [id, m] of this.running) if (m.host.raw.status().role === 'leader') return id;
    return undefined;
  }

  async client(name: string, options: { timeoutMs?: number; attemptMs?: number } = {}): Promise<KvClient> {
    const node = await this.drive(this.world.start(name));
    return new KvClient({ node, members: this.members, timeoutMs: options.timeoutMs ?? 5000, attemptMs: options.attemptMs ?? 500 });
  }

  async close(): Promise<void> {
    for (const m of this.running.values()) {
      m.server.close();
      await m.host.stop();
    }
    this.running.clear();
    await this.world.close();
  }
}
