/**
 * `KvClient`: talks to a KV cluster over the `kv` stream kind from its own octopii node.
 * It follows NOT_LEADER hints (Raft §8: a follower redirects the client to the leader), tries
 * the next member when one times out or is unreachable, and retries a write with the same
 * session ID and sequence number, so the cluster applies it once however often it is sent
 * (dissertation §6.3). Reads are linearizable: the member answers after a ReadIndex round.
 *
 *   const client = new KvClient({ node, members });            // members: { id, nodeId, address }[]
 *   await client.put('x', '1');                                 // { ok: true, prev: null }
 *   await client.get('x');                                      // '1'
 *   await client.cas('x', '1', '2');                            // { ok: true, prev: '1' }
 *   const s = client.session();                                 // another session, for concurrency
 *
 * One session runs one command at a time (calls queue); use several sessions for concurrency.
 * Errors (OctopiiError): DEADLINE_EXCEEDED when no member answered within `timeoutMs`
 * (the write may or may not have been applied; retrying it on the same session is safe),
 * BAD_INPUT, ABORTED, and non-retryable errors members report.
 */
import { randomUUID } from 'node:crypto';
import { fromWire, OctopiiError, toOctopiiError } from '../errors.js';
import type { OctopiiNode } from '../node/node.js';
import type { RaftMember } from '../raft/transport.js';
import { sleep } from '../runtime/clock.js';
import type { DuplexStream } from '../transport/types.js';
import { FrameReader } from '../wire/raft.js';
import { CoalescingWriter } from './coalesce.js';
import type { KvResult } from './stateMachine.js';
import { decodeKvResponse, encodeKvFrame, MAX_KV_FRAME_BYTES, type KvRequest, type KvResponse } from './wire.js';

export interface KvClientOptions {
  node: OctopiiNode;
  members: readonly RaftMember[];
  /** Whole-call budget including retries, ms (default 10,000). */
  timeoutMs?: number;
  /** One attempt at one member, ms (default 2,000). */
  attemptMs?: number;
}

export interface KvCallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

const FINAL = new Set(['BAD_INPUT', 'TOO_LARGE', 'INVALID_ARGUMENT', 'PROTOCOL_ERROR', 'UNKNOWN_METHOD']);

class MemberConn {
  #stream: Promise<{ s: DuplexStream; w: CoalescingWriter }> | null = null;
  readonly #pending = new Map<number, { resolve(r: KvResponse): void; reject(e: unknown): void }>();

  constructor(
    private readonly node: OctopiiNode,
    readonly member: RaftMember,
  ) {}

  async call(req: KvRequest): Promise<KvResponse> {
    const { w } = await this.#open();
    const p = new Promise<KvResponse>((resolve, reject) => this.#pending.set(req.i, { resolve, reject }));
    w.write(encodeKvFrame(req));
    return p;
  }

  forget(i: number): void {
    this.#pending.delete(i);
  }

  #open() {
    if (!this.#stream) {
      const opening = this.node.openStream({ address: this.member.address, nodeId: this.member.nodeId }, 'kv').then((s) => {
        void this.#read(s);
        return { s, w: new CoalescingWriter(s.writable.getWriter(), (e) => this.#fail(e)) };
      });
      opening.catch((e) => {
        if (this.#stream === opening) this.#stream = null;
        // The member's hello predates its `kv` handler (it was starting): reconnect for a fresh one.
        if ((e as { code?: string }).code === 'UNKNOWN_KIND') void this.node.disconnect({ address: this.member.address, nodeId: this.member.nodeId }).catch(() => undefined);
      });
      this.#stream = opening;
    }
    return this.#stream;
  }

  async #read(s: DuplexStream): Promise<void> {
    const frames = new FrameReader(MAX_KV_FRAME_BYTES);
    const reader = s.readable.getReader();
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        for (const body of frames.push(r.value)) {
          const resp = decodeKvResponse(body);
          const p = this.#pending.get(resp.i);
          this.#pending.delete(resp.i);
          p?.resolve(resp);
        }
      }
      this.#fail(new OctopiiError('CONNECTION_CLOSED', `member ${this.member.id} closed the kv stream`));
    } catch (e) {
      this.#fail(e);
    }
  }

  #fail(e: unknown): void {
    const err = toOctopiiError(e, 'CONNECTION_CLOSED');
    const s = this.#stream;
    this.#stream = null;
    void s?.then(({ s }) => s.abort(err)).catch(() => undefined);
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  close(): void {
    this.#fail(new OctopiiError('CLOSED', 'kv client closed'));
  }
}

/** One client session: an ID and a sequence number, one command at a time. */
export class KvSession {
  #seq = 0;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: KvClient,
    readonly id: string = randomUUID(),
  ) {}

  /** Sets `key` to `value`; resolves with the previous value in `prev`. */
  put(key: string, value: string, o?: KvCallOptions): Promise<KvResult> {
    return this.#write({ t: 'put', k: key, v: value }, o);
  }

  /** Deletes `key`; `ok` tells whether it existed. */
  del(key: string, o?: KvCallOptions): Promise<KvResult> {
    return this.#write({ t: 'del', k: key }, o);
  }

  /** Sets `key` to `value` if its value is `expected` (null: absent); `ok` tells whether it did. */
  cas(key: string, expected: string | null, value: string, o?: KvCallOptions): Promise<KvResult> {
    return this.#write({ t: 'cas', k: key, e: expected, v: value }, o);
  }

  /** The value of `key` (null: absent), linearizable. */
  async get(key: string, o?: KvCallOptions): Promise<string | null> {
    const r = (await this.client.request({ t: 'get', k: key }, o)) as { value: string | null };
    return r.value;
  }

  #write(req: Omit<KvRequest, 'i' | 'c' | 's'>, o?: KvCallOptions): Promise<KvResult> {
    const run = this.#chain.catch(() => undefined).then(() => {
      const s = ++this.#seq;
      return this.client.request({ ...req, c: this.id, s }, o) as Promise<KvResult>;
    });
    this.#chain = run;
    return run;
  }
}

