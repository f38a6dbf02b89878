/**
 * The lane charts on their own (machines/laneSend.ts, machines/laneReceive.ts): every actor is
 * a stub that only records what the chart told it, events are sent by the test as the actors
 * would send them, and time is XState's SimulatedClock (no real sleeps). Each row is a script
 * (events and clock advances) and the phase, error code, status byte and cleanup it must end
 * with; together the rows make every state and every transition of both charts matter (delete
 * one and some row fails).
 */
import { createActor, fromCallback, SimulatedClock, type AnyActorLogic, type EventObject } from 'xstate';
import { describe, expect, it } from 'vitest';
import { laneSendMachine } from '../../machines/laneSend.js';
import { laneReceiveMachine } from '../../machines/laneReceive.js';
import { stateString } from '../../src/lane/util.js';
import { LANE_CLOSE_GRACE_MS, LANE_STATUS_GRACE_MS } from '../../src/lane/constants.js';

const T = 30_000; // timeoutMs of every row
const err = (code: string) => ({ code, message: `${code} (test)` });

type Step = { type: string; [k: string]: unknown } | { advance: number };

interface Row {
  name: string;
  steps: Step[];
  /** Dotted state after the steps ('done:<final>' once the machine finished). */
  state: string;
  /** The error code the chart ends with; a row that names none expects no error. */
  code?: string | null;
  /** The error message must not match (e.g. an answer after the data is not "early"). */
  messageNot?: RegExp;
  laneStatus?: number | null;
  bytes?: number;
  /** Control messages the pump stub got, in order. */
  pump?: string[];
  /** Actions/actors that must have run (names), and that must not have. */
  ran?: string[];
  notRan?: string[];
}

interface Harness {
  logic: AnyActorLogic;
  input: unknown;
}

function run(h: Harness, row: Row) {
  const log: string[] = [];
  const pumpGot: string[] = [];
  const stub = (name: string) =>
    fromCallback<EventObject, unknown>(({ receive, input }) => {
      log.push(`invoke:${name}`);
      // which handle a sink-taking actor got (null: none was recorded in context)
      const sink = (input as { sink?: unknown } | undefined)?.sink;
      if (sink !== undefined) log.push(`invoke:${name}:${sink === null ? 'no sink' : 'sink'}`);
      if (name === 'pump') receive((e) => pumpGot.push(e.type));
      return () => log.push(`stop:${name}`);
    });
  const clock = new SimulatedClock();
  const actorNames = Object.keys((h.logic as unknown as { implementations: { actors: object } }).implementations.actors);
  const actionNames = ['closeSource', 'abortStream', 'releaseReader', 'stopReading'];
  const logic = (h.logic as typeof laneSendMachine).provide({
    actors: Object.fromEntries(actorNames.map((n) => [n, stub(n)])) as never,
    actions: Object.fromEntries(actionNames.map((n) => [n, () => log.push(`action:${n}`)])) as never,
  });
  const actor = createActor(logic, { input: h.input as never, clock });
  actor.start();
  for (const s of row.steps) {
    if ('advance' in s) clock.increment(s.advance as number);
    else actor.send(s as never);
  }
  const snap = actor.getSnapshot() as unknown as {
    status: string;
    value: Parameters<typeof stateString>[0];
    context: { error: { code: string; message: string } | null; laneStatus: number | null; bytes: number };
    output?: { error: { code: string; message: string } | null; laneStatus: number | null; bytes: number };
  };
  const state = snap.status === 'done' ? `done:${stateString(snap.value)}` : stateString(snap.value);
  const view = snap.output ?? snap.context;
  return { state, view, log, pumpGot };
}

/**
 * What a row pins, compared in one assertion: the state and the error code always (a row that
 * names no code expects none), the other fields when the row names them.
 */
function expectedOf(row: Row): Record<string, unknown> {
  return {
    state: row.state,
    code: row.code ?? null,
    ...(row.messageNot ? { message: expect.not.stringMatching(row.messageNot) } : {}),
    ...(row.laneStatus !== undefined ? { laneStatus: row.laneStatus } : {}),
    ...(row.bytes !== undefined ? { bytes: row.bytes } : {}),
    ...(row.pump ? { pump: row.pump } : {}),
  };
}

