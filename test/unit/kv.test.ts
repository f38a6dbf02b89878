/** KV state machine sessions, the linearizability checker, and the raft/kv wire's golden vectors. */
import { describe, expect, it } from 'vitest';
import { checkLinearizable, encodeKvCommand, KvStateMachine, type HistoryOp } from '../../src/kv/index.js';
import { decodeRaftMessage, encodeRaftMessage, FrameReader } from '../../src/wire/raft.js';
import { message } from '../../src/raft/index.js';

describe('KV state machine', () => {
  it('a retried command (same client and sequence number) is applied once and answered alike', () => {
    const sm = new KvStateMachine();
    const cmd = encodeKvCommand({ c: 'a', s: 1, t: 'cas', k: 'x', e: null, v: '1' });
    const first = sm.apply(cmd);
    const again = sm.apply(cmd);
    expect([first, again, sm.counts.applied, sm.get('x')]).toEqual([{ ok: true, prev: null }, { ok: true, prev: null }, 1, '1']);
  });

  it('an older sequence number than the last is answered stale and not applied', () => {
    const sm = new KvStateMachine();
    sm.apply(encodeKvCommand({ c: 'a', s: 1, t: 'put', k: 'x', v: '1' }));
    sm.apply(encodeKvCommand({ c: 'a', s: 2, t: 'put', k: 'x', v: '2' }));
    expect(sm.apply(encodeKvCommand({ c: 'a', s: 1, t: 'put', k: 'x', v: '1' }))).toEqual({ ok: false, prev: null, stale: true });
  });

  it('restore(snapshot()) gives the same data and sessions', () => {
    const sm = new KvStateMachine();
    sm.apply(encodeKvCommand({ c: 'a', s: 1, t: 'put', k: 'x', v: '1' }));
    const copy = new KvStateMachine();
    copy.restore(sm.snapshot());
    expect([copy.entries(), copy.apply(encodeKvCommand({ c: 'a', s: 1, t: 'put', k: 'x', v: '9' }))]).toEqual([[['x', '1']], { ok: true, prev: null }]);
  });
});

describe('linearizability checker', () => {
  const put = (value: string, call: number, ret: number, prev: string | null): HistoryOp => ({ op: 'put', key: 'k', value, call, ret, result: { ok: true, prev } });
  const get = (value: string | null, call: number, ret: number): HistoryOp => ({ op: 'get', key: 'k', call, ret, result: { value } });

  it('accepts a read of a concurrent write either way', () => {
    expect(checkLinearizable([put('1', 0, 10, null), get('1', 5, 6), get(null, 1, 2)]).ok).toBe(true);
  });

  it('rejects a stale read after a completed write', () => {
    expect(checkLinearizable([put('1', 0, 1, null), get(null, 2, 3)]).ok).toBe(false);
  });

  it('lets a write with an unknown outcome explain a later read, or not happen', () => {
    const lost: HistoryOp = { op: 'put', key: 'k', value: '2', call: 0, ret: Infinity };
    expect([checkLinearizable([lost, get('2', 5, 6)]).ok, checkLinearizable([lost, get(null, 5, 6)]).ok]).toEqual([true, true]);
  });

  it('rejects two reads that see a write and then its absence', () => {
    expect(checkLinearizable([put('1', 0, 100, null), get('1', 1, 2), get(null, 3, 4)]).ok).toBe(false);
  });
});

describe('raft wire', () => {
  const m = message({ type: 'MsgApp', from: 1, to: 2, term: 3, logTerm: 2, index: 7, commit: 6, entries: [{ index: 8, term: 3, data: new Uint8Array([0xaa]) }] });
  it('golden vector: a MsgApp with one entry', () => {
    expect(Buffer.from(encodeRaftMessage(m)).toString('hex')).toBe(GOLDEN_MSGAPP);
  });

  it('decodes what it encodes, across split chunks', () => {
    const bytes = encodeRaftMessage(m);
    const r = new FrameReader();
    const bodies = [...r.push(bytes.subarray(0, 5)), ...r.push(bytes.subarray(5))];
    const got = bodies.map((b) => decodeRaftMessage(b)).map((x) => ({ ...x, entries: x.entries.map((e) => ({ ...e, data: [...e.data] })) }));
    expect(got).toEqual([{ ...m, entries: [{ index: 8, term: 3, data: [0xaa] }] }]);
  });

  it('refuses a frame whose type is unknown', () => {
    const body = encodeRaftMessage(m).subarray(4).slice();
    body[2] = 0x0f; // type 15
    expect(() => decodeRaftMessage(body)).toThrow(/unknown message type/);
  });
});

// u32 length 18 ‖ CBOR [1, 1 (MsgApp), 1, 2, 3, 2, 7, 6, false, 0, '', [[8, 3, h'aa']]]
const GOLDEN_MSGAPP = '000000128c0101010203020706f400608183080341aa';
