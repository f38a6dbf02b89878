/**
 * A linearizability checker for KV histories (Wing & Gong 1993, with the memoization of Lowe's
 * and Horn & Kroening's WGL variant): does some total order of the operations respect real
 * time (an operation that returned before another was called comes first) and the sequential
 * semantics of a register per key? Keys are independent (linearizability is compositional,
 * Herlihy & Wing §3.3), so each key's history is checked alone.
 *
 * An operation whose outcome the client never learned (timeout) has `ret: Infinity` and no
 * result: it may take effect at any point after its call, or never.
 *
 *   checkLinearizable([
 *     { op: 'put', key: 'x', value: '1', call: 0, ret: 5, result: { ok: true, prev: null } },
 *     { op: 'get', key: 'x', call: 6, ret: 8, result: { value: '1' } },
 *   ]); // { ok: true }
 *
 * Cost is exponential in the worst case (concurrency); fine for the few hundred operations per
 * key with a handful of clients that the simulations record.
 */

export type HistoryOp =
  | { op: 'put'; key: string; value: string; call: number; ret: number; result?: { ok: boolean; prev: string | null } }
  | { op: 'del'; key: string; call: number; ret: number; result?: { ok: boolean; prev: string | null } }
  | { op: 'cas'; key: string; expected: string | null; value: string; call: number; ret: number; result?: { ok: boolean; prev: string | null } }
  | { op: 'get'; key: string; call: number; ret: number; result?: { value: string | null } };

export interface LinearizabilityResult {
  ok: boolean;
  /** The first key with no valid order, and its operations. */
  key?: string;
  ops?: HistoryOp[];
}

type State = string | null;

/** The state after `o` from `s`, or undefined when `o`'s result is impossible from `s`. */
function stepModel(s: State, o: HistoryOp): { next: State } | undefined {
  switch (o.op) {
    case 'get':
      return o.result === undefined || o.result.value === s ? { next: s } : undefined;
    case 'put':
      return o.result === undefined || o.result.prev === s ? { next: o.value } : undefined;
    case 'del':
      return o.result === undefined || (o.result.prev === s && o.result.ok === (s !== null)) ? { next: null } : undefined;
    case 'cas': {
      const hit = s === o.expected;
      if (o.result !== undefined && (o.result.ok !== hit || o.result.prev !== s)) return undefined;
      return { next: hit ? o.value : s };
    }
  }
}

function checkKey(ops: HistoryOp[]): boolean {
  const n = ops.length;
  const sorted = [...ops].sort((a, b) => a.call - b.call);
  const required = sorted.reduce((m, o, i) => (o.ret !== Infinity ? m | (1n << BigInt(i)) : m), 0n);
  const seen = new Set<string>();
  // `from`: every operation below it is linearized (it only moves up as the search goes deeper),
  // so a state is `from` and the few bits above it — a short memo key, and scans that skip the
  // linearized prefix, whatever the history's length.
  const search = (done: bigint, s: State, from: number): boolean => {
    if ((done & required) === required) return true;
    while (done & (1n << BigInt(from))) from++;
    const memo = `${from}:${(done >> BigInt(from)).toString(36)}|${s === null ? '\u0000' : s}`;
    if (seen.has(memo)) return false;
    seen.add(memo);
    let minRet = Infinity;
    for (let i = from; i < n; i++) if (!(done & (1n << BigInt(i))) && sorted[i]!.ret < minRet) minRet = sorted[i]!.ret;
    for (let i = from; i < n; i++) {
      const bit = 1n << BigInt(i);
      if (done & bit) continue;
      const o = sorted[i]!;
      if (o.call > minRet) break; // sorted by call: no later op can go first
      const r = stepModel(s, o);
      if (r && search(done | bit, r.next, from)) return true;
    }
    return false;
  };
  return search(0n, null, 0);
}

export function checkLinearizable(history: readonly HistoryOp[]): LinearizabilityResult {
  const byKey = new Map<string, HistoryOp[]>();
  for (const o of history) {
    const l = byKey.get(o.key) ?? [];
    l.push(o);
    byKey.set(o.key, l);
  }
  for (const [key, ops] of byKey) if (!checkKey(ops)) return { ok: false, key, ops };
  return { ok: true };
}
