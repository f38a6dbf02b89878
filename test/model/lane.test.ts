/**
 * The lane against an independent model: a hand-written table of scenarios (seed 001, "Wire
 * Format"; docs/PROTOCOL.md) — what a scripted peer does on the wire — and what must come of
 * it: the phases the real implementation passes through (in order), its outcome, its error code
 * and the status byte on the wire. Nothing here is derived from the production charts: the
 * expectations are written down, so a wrong chart fails a row. Each row pins one outcome.
 *
 * The real `sendLane` / `receiveLane` run over an in-memory duplex pair; deadlines run on
 * XState's SimulatedClock, advanced by the row (no real sleeps).
 */
import { createHash, randomBytes } from 'node:crypto';
import { SimulatedClock } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeLaneHeader, receiveLane, sendLane, type LaneSink, type LaneSinkHandle } from '../../src/lane/index.js';
import { encodeLaneReason } from '../../src/lane/reason.js';
import { sharedHashPool } from '../../src/hash/index.js';
import { OctopiiError } from '../../src/errors.js';
import type { DuplexStream } from '../../src/transport/types.js';
import { duplexPair } from '../helpers/duplexPair.js';

const T = 30_000;
const pool = sharedHashPool();
beforeAll(() => void pool.retain());
afterAll(() => pool.release());

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest();

/** Phases must appear in `trace` in this order (others may come between); the last one must be last. */
function expectPhases(trace: string[], phases: string[]): void {
  let at = 0;
  for (const p of phases) {
    const i = trace.indexOf(p, at);
    if (i < 0) throw new Error(`phase ${p} not reached after ${trace.slice(0, at).join(' → ') || 'start'}; trace: ${trace.join(' → ')}`);
    at = i + 1;
  }
  expect(trace.at(-1)).toBe(phases.at(-1));
}

/** Resolves when `trace` reaches `phase`. */
function tracer() {
  const trace: string[] = [];
  const waiting = new Map<string, () => void>();
  return {
    trace,
    onState: (s: string) => {
      trace.push(s);
      waiting.get(s)?.();
    },
    reached: (s: string) => new Promise<void>((r) => (trace.includes(s) ? r() : waiting.set(s, r))),
  };
}

async function readAll(r: ReadableStreamDefaultReader<Uint8Array>, n = Infinity): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let got = 0;
  while (got < n) {
    const x = await r.read().catch(() => ({ done: true as const, value: undefined }));
    if (x.done) break;
    parts.push(x.value);
    got += x.value.byteLength;
  }
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// receiver: a scripted sender writes raw bytes

type SenderScript =
  | { kind: 'frame'; size: number; trailer?: 'ok' | 'wrong'; extra?: number; fin?: boolean; listens?: boolean }
  | { kind: 'stall' }
  | { kind: 'truncated-header' }
  | { kind: 'truncated-data'; size: number }
  | { kind: 'reset-in-data'; size: number };

type SinkScript = 'memory' | 'slow' | 'disk-full' | 'commit-fails';

interface RecvRow {
  name: string;
  sender: SenderScript;
  sink?: SinkScript;
  /** Advance the simulated clock by `advance` ms each time the receiver reaches `at`. */
  clock?: { at: string; advance: number }[];
  signal?: { at: string; reason: unknown };
  reasons?: boolean;
  phases: string[];
  outcome: 'acknowledged' | 'rejected' | 'failed';
  code?: string;
  /** Status byte the sender read (null: none). */
  status: number | null;
  /** The reason the sender read after the status (reasons: true). */
  reasonCode?: number;
}

function customSink(script: SinkScript, events: string[]): LaneSink {
  if (script === 'memory') return { kind: 'memory', maxBytes: 1 << 20 };
  return {
    kind: 'custom',
    maxBytes: 1 << 20,
    open: async (): Promise<LaneSinkHandle> => ({
      async write() {
        if (script === 'disk-full') throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        if (script === 'slow') await new Promise((r) => setTimeout(r, 1));
      },
      async commit() {
        if (script === 'commit-fails') throw Object.assign(new Error('EACCES: permission denied, rename'), { code: 'EACCES' });
        events.push('commit');
      },
      async discard() {
        events.push('discard');
      },
    }),
  };
}

