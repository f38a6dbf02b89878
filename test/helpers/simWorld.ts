/**
 * Whole octopii nodes in one process: each a real OctopiiNode on the in-memory network, all on
 * one XState SimulatedClock (TigerBeetle's VOPR shape: time and faults are inputs). Used by the
 * seeded simulations (test/sim/nodes.test.ts) and the scenario runner (test/scenarios/).
 *
 * Identities derive from names, so node IDs — and the simultaneous-open tie-break between
 * them — are the same in every run. Received blobs go to real temp directories (real files,
 * real fsync), hashing is inline (deterministic).
 */
import { createHash, createPrivateKey } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedClock } from 'xstate';
import { identityFromPrivateKey, type Identity } from '../../src/identity.js';
import { OctopiiNode, type PeerOptions, type ReceivedEvent } from '../../src/node.js';
import { inlineHasher } from '../../src/hash/index.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import type { TransferResult } from '../../src/lane/index.js';
import { startFlightRecorder, type FlightRecorder } from '../../src/observe/recorder.js';
import { codecJobsInFlight } from '../../src/blobs/codec.js';

/** Deterministic identity from a name (Ed25519 seed = SHA-256 of the name). */
export function identityOf(name: string): Identity {
  const seed = createHash('sha256').update(`octopii-sim:${name}`).digest();
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  return identityFromPrivateKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
}


/** Real time a flush waits for outstanding file I/O before letting simulated time go on, ms. */
const FILE_IO_WAIT_MS = 30_000;
/** libuv request types of file-system operations (fs/promises, fs callbacks, file handle closes). */
const FILE_IO = new Set(['FSReqPromise', 'FSReqCallback', 'CloseReq', 'FileHandleCloseReq']);

/** Whether a file-system request or a block codec job (zlib on the thread pool, which that list does not show) of this process is still outstanding. */
function fileIoPending(): boolean {
  return codecJobsInFlight() > 0 || process.getActiveResourcesInfo().some((r) => FILE_IO.has(r));
}

/** What happened, in order, with the simulated time. */
export interface WorldEvent {
  t: number;
  text: string;
}

interface SimNode {
  name: string;
  identity: Identity;
  address: string;
  dir: string;
  node: OctopiiNode | null;
  received: ReceivedEvent[];
}

export interface WorldOptions {
  peer?: PeerOptions;
  /** Bytes per stream direction in flight on the memory network (default 64 KiB). */
  highWaterMark?: number;
  /** Clock step of `advance`, ms (default 10). */
  stepMs?: number;
  /**
   * Where nodes keep what they receive: `dir` (real files in a temp dir, the default) or
   * `memory` (no file I/O at all, so every step is a pure function of the clock — scenarios).
   */
  receive?: 'dir' | 'memory';
  /**
   * A directory to keep a flight recording of every node's run in (`<name>-<n>.flight.cbor`, n =
   * the node's start count), written when the node stops; `octopii replay FILE` steps through it.
   */
  record?: string;
  /** Node resource limits (config `limits`). */
  limits?: Partial<{ incomingPerPeer: number; incomingPerNode: number; connections: number; receiveStallMs: number }>;
}

export class SimWorld {
  readonly clock = new SimulatedClock();
  readonly network: MemoryNetwork;
  readonly nodes = new Map<string, SimNode>();
  readonly events: WorldEvent[] = [];
  /** Flight recordings written (with `record`), in the order their nodes started. */
  readonly recordings: string[] = [];
  readonly #recorders = new Map<string, FlightRecorder>();
  readonly transfers = new Map<string, { from: string; to: string; promise: Promise<TransferResult>; result?: TransferResult; bytes: number; sha256: string }>();
  #root = '';
  #port = 0;

  constructor(readonly options: WorldOptions = {}) {
    this.network = new MemoryNetwork({ clock: this.clock, highWaterMark: options.highWaterMark ?? 64 * 1024 });
  }

  static async create(options: WorldOptions = {}): Promise<SimWorld> {
    const w = new SimWorld(options);
    w.#root = await mkdtemp(join(tmpdir(), 'octopii-sim-'));
    return w;
  }

  get now(): number {
    return this.clock.now();
  }

  log(text: string): void {
    this.events.push({ t: this.clock.now(), text });
  }

  /** Node IDs in `text` replaced by names. */
  names(text: string): string {
    let out = text;
    for (const n of this.nodes.values()) out = out.split(n.identity.nodeId).join(n.name);
    return out;
  }