export class KvClient {
  readonly #conns = new Map<number, MemberConn>();
  readonly #node: OctopiiNode;
  readonly #members: readonly RaftMember[];
  readonly #timeoutMs: number;
  readonly #attemptMs: number;
  #leader: number | undefined;
  #next = 0;
  #reqId = 0;
  readonly #default: KvSession;
  /** Attempts that were retried (redirects, timeouts, unreachable members). */
  retries = 0;

  constructor(o: KvClientOptions) {
    if (o.members.length === 0) throw new OctopiiError('INVALID_ARGUMENT', 'kv client: no members');
    this.#node = o.node;
    this.#members = o.members;
    this.#timeoutMs = o.timeoutMs ?? 10_000;
    this.#attemptMs = o.attemptMs ?? 2000;
    for (const m of o.members) this.#conns.set(m.id, new MemberConn(o.node, m));
    this.#default = new KvSession(this);
  }

  /** A new session (its own client ID). */
  session(id?: string): KvSession {
    return new KvSession(this, id);
  }

  put(key: string, value: string, o?: KvCallOptions) {
    return this.#default.put(key, value, o);
  }
  del(key: string, o?: KvCallOptions) {
    return this.#default.del(key, o);
  }
  cas(key: string, expected: string | null, value: string, o?: KvCallOptions) {
    return this.#default.cas(key, expected, value, o);
  }
  get(key: string, o?: KvCallOptions) {
    return this.#default.get(key, o);
  }

  /** The status of member `id` (its role, term, commit and applied index). */
  async status(id: number, o: KvCallOptions = {}): Promise<Record<string, unknown>> {
    const r = await this.#attempt(this.#conns.get(id)!, { i: ++this.#reqId, t: 'status' }, o.timeoutMs ?? this.#attemptMs);
    if (r.err) throw fromWire(r.err);
    return r.r as Record<string, unknown>;
  }

  /** The member this client currently sends to first. */
  get leaderGuess(): number | undefined {
    return this.#leader;
  }

  /** Sends `req` until a member answers it, following redirects. */
  async request(req: Omit<KvRequest, 'i'>, o: KvCallOptions = {}): Promise<unknown> {
    const clock = this.#node.clock;
    const deadline = clock.now() + (o.timeoutMs ?? this.#timeoutMs);
    let last: OctopiiError | null = null;
    for (let attempt = 0; ; attempt++) {
      if (o.signal?.aborted) throw new OctopiiError('ABORTED', 'kv: aborted');
      const left = deadline - clock.now();
      if (left <= 0) throw new OctopiiError('DEADLINE_EXCEEDED', `kv ${req.t}: no member answered in time${last ? ` (last: ${last.code} ${last.message})` : ''}`, { cause: last });
      const id = this.#leader ?? this.#members[this.#next % this.#members.length]!.id;
      let resp: KvResponse;
      try {
        resp = await this.#attempt(this.#conns.get(id)!, { ...req, i: ++this.#reqId } as KvRequest, Math.min(left, this.#attemptMs));
      } catch (e) {
        last = toOctopiiError(e, 'UNAVAILABLE');
        this.#moveOn(id);
        this.retries++;
        await sleep(clock, Math.min(50 * (attempt + 1), 500)).catch(() => undefined);
        continue;
      }
      if (!resp.err) {
        this.#leader = id;
        return resp.r;
      }
      const err = fromWire(resp.err);
      // The request itself is wrong: no member will take it. Anything else is this member's
      // trouble (not the leader, its disk refused the write, it is stopping): try another.
      if (FINAL.has(err.code)) throw err;
      last = err;
      this.retries++;
      if (err.code === 'NOT_LEADER' && resp.l !== undefined && resp.l !== id && this.#conns.has(resp.l)) {
        this.#leader = resp.l;
        continue;
      }
      this.#moveOn(id);
      await sleep(clock, Math.min(50 * (attempt + 1), 500)).catch(() => undefined);
    }
  }

  #moveOn(id: number): void {
    this.#leader = undefined;
    const i = this.#members.findIndex((m) => m.id === id);
    this.#next = i + 1;
  }

  async #attempt(conn: MemberConn, req: KvRequest, ms: number): Promise<KvResponse> {
    const clock = this.#node.clock;
    let timer: unknown;
    const timeout = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(() => reject(new OctopiiError('TIMEOUT', `member ${conn.member.id} did not answer within ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([conn.call(req), timeout]);
    } finally {
      clock.clearTimeout(timer);
      conn.forget(req.i);
    }
  }

  close(): void {
    for (const c of this.#conns.values()) c.close();
  }
}