function check(h: Harness, rows: Row[]) {
  for (const row of rows) {
    it(row.name, () => {
      const { state, view, log, pumpGot } = run(h, row);
      const got = { state, code: view.error?.code ?? null, message: view.error?.message ?? '', laneStatus: view.laneStatus, bytes: view.bytes, pump: pumpGot };
      expect(got).toMatchObject(expectedOf(row));
      expect(log).toEqual(expect.arrayContaining(row.ran ?? []));
      expect(log.filter((l) => (row.notRan ?? []).includes(l))).toEqual([]);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// laneSend

const sendHarness: Harness = {
  logic: laneSendMachine,
  input: { handles: { stream: {}, reader: {}, source: {}, hasher: {}, signal: undefined }, timeoutMs: T, blockBytes: 1, maxBlocksInFlight: 2, reasons: false },
};
const S = {
  start: { type: 'START' },
  opened: { type: 'SOURCE_OPENED', source: {}, size: 100 },
  header: { type: 'HEADER_SENT' },
  high: { type: 'HIGH_WATER' },
  low: { type: 'LOW_WATER' },
  progress: (bytes: number) => ({ type: 'PROGRESS', bytes }),
  sent: { type: 'DATA_SENT', bytes: 100, sha256: 'ab' },
  status: (status: number, reason?: { code: string; message: string }) => ({ type: 'STATUS', status, ...(reason ? { reason } : {}) }),
  statusFailed: (code: string) => ({ type: 'STATUS_FAILED', error: err(code) }),
  pumpFailed: (code: string, refused: boolean) => ({ type: 'PUMP_FAILED', error: err(code), bytes: 40, refused }),
  finished: { type: 'FINISHED' },
  abort: (code: string) => ({ type: 'ABORT', error: err(code) }),
};
const streaming = [S.start, S.opened, S.header];
const verifying = [...streaming, S.sent];

describe('laneSend chart', () => {
  check(sendHarness, [
    { name: 'idle waits for START', steps: [{ advance: 10 * T }], state: 'idle' },
    { name: 'happy path: status 0, then the receiver finishes', steps: [...verifying, S.status(0), S.finished], state: 'done:acknowledged', code: null, laneStatus: 0, bytes: 100, ran: ['action:closeSource', 'action:releaseReader'], notRan: ['action:abortStream'] },
    { name: 'status 0 moves to closing, which waits for the receiver', steps: [...verifying, S.status(0)], state: 'closing', ran: ['invoke:finishStream'] },
    { name: 'closing ends after the close grace without the receiver finishing', steps: [...verifying, S.status(0), { advance: LANE_CLOSE_GRACE_MS }], state: 'done:acknowledged', code: null },
    { name: 'status 1 → CHECKSUM_MISMATCH, stream aborted', steps: [...verifying, S.status(1)], state: 'done:failed', code: 'CHECKSUM_MISMATCH', messageNot: /before the end/, laneStatus: 1, ran: ['action:abortStream', 'action:closeSource'] },
    { name: 'status 2 with a reason → that reason', steps: [...verifying, S.status(2, err('DISK_FULL'))], state: 'done:failed', code: 'DISK_FULL', laneStatus: 2 },
    { name: 'status 2 without a reason → REMOTE_ERROR', steps: [...verifying, S.status(2)], state: 'done:failed', code: 'REMOTE_ERROR', messageNot: /before the end/ },
    { name: 'no status while verifying → TIMEOUT', steps: [...verifying, { advance: T }], state: 'done:failed', code: 'TIMEOUT' },
    { name: 'status read fails while verifying → its error', steps: [...verifying, S.statusFailed('CONNECTION_CLOSED')], state: 'done:failed', code: 'CONNECTION_CLOSED' },
    { name: 'source fails → its error, stream aborted', steps: [S.start, { type: 'SOURCE_FAILED', error: err('SOURCE_NOT_FOUND') }], state: 'done:failed', code: 'SOURCE_NOT_FOUND', ran: ['action:abortStream'] },
    { name: 'source never opens → TIMEOUT after timeoutMs, not before', steps: [S.start, { advance: T - 1 }], state: 'working.opening' },
    { name: 'source never opens → TIMEOUT', steps: [S.start, { advance: T }], state: 'done:failed', code: 'TIMEOUT' },
    { name: 'ABORT while opening → its error at once', steps: [S.start, S.abort('UNAVAILABLE')], state: 'done:failed', code: 'UNAVAILABLE' },
    { name: 'an early status while opening fails at once', steps: [S.start, S.status(2)], state: 'done:failed', code: 'REMOTE_ERROR', laneStatus: 2 },
    { name: 'the status stream failing while opening fails at once', steps: [S.start, S.statusFailed('STREAM_ABORTED')], state: 'done:failed', code: 'STREAM_ABORTED' },
    { name: 'header never written → TIMEOUT', steps: [S.start, S.opened, { advance: T }], state: 'done:failed', code: 'TIMEOUT' },
    { name: 'header written → streaming, pump told RESUME', steps: streaming, state: 'working.sending.streaming.flowing', pump: ['RESUME'] },
    { name: 'HIGH_WATER → paused, pump told PAUSE', steps: [...streaming, S.high], state: 'working.sending.streaming.paused', pump: ['RESUME', 'PAUSE'] },
    { name: 'LOW_WATER → flowing, pump told RESUME', steps: [...streaming, S.high, S.low], state: 'working.sending.streaming.flowing', pump: ['RESUME', 'PAUSE', 'RESUME'] },
    { name: 'flowing without progress → TIMEOUT', steps: [...streaming, { advance: T }], state: 'done:failed', code: 'TIMEOUT' },
    { name: 'PROGRESS while flowing resets the timeout and records bytes', steps: [...streaming, { advance: T - 10 }, S.progress(4), { advance: T - 10 }], state: 'working.sending.streaming.flowing', bytes: 4 },
    { name: 'paused without progress → TIMEOUT', steps: [...streaming, S.high, { advance: T }], state: 'done:failed', code: 'TIMEOUT' },
    { name: 'PROGRESS while paused resets the timeout and stays paused', steps: [...streaming, S.high, { advance: T - 10 }, S.progress(8), { advance: T - 10 }], state: 'working.sending.streaming.paused', bytes: 8 },
    { name: 'a watermark crossing (phase change) resets the timeout', steps: [...streaming, { advance: T - 10 }, S.high, { advance: T - 10 }], state: 'working.sending.streaming.paused' },
    { name: 'DATA_SENT → verifying', steps: verifying, state: 'working.verifying', bytes: 100 },
    { name: 'local pump failure → failed at once with it', steps: [...streaming, S.pumpFailed('IO_ERROR', false)], state: 'done:failed', code: 'IO_ERROR', bytes: 40 },
    { name: 'refused write → settling, waiting for the status', steps: [...streaming, S.pumpFailed('STREAM_ABORTED', true)], state: 'working.settling', code: 'STREAM_ABORTED' },
    { name: 'settling: the status arrives → its error', steps: [...streaming, S.pumpFailed('STREAM_ABORTED', true), S.status(2, err('SIZE_LIMIT'))], state: 'done:failed', code: 'SIZE_LIMIT', laneStatus: 2 },
    { name: 'settling: no status within the grace → the write error', steps: [...streaming, S.pumpFailed('STREAM_ABORTED', true), { advance: LANE_STATUS_GRACE_MS }], state: 'done:failed', code: 'STREAM_ABORTED' },
    { name: 'settling: the status read fails → the write error is kept', steps: [...streaming, S.pumpFailed('STREAM_ABORTED', true), S.statusFailed('CONNECTION_CLOSED')], state: 'done:failed', code: 'STREAM_ABORTED' },
    { name: 'a status while sending → answered (pump keeps running, resumed)', steps: [...streaming, S.high, S.status(0)], state: 'working.sending.answered', pump: ['RESUME', 'PAUSE', 'RESUME'] },
    { name: 'answered 0, then DATA_SENT → closing', steps: [...streaming, S.status(0), S.sent], state: 'closing', code: null, laneStatus: 0, bytes: 100 },
    { name: 'answered 1, then DATA_SENT → CHECKSUM_MISMATCH', steps: [...streaming, S.status(1), S.sent], state: 'done:failed', code: 'CHECKSUM_MISMATCH', messageNot: /before the end/, bytes: 100 },
    { name: 'answered 2, then the pump fails → the answer, with the bytes sent', steps: [...streaming, S.status(2, err('SIZE_LIMIT')), S.pumpFailed('STREAM_ABORTED', true)], state: 'done:failed', code: 'SIZE_LIMIT', bytes: 40 },
    { name: 'answered, the pump never ends → the answer after the grace', steps: [...streaming, S.status(2), { advance: LANE_STATUS_GRACE_MS }], state: 'done:failed', code: 'REMOTE_ERROR' },
    { name: 'ABORT while streaming → its error, stream aborted', steps: [...streaming, S.abort('ABORTED')], state: 'done:failed', code: 'ABORTED', ran: ['action:abortStream', 'stop:pump'] },
    { name: 'ABORT while closing is ignored (status 0 is in)', steps: [...verifying, S.status(0), S.abort('ABORTED'), S.finished], state: 'done:acknowledged', code: null },
  ]);
});

// ---------------------------------------------------------------------------------------------
// laneReceive

const recvHarness: Harness = {
  logic: laneReceiveMachine,
  input: { handles: { stream: {}, reader: {}, sink: {}, hasher: {}, signal: undefined }, maxBytes: 1000, timeoutMs: T, blockBytes: 1, maxBlocksInFlight: 2, reasons: false },
};
const R = {
  start: { type: 'START' },
  header: (size: number) => ({ type: 'HEADER', size }),
  opened: { type: 'SINK_OPENED', sink: {} },
  high: { type: 'HIGH_WATER' },
  low: { type: 'LOW_WATER' },
  progress: (bytes: number) => ({ type: 'PROGRESS', bytes }),
  data: (trailer = 'ab') => ({ type: 'DATA_RECEIVED', bytes: 100, digest: 'ab', trailer }),
  drained: { type: 'DRAINED' },
  committed: { type: 'COMMITTED', stored: { path: '/x/ab' } },
  discarded: { type: 'DISCARDED' },
  replied: (status: number) => ({ type: 'REPLIED', status }),
  replyFailed: { type: 'REPLY_FAILED', error: err('STREAM_ABORTED') },
  finished: { type: 'FINISHED' },
  abort: (code: string) => ({ type: 'ABORT', error: err(code) }),
};
const rStreaming = [R.start, R.header(100), R.opened];
const rDraining = [...rStreaming, R.data()];
const rCommitting = [...rDraining, R.drained];
const rAcknowledging = [...rCommitting, R.committed];
const failingThen = (...tail: Step[]) => [R.discarded, ...tail];

describe('laneReceive chart', () => {
  check(recvHarness, [
    { name: 'idle waits for START', steps: [{ advance: 10 * T }], state: 'idle' },
    { name: 'happy path', steps: [...rAcknowledging, R.replied(0), R.finished], state: 'done:acknowledged', code: null, laneStatus: 0, bytes: 100, ran: ['action:releaseReader'], notRan: ['invoke:discardSink', 'action:abortStream'] },
    { name: 'closing ends after the close grace', steps: [...rAcknowledging, R.replied(0), { advance: LANE_CLOSE_GRACE_MS }], state: 'done:acknowledged' },
    { name: 'no header → TIMEOUT → failing (discard first)', steps: [R.start, { advance: T }], state: 'failing.discarding', code: 'TIMEOUT' },
    { name: 'failing: discarded → reply the status', steps: [R.start, { advance: T }, R.discarded], state: 'failing.replying', code: 'TIMEOUT', ran: ['invoke:reply'] },
    { name: 'failing: replied → failed, stop reading', steps: [R.start, { advance: T }, ...failingThen(R.replied(2))], state: 'done:failed', code: 'TIMEOUT', laneStatus: 2, ran: ['action:stopReading'], notRan: ['action:abortStream'] },
    { name: 'failing: reply failed → failed, stream aborted, no status', steps: [R.start, { advance: T }, ...failingThen(R.replyFailed)], state: 'done:failed', code: 'TIMEOUT', laneStatus: null, ran: ['action:abortStream'] },
    { name: 'header failure → failing', steps: [R.start, { type: 'HEADER_FAILED', error: err('PROTOCOL_ERROR') }, ...failingThen(R.replied(2))], state: 'done:failed', code: 'PROTOCOL_ERROR', laneStatus: 2 },
    { name: 'over the cap → rejecting, nothing opened', steps: [R.start, R.header(1001)], state: 'rejecting', code: 'SIZE_LIMIT', notRan: ['invoke:pump'] },
    { name: 'rejecting: replied → rejected', steps: [R.start, R.header(1001), R.replied(2)], state: 'done:rejected', code: 'SIZE_LIMIT', laneStatus: 2, ran: ['action:stopReading'] },
    { name: 'rejecting: reply failed → rejected, aborted', steps: [R.start, R.header(1001), R.replyFailed], state: 'done:rejected', code: 'SIZE_LIMIT', laneStatus: null, ran: ['action:abortStream'] },
    { name: 'rejecting: ABORT → rejected, aborted', steps: [R.start, R.header(1001), R.abort('ABORTED')], state: 'done:rejected', code: 'SIZE_LIMIT', ran: ['action:abortStream'] },
    { name: 'at the cap → streaming, pump told RESUME', steps: [R.start, R.header(1000)], state: 'receiving.streaming.flowing', pump: ['RESUME'] },
    { name: 'HIGH_WATER → paused, pump told PAUSE', steps: [...rStreaming, R.high], state: 'receiving.streaming.paused', pump: ['RESUME', 'PAUSE'] },
    { name: 'LOW_WATER → flowing, pump told RESUME', steps: [...rStreaming, R.high, R.low], state: 'receiving.streaming.flowing', pump: ['RESUME', 'PAUSE', 'RESUME'] },
    { name: 'flowing without progress → TIMEOUT', steps: [...rStreaming, { advance: T }], state: 'failing.discarding', code: 'TIMEOUT' },
    { name: 'PROGRESS while flowing resets the timeout', steps: [...rStreaming, { advance: T - 10 }, R.progress(4), { advance: T - 10 }], state: 'receiving.streaming.flowing', bytes: 4 },
    { name: 'paused without progress → TIMEOUT', steps: [...rStreaming, R.high, { advance: T }], state: 'failing.discarding', code: 'TIMEOUT' },
    { name: 'PROGRESS while paused resets the timeout', steps: [...rStreaming, R.high, { advance: T - 10 }, R.progress(8), { advance: T - 10 }], state: 'receiving.streaming.paused', bytes: 8 },
    { name: 'pump failure → failing with its error', steps: [...rStreaming, { type: 'PUMP_FAILED', error: err('DISK_FULL') }, ...failingThen(R.replied(2))], state: 'done:failed', code: 'DISK_FULL', laneStatus: 2 },
    { name: 'digest differs from the trailer → failing, status 1', steps: [...rStreaming, R.data('cd'), ...failingThen(R.replied(1))], state: 'done:failed', code: 'CHECKSUM_MISMATCH', laneStatus: 1 },
    { name: 'digest matches → draining', steps: rDraining, state: 'receiving.draining', bytes: 100, notRan: ['invoke:commit'] },
    { name: 'drained → committing the opened sink', steps: rCommitting, state: 'receiving.committing', ran: ['invoke:commit:sink'] },
    { name: 'the sender keeps its side open → committing after the close grace', steps: [...rDraining, { advance: LANE_CLOSE_GRACE_MS }], state: 'receiving.committing' },
    { name: 'excess bytes → failing, PROTOCOL_ERROR, status 2', steps: [...rDraining, { type: 'EXCESS' }, ...failingThen(R.replied(2))], state: 'done:failed', code: 'PROTOCOL_ERROR', laneStatus: 2 },
    { name: 'draining fails → failing with its error', steps: [...rDraining, { type: 'DRAIN_FAILED', error: err('STREAM_ABORTED') }], state: 'failing.discarding', code: 'STREAM_ABORTED' },
    { name: 'commit fails → failing with its error', steps: [...rCommitting, { type: 'COMMIT_FAILED', error: err('PERMISSION_DENIED') }], state: 'failing.discarding', code: 'PERMISSION_DENIED' },
    { name: 'committed → acknowledging (reply 0)', steps: rAcknowledging, state: 'acknowledging', ran: ['invoke:reply'] },
    { name: 'a failed reply after the commit ends without discarding', steps: [...rAcknowledging, R.replyFailed], state: 'done:failed', code: 'STREAM_ABORTED', laneStatus: null, ran: ['action:abortStream'], notRan: ['invoke:discardSink'] },
    { name: 'ABORT after the commit ends without discarding', steps: [...rAcknowledging, R.abort('UNAVAILABLE')], state: 'done:failed', code: 'UNAVAILABLE', notRan: ['invoke:discardSink'] },
    { name: 'ABORT while streaming → aborting: reset, discard the opened sink', steps: [...rStreaming, R.abort('UNAVAILABLE')], state: 'aborting', code: 'UNAVAILABLE', ran: ['action:abortStream', 'invoke:discardSink:sink'], notRan: ['invoke:reply'] },
    { name: 'ABORT before the sink opened → nothing to discard', steps: [R.start, R.header(100), R.abort('ABORTED')], state: 'aborting', code: 'ABORTED', ran: ['invoke:discardSink:no sink'] },
    { name: 'aborting: discarded → failed, no status', steps: [...rStreaming, R.abort('ABORTED'), R.discarded], state: 'done:failed', code: 'ABORTED', laneStatus: null },
    { name: 'ABORT while waiting for the header → aborting', steps: [R.start, R.abort('ABORTED')], state: 'aborting', code: 'ABORTED' },
  ]);
});
