/**
 * Fixtures for the end-to-end Shipping Lane tests (test/integration/lane-quic.test.ts,
 * test/integration/cli.test.ts): random files written and hashed in streams, a collector for a
 * node's received events, a stream wrapper that corrupts data in transit, and a registry that
 * stops every node a test started.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OctopiiNode, type NodeStartOptions, type ReceivedEvent } from '../../src/node.js';
import { generateIdentity } from '../../src/identity.js';
import type { DuplexStream } from '../../src/transport/types.js';

/** A fresh directory under os.tmpdir(); remove it with `rm(dir, { recursive: true })`. */
export const tempDir = (prefix = 'octopii-test-'): Promise<string> => mkdtemp(join(tmpdir(), prefix));

/** Writes `size` random bytes to `path` in 1 MiB pieces (constant memory). Returns `path`. */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  const fh = await open(path, 'w');
  try {
    for (let off = 0; off < size; off += 1 << 20) {
      await fh.write(randomBytes(Math.min(1 << 20, size - off)));
    }
  } finally {
    await fh.close();
  }
  return path;
}

/** Hex SHA-256 of a file, read as a stream. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

export const sha256Hex = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Directory entries, sorted; [] if the directory does not exist. */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/**
 * Collects a node's {@link ReceivedEvent}s from the moment it is created. `waitFor` resolves
 * with the first collected event (past or future) matching `pred` that no earlier `waitFor`
 * returned, and rejects after `timeoutMs` (a bound against hangs, not a speed assertion).
 */
export class Inbox {
  readonly events: ReceivedEvent[] = [];
  private readonly taken = new Set<ReceivedEvent>();
  private waiters: { pred: (e: ReceivedEvent) => boolean; resolve: (e: ReceivedEvent) => void }[] = [];
  private readonly off: () => void;

  constructor(node: OctopiiNode) {
    this.off = node.onReceived((e) => {
      this.events.push(e);
      const w = this.waiters.find((x) => x.pred(e));
      if (w) {
        this.waiters = this.waiters.filter((x) => x !== w);
        this.taken.add(e);
        w.resolve(e);
      }
    });
  }

  /** Events whose peer is `peer` (a node ID). */
  from(peer: string): ReceivedEvent[] {
    return this.events.filter((e) => e.peer === peer);
  }

  waitFor(pred: (e: ReceivedEvent) => boolean, timeoutMs = 60_000, what = 'received event'): Promise<ReceivedEvent> {
    const seen = this.events.find((e) => !this.taken.has(e) && pred(e));
    if (seen) {
      this.taken.add(seen);
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(this.events.map(summary))}`));
      }, timeoutMs);
      const w = {
        pred,
        resolve: (e: ReceivedEvent) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      this.waiters.push(w);
    });
  }

  close(): void {
    this.off();
  }
}

const summary = (e: ReceivedEvent) => ({ ok: e.ok, peer: e.peer, bytes: e.bytes, error: e.error?.code });

/**
 * Starts nodes with a fresh in-memory identity (never touching ~/.octopii) and a data dir
 * under `root`, and stops them all in {@link NodePool.stopAll}.
 */
export class NodePool {
  private readonly nodes = new Set<OctopiiNode>();
  constructor(private readonly root: string) {}

  async start(options: NodeStartOptions = {}): Promise<OctopiiNode> {
    const node = await OctopiiNode.start({
      listen: '127.0.0.1:0',
      dataDir: join(this.root, 'data'),
      identity: generateIdentity(),
      ...options,
    });
    this.nodes.add(node);
    return node;
  }

  async stop(node: OctopiiNode): Promise<void> {
    this.nodes.delete(node);
    await node.stop();
  }

  async stopAll(): Promise<void> {
    const all = [...this.nodes];
    this.nodes.clear();
    await Promise.all(all.map((n) => n.stop()));
  }
}

/**
 * Wraps a real stream so the data bytes at lane offsets `flipAt` (0 = first data byte, after
 * the 8-byte header) are XOR-ed with 0xff on their way out; everything else passes unchanged,
 * so the sender still sends the true SHA-256 of its source (seed 001: receiver answers 1).
 */
export function corruptingStream(inner: DuplexStream, flipAt: readonly number[]): DuplexStream {
  let offset = 0; // bytes of the lane frame seen so far (header included)
  const targets = new Set(flipAt.map((i) => i + 8));
  const t = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, c) {
      const out = new Uint8Array(chunk); // copy: the sender may reuse its buffer
      for (let i = 0; i < out.byteLength; i++) if (targets.has(offset + i)) out[i]! ^= 0xff;
      offset += out.byteLength;
      c.enqueue(out);
    },
  });
  void t.readable.pipeTo(inner.writable).catch(() => undefined);
  return { id: inner.id, readable: inner.readable, writable: t.writable, abort: (r) => inner.abort(r) };
}

/** Writes `chunks` to a stream's writable and closes it. */
export async function writeAllAndClose(stream: DuplexStream, ...chunks: Uint8Array[]): Promise<void> {
  const w = stream.writable.getWriter();
  for (const c of chunks) await w.write(c);
  await w.close();
}

/** Reads a stream's readable to its end. */
export async function readToEnd(stream: DuplexStream): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const r = stream.readable.getReader();
  for (;;) {
    const { done, value } = await r.read();
    if (done) break;
    parts.push(value);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

export { rm };
