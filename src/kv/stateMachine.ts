/**
 * The KV state machine: string keys to string values with put, delete and compare-and-set, and
 * client sessions so that a retried command is applied once (Ongaro's dissertation §6.3,
 * "Implementing linearizable semantics": each client has an ID and numbers its commands; the
 * state machine keeps, per client, the last sequence number applied and its result, and answers
 * a duplicate with that result instead of applying it again).
 *
 * A client runs one command at a time per session, so the last result is all a session needs.
 * Sessions are never expired (a bound is future work). Reads do not go through the log (ReadIndex).
 *
 * Commands are CBOR maps (src/kv/wire.ts): `{ c: clientId, s: seq ≥ 1, t: 'put'|'del'|'cas', k, v?, e? }`.
 */
import { OctopiiError } from '../errors.js';
import type { StateMachine } from '../raft/stateMachine.js';
import { cbor } from '../wire/raft.js';

export type KvCommand =
  | { c: string; s: number; t: 'put'; k: string; v: string }
  | { c: string; s: number; t: 'del'; k: string }
  /** Set `k` to `v` if its value is `e` (null: absent). */
  | { c: string; s: number; t: 'cas'; k: string; e: string | null; v: string };

/**
 * What a write returns: `ok` (put: always; del: the key existed; cas: swapped) and `prev`, the
 * value before the command (null: absent). `stale`: the command's sequence number is older than
 * the session's last one (a very late duplicate); nothing was applied.
 */
export interface KvResult {
  ok: boolean;
  prev: string | null;
  stale?: true;
}

export const encodeKvCommand = (c: KvCommand): Uint8Array => cbor.encode(c);

export function decodeKvCommand(b: Uint8Array): KvCommand | null {
  try {
    const c = cbor.decode(b) as KvCommand;
    if (!c || typeof c !== 'object' || typeof c.c !== 'string' || !Number.isSafeInteger(c.s) || typeof c.k !== 'string') return null;
    if (c.t === 'put' && typeof c.v === 'string') return c;
    if (c.t === 'del') return c;
    if (c.t === 'cas' && typeof c.v === 'string' && (c.e === null || typeof c.e === 'string')) return c;
    return null;
  } catch {
    return null;
  }
}

export class KvStateMachine implements StateMachine<KvResult> {
  readonly #data = new Map<string, string>();
  readonly #sessions = new Map<string, { seq: number; result: KvResult }>();
  /** Commands applied, duplicates answered from a session, malformed commands skipped. */
  readonly counts = { applied: 0, duplicates: 0, malformed: 0 };

  get(k: string): string | null {
    return this.#data.get(k) ?? null;
  }

  get size(): number {
    return this.#data.size;
  }

  /** Every pair, sorted by key. */
  entries(): [string, string][] {
    return [...this.#data.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  apply(command: Uint8Array): KvResult {
    const c = decodeKvCommand(command);
    if (!c) {
      this.counts.malformed++;
      return { ok: false, prev: null };
    }
    const session = this.#sessions.get(c.c);
    if (session && c.s <= session.seq) {
      this.counts.duplicates++;
      return c.s === session.seq ? session.result : { ok: false, prev: null, stale: true };
    }
    const prev = this.#data.get(c.k) ?? null;
    let result: KvResult;
    if (c.t === 'put') {
      this.#data.set(c.k, c.v);
      result = { ok: true, prev };
    } else if (c.t === 'del') {
      this.#data.delete(c.k);
      result = { ok: prev !== null, prev };
    } else if (prev === c.e) {
      this.#data.set(c.k, c.v);
      result = { ok: true, prev };
    } else {
      result = { ok: false, prev };
    }
    this.#sessions.set(c.c, { seq: c.s, result });
    this.counts.applied++;
    return result;
  }

  snapshot(): Uint8Array {
    return cbor.encode({ kv: this.entries(), sessions: [...this.#sessions.entries()].map(([c, s]) => [c, s.seq, s.result]) });
  }

  restore(snapshot: Uint8Array): void {
    let o: { kv: [string, string][]; sessions: [string, number, KvResult][] };
    try {
      o = cbor.decode(snapshot);
      if (!Array.isArray(o.kv) || !Array.isArray(o.sessions)) throw new Error('shape');
    } catch {
      throw new OctopiiError('PROTOCOL_ERROR', 'kv: not a KV snapshot');
    }
    this.#data.clear();
    this.#sessions.clear();
    for (const [k, v] of o.kv) this.#data.set(k, v);
    for (const [c, seq, result] of o.sessions) this.#sessions.set(c, { seq, result });
  }
}