  /** Starts (or restarts) node `name` on its fixed address. */
  async start(name: string): Promise<OctopiiNode> {
    let n = this.nodes.get(name);
    if (!n) {
      n = { name, identity: identityOf(name), address: `10.0.0.${++this.#port}:4000`, dir: join(this.#root, name), node: null, received: [] };
      this.nodes.set(name, n);
    }
    if (n.node) throw new Error(`${name} is running`);
    if (this.network.isDown(n.address)) this.network.restart(n.address);
    const node = await OctopiiNode.start({
      identity: n.identity,
      listen: n.address,
      ...(this.options.receive === 'memory' ? {} : { receiveDir: n.dir }),
      dataDir: n.dir,
      runtime: { clock: this.clock, transport: this.network.transport({ identity: n.identity }), hasher: inlineHasher },
      peer: this.options.peer ?? {},
      ...(this.options.limits ? { limits: this.options.limits as never } : {}),
    });
    n.node = node;
    if (this.options.record) {
      const path = join(this.options.record, `${name}-${this.recordings.filter((r) => r.includes(`/${name}-`)).length + 1}.flight.cbor`);
      this.recordings.push(path);
      this.#recorders.set(name, startFlightRecorder(node, { path, flushMs: 0 }));
    }
    const self = n;
    node.onReceived((e) => {
      self.received.push(e);
      this.log(`${name}: received ${e.bytes} bytes from ${this.names(e.peer)} ${e.ok ? 'ok' : `failed ${e.error?.code}`}`);
    });
    node.onEscalation((e) => this.log(`${name}: escalated: ${e.message}`));
    void node.closed.then((e) => this.log(`${name}: stopped${e ? ' (escalated)' : ''}`));
    node.onPeer((e) => this.log(`${name}: peer ${this.names(e.peer.replace(/^peer:/, ''))} ${e.type.replace('peer.', '')}${e.error ? ` (${e.error.code})` : ''}`));
    return node;
  }

  node(name: string): OctopiiNode {
    const n = this.nodes.get(name)?.node;
    if (!n) throw new Error(`${name} is not running`);
    return n;
  }

  ref(name: string): { address: string; nodeId: string } {
    const n = this.nodes.get(name)!;
    return { address: n.address, nodeId: n.identity.nodeId };
  }

  /** Kills `name` abruptly: the network drops all its connections and refuses it until restart. */
  async kill(name: string): Promise<void> {
    const n = this.nodes.get(name)!;
    this.network.crash(n.address);
    await this.stop(name);
  }

  /** Stops `name` cleanly (simulated time runs while it says bye and waits for its peers). */
  async stop(name: string): Promise<void> {
    const n = this.nodes.get(name)!;
    const node = n.node;
    n.node = null;
    if (!node) return;
    let done = false;
    const stopped = node.stop().finally(() => (done = true));
    await this.until(() => done, 10_000);
    await stopped;
    await this.#closeRecorder(name);
  }

  async #closeRecorder(name: string): Promise<void> {
    const rec = this.#recorders.get(name);
    this.#recorders.delete(name);
    await rec?.close();
  }

  /** Starts a transfer of `bytes` deterministic bytes (from `label`) from `from` to `to`. */
  send(label: string, from: string, to: string, bytes: number): void {
    const data = deterministicBytes(label, bytes);
    const sha256 = createHash('sha256').update(data).digest('hex');
    const promise = this.node(from).send(this.ref(to), { kind: 'memory', data }, { timeoutMs: 10_000 });
    const t = { from, to, promise, bytes, sha256 } as { from: string; to: string; promise: Promise<TransferResult>; result?: TransferResult; bytes: number; sha256: string };
    this.transfers.set(label, t);
    promise.then((r) => {
      t.result = r;
      this.log(`${label}: ${from} → ${to} ${r.success ? 'ok' : `failed ${r.error?.code}`}`);
    });
  }

  /**
   * Lets promise jobs and real file I/O settle (no simulated time passes): `rounds` turns of the
   * event loop, then more until no file-system request or block codec job is outstanding — so simulated time never
   * runs ahead of a slow fsync on a loaded machine, and a seed replays the same way under load.
   */
  async flush(rounds = 4): Promise<void> {
    for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
    const deadline = performance.now() + FILE_IO_WAIT_MS;
    while (fileIoPending() && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1));
      for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
    }
  }

  /** Advances simulated time by `ms`, in steps, settling between steps. */
  async advance(ms: number): Promise<void> {
    const step = this.options.stepMs ?? 10;
    await this.flush();
    for (let done = 0; done < ms; done += step) {
      this.clock.increment(Math.min(step, ms - done));
      await this.flush();
    }
  }

  /** Advances until `pred()` holds or `limitMs` of simulated time passed; returns whether it held. */
  async until(pred: () => boolean, limitMs = 60_000): Promise<boolean> {
    const step = this.options.stepMs ?? 10;
    await this.flush(8);
    for (let t = 0; !pred(); t += step) {
      if (t >= limitMs) return false;
      this.clock.increment(step);
      await this.flush(8);
    }
    return true;
  }

  /** Files in `name`'s receive directory: name → SHA-256 of the content. */
  async blobs(name: string): Promise<Map<string, string>> {
    const n = this.nodes.get(name)!;
    const out = new Map<string, string>();
    let files: string[] = [];
    try {
      files = await readdir(n.dir);
    } catch {
      return out;
    }
    for (const f of files.sort()) out.set(f, createHash('sha256').update(await readFile(join(n.dir, f))).digest('hex'));
    return out;
  }

  async close(): Promise<void> {
    for (const n of this.nodes.values()) {
      const node = n.node;
      n.node = null;
      await node?.stop().catch(() => undefined);
      await this.#closeRecorder(n.name);
    }
    if (this.#root) await rm(this.#root, { recursive: true, force: true });
  }
}

/** `bytes` pseudo-random bytes determined by `label`. */
export function deterministicBytes(label: string, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let block = createHash('sha256').update(label).digest();
  for (let off = 0; off < bytes; off += 32) {
    out.set(block.subarray(0, Math.min(32, bytes - off)), off);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}