async function runReceiver(row: RecvRow) {
  const [a, b] = duplexPair();
  const clock = new SimulatedClock();
  const t = tracer();
  const ac = new AbortController();
  const sinkEvents: string[] = [];
  const s = row.sender;
  const sender = (async (): Promise<{ status: number | null; rest: Uint8Array }> => {
    const w = a.writable.getWriter();
    const r = a.readable.getReader();
    const listens = s.kind !== 'frame' || s.listens !== false;
    if (!listens) await r.cancel(new OctopiiError('STREAM_ABORTED', 'sender not listening'));
    try {
      if (s.kind === 'stall') {
        // announces nothing, keeps the stream open
      } else if (s.kind === 'truncated-header') {
        await w.write(Uint8Array.of(1, 2, 3));
        await w.close();
      } else if (s.kind === 'truncated-data') {
        await w.write(encodeLaneHeader(s.size));
        await w.write(randomBytes(s.size - 1));
        await w.close();
      } else if (s.kind === 'reset-in-data') {
        await w.write(encodeLaneHeader(s.size));
        await w.write(randomBytes(10));
        await t.reached('receiving.streaming.flowing');
        a.abort(new Error('sender gone'));
        return { status: null, rest: new Uint8Array() };
      } else {
        const data = randomBytes(s.size);
        await w.write(encodeLaneHeader(s.size));
        if (s.size > 0) await w.write(data);
        const trailer = sha(data);
        if (s.trailer === 'wrong') trailer[0]! ^= 1;
        await w.write(trailer);
        if (s.extra) await w.write(randomBytes(s.extra));
        if (s.fin !== false) await w.close();
      }
    } catch {
      // the receiver answered early or reset
    }
    if (!listens) return { status: null, rest: new Uint8Array() };
    const back = await readAll(r);
    return { status: back.byteLength > 0 ? back[0]! : null, rest: back.subarray(1) };
  })();
  const pending = receiveLane(b, customSink(row.sink ?? 'memory', sinkEvents), {
    clock,
    timeoutMs: T,
    maxBytes: 1000 << 10,
    signal: ac.signal,
    reasons: row.reasons ?? false,
    ...(row.sink === 'slow' ? { blockBytes: 16 << 10, maxBlocksInFlight: 2 } : {}),
    onState: t.onState,
  });
  for (const c of row.clock ?? []) void t.reached(c.at).then(() => clock.increment(c.advance));
  if (row.signal) void t.reached(row.signal.at).then(() => ac.abort(row.signal!.reason));
  const result = await pending;
  if (s.kind === 'stall') await a.writable.close().catch(() => undefined);
  const seen = await sender;
  return { result, trace: t.trace, seen, sinkEvents };
}

/** The reason code the sender read after the status byte (a 2-byte length, then JSON), or null when nothing followed. */
function reasonCodeAfterStatus(rest: Uint8Array): number | null {
  if (rest.byteLength === 0) return null;
  return (JSON.parse(Buffer.from(rest.subarray(2)).toString()) as { code: number }).code;
}

const happy = ['idle', 'receiving.header', 'receiving.streaming.flowing', 'receiving.draining', 'receiving.committing', 'acknowledging', 'closing', 'acknowledged'];
const failing = ['failing.discarding', 'failing.replying', 'failed'];

