/**
 * Carries Raft messages between members on the `raft` stream kind (src/wire/raft.ts), through
 * the node's router and peer actors.
 *
 * One long-lived outbound stream per peer member, opened on the first message and again after a
 * failure: messages to one peer stay in order, a heartbeat costs one frame and not a stream
 * set-up, and everything queued while a write is under way goes out as one write (batching
 * under load). Raft tolerates loss, so a failed stream drops what it held (etcd's rafthttp
 * does the same with its stream and pipeline); the queue per peer is bounded
 * (`maxQueuedMessages`, oldest dropped).
 *
 * Inbound: a stream is accepted only from a connection whose verified node ID is a member's,
 * and each message only if its `from` is that member and its `to` is this member; anything
 * else is dropped (counted in `dropped`).
 */
import type { OctopiiNode } from '../node/node.js';
import type { DuplexStream } from '../transport/types.js';
import type { Message } from '../../machines/raft.js';
import { decodeRaftMessage, encodeRaftMessage, FrameReader } from '../wire/raft.js';

/** One member of a cluster: its Raft ID (1..N), octopii node ID and address. */
export interface RaftMember {
  readonly id: number;
  readonly nodeId: string;
  readonly address: string;
}

export interface RaftTransportOptions {
  node: OctopiiNode;
  self: number;
  members: readonly RaftMember[];
  /** Called for each accepted inbound message. */
  onMessage(m: Message): void;
  /** A stream whose write does not complete in this many ms is dropped and reopened (default 1,000). */
  writeTimeoutMs?: number;
  /** Most messages queued per peer while its stream is opening or writing (default 4096). */
  maxQueuedMessages?: number;
}

class PeerSender {
  #stream: DuplexStream | null = null;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #queue: Uint8Array[] = [];
  #busy = false;
  #closed = false;

  constructor(
    private readonly node: OctopiiNode,
    private readonly member: RaftMember,
    private readonly max: number,
    private readonly onDrop: (n: number) => void,
    private readonly writeTimeoutMs: number,
  ) {}

  send(frame: Uint8Array): void {
    if (this.#closed) return;
    this.#queue.push(frame);
    if (this.#queue.length > this.max) this.onDrop(this.#queue.splice(0, this.#queue.length - this.max).length);
    if (!this.#busy) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#busy = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        if (!this.#writer) {
          const ac = new AbortController();
          const timer = this.node.clock.setTimeout(() => ac.abort(new Error('raft stream open timed out')), this.writeTimeoutMs * 3);
          const stream = await this.node.openStream({ address: this.member.address, nodeId: this.member.nodeId }, 'raft', { signal: ac.signal }).finally(() => this.node.clock.clearTimeout(timer));
          if (this.#closed) {
            stream.abort();
            return;
          }
          this.#stream = stream;
          this.#writer = stream.writable.getWriter();
          // Nothing is ever sent back on a raft stream; drain and notice the end.
          void stream.readable.pipeTo(new WritableStream()).catch(() => undefined).finally(() => this.#reset(stream));
        }
        const batch = this.#queue;
        this.#queue = [];
        let bytes = 0;
        for (const f of batch) bytes += f.byteLength;
        const out = new Uint8Array(bytes);
        let off = 0;
        for (const f of batch) {
          out.set(f, off);
          off += f.byteLength;
        }
        try {
          await this.#write(this.#writer, out);
        } catch {
          this.onDrop(batch.length);
          this.#reset(this.#stream);
          return;
        }
      }
    } catch (e) {
      // Could not open: drop what was queued; the next message tries again. A peer whose hello
      // predates its `raft` handler (it was starting) is reconnected for a fresh hello.
      if ((e as { code?: string }).code === 'UNKNOWN_KIND') void this.node.disconnect({ address: this.member.address, nodeId: this.member.nodeId }).catch(() => undefined);
      this.onDrop(this.#queue.length);
      this.#queue = [];
    } finally {
      this.#busy = false;
    }
  }

  /** A write that does not complete within `writeTimeoutMs` (a peer that stopped reading, a dead link) fails. */
  #write(w: WritableStreamDefaultWriter<Uint8Array>, data: Uint8Array): Promise<void> {
    const clock = this.node.clock;
    let timer: unknown;
    return Promise.race([
      w.write(data),
      new Promise<never>((_, reject) => (timer = clock.setTimeout(() => reject(new Error('raft stream write timed out')), this.writeTimeoutMs))),
    ]).finally(() => clock.clearTimeout(timer));
  }

  #reset(stream: DuplexStream | null): void {
    if (stream === null || stream !== this.#stream) return;
    this.#stream = null;
    this.#writer = null;
    stream.abort();
  }

  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#reset(this.#stream);
  }
}

export class RaftTransport {
  readonly #senders = new Map<number, PeerSender>();
  readonly #byNodeId = new Map<string, number>();
  readonly #inbound = new Set<DuplexStream>();
  readonly #unregister: () => void;
  readonly #self: number;
  /** Messages dropped: queue overflow, failed streams, non-members. */
  dropped = 0;

  constructor(readonly options: RaftTransportOptions) {
    this.#self = options.self;
    for (const m of options.members) {
      this.#byNodeId.set(m.nodeId, m.id);
      if (m.id !== options.self) this.#senders.set(m.id, new PeerSender(options.node, m, options.maxQueuedMessages ?? 4096, (n) => (this.dropped += n), options.writeTimeoutMs ?? 1000));
    }
    this.#unregister = options.node.router.register('raft', (stream, ctx) => {
      const from = ctx.connection.remoteNodeId === null ? undefined : this.#byNodeId.get(ctx.connection.remoteNodeId);
      if (from === undefined || from === this.#self) {
        this.dropped++;
        stream.abort();
        return;
      }
      void this.#receive(stream, from);
    });
  }

  /** Queues `m` for its destination; unknown destinations are dropped. */
  send(m: Message): void {
    const s = this.#senders.get(m.to);
    if (s) s.send(encodeRaftMessage(m));
    else this.dropped++;
  }

  async #receive(stream: DuplexStream, from: number): Promise<void> {
    this.#inbound.add(stream);
    const frames = new FrameReader();
    const reader = stream.readable.getReader();
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        for (const body of frames.push(r.value)) {
          const m = decodeRaftMessage(body);
          if (m.from !== from || m.to !== this.#self) {
            this.dropped++;
            continue;
          }
          this.options.onMessage(m);
        }
      }
    } catch {
      // A reset or malformed stream: the peer opens a new one.
    } finally {
      this.#inbound.delete(stream);
      stream.abort();
    }
  }

  close(): void {
    this.#unregister();
    for (const s of this.#senders.values()) s.close();
    for (const s of this.#inbound) s.abort();
    this.#inbound.clear();
  }
}