const recvRows: RecvRow[] = [
  { name: 'a whole frame, then FIN → stored, status 0', sender: { kind: 'frame', size: 5000 }, phases: happy, outcome: 'acknowledged', status: 0 },
  { name: 'an empty frame → stored, status 0', sender: { kind: 'frame', size: 0 }, phases: happy, outcome: 'acknowledged', status: 0 },
  { name: 'size over the cap → rejected at once, status 2', sender: { kind: 'frame', size: 1_100_000 }, phases: ['receiving.header', 'rejecting', 'rejected'], outcome: 'rejected', code: 'SIZE_LIMIT', status: 2 },
  { name: 'size over the cap, with reasons → status 2 + SIZE_LIMIT', sender: { kind: 'frame', size: 1_100_000 }, reasons: true, phases: ['rejecting', 'rejected'], outcome: 'rejected', code: 'SIZE_LIMIT', status: 2, reasonCode: 200 },
  { name: 'wrong trailer → status 1', sender: { kind: 'frame', size: 5000, trailer: 'wrong' }, phases: ['receiving.streaming.flowing', ...failing], outcome: 'failed', code: 'CHECKSUM_MISMATCH', status: 1 },
  { name: 'one byte more than size + 32 → refused, status 2', sender: { kind: 'frame', size: 5000, extra: 1 }, phases: ['receiving.draining', ...failing], outcome: 'failed', code: 'PROTOCOL_ERROR', status: 2 },
  { name: 'truncated header → status 2', sender: { kind: 'truncated-header' }, phases: ['receiving.header', ...failing], outcome: 'failed', code: 'PROTOCOL_ERROR', status: 2 },
  { name: 'truncated data → status 2', sender: { kind: 'truncated-data', size: 5000 }, phases: ['receiving.streaming.flowing', ...failing], outcome: 'failed', code: 'PROTOCOL_ERROR', status: 2 },
  { name: 'sender resets in the data → no status', sender: { kind: 'reset-in-data', size: 5000 }, phases: ['receiving.streaming.flowing', ...failing], outcome: 'failed', code: 'STREAM_ABORTED', status: null },
  { name: 'a slow sink pauses reading, then resumes → stored', sender: { kind: 'frame', size: 300_000 }, sink: 'slow', phases: ['receiving.streaming.flowing', 'receiving.streaming.paused', 'receiving.streaming.flowing', 'receiving.draining', 'acknowledged'], outcome: 'acknowledged', status: 0 },
  { name: 'ENOSPC from the sink → DISK_FULL, status 2', sender: { kind: 'frame', size: 5000 }, sink: 'disk-full', phases: ['receiving.streaming.flowing', ...failing], outcome: 'failed', code: 'DISK_FULL', status: 2 },
  { name: 'ENOSPC with reasons → the sender reads DISK_FULL', sender: { kind: 'frame', size: 5000 }, sink: 'disk-full', reasons: true, phases: failing, outcome: 'failed', code: 'DISK_FULL', status: 2, reasonCode: 205 },
  { name: 'EACCES at commit → PERMISSION_DENIED, status 2', sender: { kind: 'frame', size: 5000 }, sink: 'commit-fails', phases: ['receiving.committing', ...failing], outcome: 'failed', code: 'PERMISSION_DENIED', status: 2 },
  { name: 'a sender that keeps its side open is answered after the close grace', sender: { kind: 'frame', size: 5000, fin: false }, clock: [{ at: 'receiving.draining', advance: 2_000 }, { at: 'closing', advance: 2_000 }], phases: ['receiving.draining', 'receiving.committing', 'acknowledging', 'closing', 'acknowledged'], outcome: 'acknowledged', status: 0 },
  { name: 'a sender that does not read the status → failed, data kept', sender: { kind: 'frame', size: 5000, listens: false }, phases: ['receiving.committing', 'acknowledging', 'failed'], outcome: 'failed', code: 'STREAM_ABORTED', status: null },
  { name: 'no header within timeoutMs → TIMEOUT, status 2', sender: { kind: 'stall' }, clock: [{ at: 'receiving.header', advance: T }], phases: ['receiving.header', ...failing], outcome: 'failed', code: 'TIMEOUT', status: 2 },
  { name: 'signal (plain reason) while streaming → ABORTED, reset, no status', sender: { kind: 'reset-in-data', size: 5000 }, signal: { at: 'receiving.streaming.flowing', reason: 'stop' }, phases: ['receiving.streaming.flowing', 'aborting', 'failed'], outcome: 'failed', code: 'ABORTED', status: null },
  { name: 'signal with an OctopiiError reason → that error', sender: { kind: 'reset-in-data', size: 5000 }, signal: { at: 'receiving.streaming.flowing', reason: new OctopiiError('UNAVAILABLE', 'peer dead') }, phases: ['aborting', 'failed'], outcome: 'failed', code: 'UNAVAILABLE', status: null },
];

describe('laneReceive against the model', () => {
  for (const row of recvRows) {
    it(row.name, async () => {
      const { result, trace, seen, sinkEvents } = await runReceiver(row);
      expectPhases(trace, row.phases);
      expect(result.outcome).toBe(row.outcome);
      expect(result.success).toBe(row.outcome === 'acknowledged');
      expect(result.error?.code).toBe(row.code);
      expect(seen.status).toBe(row.status);
      expect(result.status).toBe(row.status === null && row.sender.kind === 'frame' && row.sender.listens === false ? null : row.status);
      expect(reasonCodeAfterStatus(seen.rest)).toBe(row.reasonCode ?? null);
      // A custom sink is committed or discarded once; the memory sink has no handle to tell.
      expect(sinkEvents).toEqual((row.sink ?? 'memory') === 'memory' ? [] : row.outcome === 'acknowledged' ? ['commit'] : ['discard']);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// sender: a scripted receiver reads and answers

type ReceiverScript =
  | { kind: 'answer'; status: number; reason?: { code: 'DISK_FULL'; message: string }; after: 'all' | 'header' }
  | { kind: 'silent' }
  | { kind: 'reset-in-data' }
  | { kind: 'close-without-status' }
  | { kind: 'slow-reader' };

interface SendRow {
  name: string;
  receiver: ReceiverScript;
  size?: number;
  missing?: boolean;
  reasons?: boolean;
  clock?: { at: string; advance: number };
  signal?: { at: string; reason: unknown };
  phases: string[];
  success: boolean;
  code?: string;
  /** `remote` for an error the receiver sent (its status or reason); absent for this side's own errors. */
  origin?: 'remote';
}

async function runSender(row: SendRow) {
  const size = row.size ?? 5000;
  const data = randomBytes(size);
  const [a, b] = duplexPair({ highWaterMark: 16 << 10 });
  const clock = new SimulatedClock();
  const t = tracer();
  const ac = new AbortController();
  const rec = row.receiver;
  const frame = 8 + size + 32;
  const receiver = (async () => {
    const r = b.readable.getReader();
    const w = b.writable.getWriter();
    try {
      if (rec.kind === 'reset-in-data') {
        await readAll(r, 20 << 10);
        b.abort(new Error('receiver gone'));
        return;
      }
      if (rec.kind === 'slow-reader') {
        for (let got = 0; got < frame; ) {
          const x = await r.read();
          if (x.done) break;
          got += x.value.byteLength;
          await new Promise((res) => setTimeout(res, 1));
        }
        await w.write(Uint8Array.of(0));
        await w.close();
        return;
      }
      await readAll(r, rec.kind === 'answer' && rec.after === 'header' ? 8 : frame);
      if (rec.kind === 'silent') return;
      if (rec.kind === 'close-without-status') return void (await w.close());
      const reason = rec.reason ? encodeLaneReason(rec.reason) : new Uint8Array();
      await w.write(Buffer.concat([Uint8Array.of(rec.status), reason]));
      await w.close();
      if (rec.after === 'header') await r.cancel(new OctopiiError('STREAM_ABORTED', 'refused'));
    } catch {
      // the sender reset the stream
    }
  })();
  const pending = sendLane(a, row.missing ? { kind: 'file', path: '/nonexistent/octopii/source' } : { kind: 'memory', data }, {
    clock,
    timeoutMs: T,
    signal: ac.signal,
    reasons: row.reasons ?? false,
    blockBytes: 64 << 10,
    maxBlocksInFlight: 2,
    onState: t.onState,
  });
  if (row.clock) void t.reached(row.clock.at).then(() => clock.increment(row.clock!.advance));
  if (row.signal) void t.reached(row.signal.at).then(() => ac.abort(row.signal!.reason));
  const result = await pending;
  await receiver;
  return { result, trace: t.trace, data };
}

const sent = ['idle', 'working.opening', 'working.sending.header', 'working.sending.streaming.flowing', 'working.verifying'];

const sendRows: SendRow[] = [
  { name: 'status 0 → verified', receiver: { kind: 'answer', status: 0, after: 'all' }, phases: [...sent, 'closing', 'acknowledged'], success: true },
  { name: 'status 1 → CHECKSUM_MISMATCH', receiver: { kind: 'answer', status: 1, after: 'all' }, phases: [...sent, 'failed'], success: false, code: 'CHECKSUM_MISMATCH', origin: 'remote' },
  { name: 'status 2 → REMOTE_ERROR', receiver: { kind: 'answer', status: 2, after: 'all' }, phases: [...sent, 'failed'], success: false, code: 'REMOTE_ERROR', origin: 'remote' },
  { name: 'status 2 + reason (reasons) → the receiver’s DISK_FULL', receiver: { kind: 'answer', status: 2, after: 'all', reason: { code: 'DISK_FULL', message: 'no space left on device' } }, reasons: true, phases: [...sent, 'failed'], success: false, code: 'DISK_FULL', origin: 'remote' },
  { name: 'status 7 → PROTOCOL_ERROR', receiver: { kind: 'answer', status: 7, after: 'all' }, phases: [...sent, 'failed'], success: false, code: 'PROTOCOL_ERROR' },
  { name: 'refused after the header (status 2, stops reading) → REMOTE_ERROR, the rest not sent', size: 4 << 20, receiver: { kind: 'answer', status: 2, after: 'header' }, phases: ['working.sending.header', 'failed'], success: false, code: 'REMOTE_ERROR', origin: 'remote' },
  { name: 'missing source → SOURCE_NOT_FOUND, nothing sent', missing: true, receiver: { kind: 'silent' }, phases: ['idle', 'working.opening', 'failed'], success: false, code: 'SOURCE_NOT_FOUND' },
  { name: 'receiver resets in the data → STREAM_ABORTED', size: 2 << 20, receiver: { kind: 'reset-in-data' }, phases: ['working.sending.streaming.flowing', 'failed'], success: false, code: 'STREAM_ABORTED' },
  { name: 'receiver closes without a status → CONNECTION_CLOSED', receiver: { kind: 'close-without-status' }, phases: ['working.sending.header', 'failed'], success: false, code: 'CONNECTION_CLOSED' },
  { name: 'receiver silent → TIMEOUT after timeoutMs', receiver: { kind: 'silent' }, clock: { at: 'working.verifying', advance: T }, phases: [...sent, 'failed'], success: false, code: 'TIMEOUT' },
  { name: 'slow reader → paused, resumed, verified', size: 1 << 20, receiver: { kind: 'slow-reader' }, phases: ['working.sending.streaming.flowing', 'working.sending.streaming.paused', 'working.sending.streaming.flowing', 'working.verifying', 'acknowledged'], success: true },
  { name: 'signal → ABORTED', receiver: { kind: 'silent' }, signal: { at: 'working.verifying', reason: 'user' }, phases: [...sent, 'failed'], success: false, code: 'ABORTED' },
  { name: 'signal with UNAVAILABLE (dead peer) → UNAVAILABLE', receiver: { kind: 'silent' }, signal: { at: 'working.verifying', reason: new OctopiiError('UNAVAILABLE', 'peer dead') }, phases: [...sent, 'failed'], success: false, code: 'UNAVAILABLE' },
];

describe('laneSend against the model', () => {
  for (const row of sendRows) {
    it(row.name, async () => {
      const { result, trace, data } = await runSender(row);
      expectPhases(trace, row.phases);
      expect(result.success).toBe(row.success);
      expect(result.checksumVerified).toBe(row.success);
      expect(result.error?.code).toBe(row.code);
      expect(result.error?.origin).toBe(row.origin);
    });
  }
  for (const row of sendRows.filter((r) => r.success)) {
    it(`${row.name}: every byte sent, with its SHA-256`, async () => {
      const { result, data } = await runSender(row);
      expect({ bytes: result.bytesTransferred, sha256: result.sha256 }).toEqual({ bytes: data.byteLength, sha256: sha(data).toString('hex') });
    });
  }
});
