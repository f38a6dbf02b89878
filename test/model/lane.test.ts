/**
 * Model-based tests of the lane machines (issue 2 item 8) with @xstate/graph: every simple
 * path of laneSend / laneReceive to a final state is generated from the machine itself, turned
 * into a scenario for the *real* implementation (sendLane / receiveLane over an in-memory
 * duplex pair, with a scripted peer: answers 0/1/2, vanishes, refuses early, stalls, …), and
 * checked: the implementation's phase trace must pass through the path's states in order
 * (`path.test` with a state check per step), and its final state, error code and status byte
 * must be those of the path's final snapshot.
 *
 * createTestModel refuses machines with invocations (the real machines invoke the I/O actors),
 * so the model is the same chart with the `invoke` entries removed (see `withoutInvokes`):
 * states, transitions, guards and actions are the production ones.
 */
import { randomBytes, createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestModel } from '@xstate/graph';
import { createMachine, type AnyStateMachine, type StateValue } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { laneSendMachine } from '../../machines/laneSend.js';
import { laneReceiveMachine, statusForError } from '../../machines/laneReceive.js';
import { destroyHashPool, encodeLaneHeader, receiveLane, sendLane, type LaneSinkHandle } from '../../src/lane/index.js';
import { OctopiiError } from '../../src/errors.js';
import type { DuplexStream } from '../../src/transport/types.js';
import { duplexPair } from '../helpers/duplexPair.js';

const KiB = 1024;
const MiB = 1024 * KiB;

// ---------------------------------------------------------------------------------------------
// model plumbing

function stripInvokes(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripInvokes);
  if (node && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === 'invoke') continue;
      out[k] = k === 'states' || k === 'on' || k === 'output' || k === 'context' ? stripInvokesShallow(k, v) : v;
    }
    return out;
  }
  return node;
}
function stripInvokesShallow(key: string, v: unknown): unknown {
  if (key !== 'states' || !v || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([name, child]) => [name, stripInvokes(child)]));
}

/** The same state chart and implementations, without invocations (createTestModel's requirement). */
function withoutInvokes(machine: AnyStateMachine): AnyStateMachine {
  return createMachine(stripInvokes(machine.config) as never, machine.implementations as never) as AnyStateMachine;
}

const err = (code: string) => ({ code, message: code });

function stateString(value: StateValue): string {
  if (typeof value === 'string') return value;
  const [k, v] = Object.entries(value)[0]!;
  return `${k}.${stateString(v as StateValue)}`;
}

interface Snap {
  value: StateValue;
  status: string;
  context: { error: { code: string } | null; laneStatus: number | null };
}
const serializeState = (s: Snap) => JSON.stringify([s.value, s.context.error?.code ?? null, s.context.laneStatus]);

interface Step {
  event: { type: string; [k: string]: unknown };
  state: Snap;
}

/** `HEADER(5000)`, `STATUS(1)`, `PUMP_FAILED(IO_ERROR)`: an event with the payload that matters. */
function describeEvent(e: Step['event']): string {
  const arg = e.size ?? e.status ?? (e.error as { code?: string } | undefined)?.code;
  return arg === undefined ? e.type : `${e.type}(${String(arg)})`;
}

function describePath(steps: Step[], final: Snap): string {
  const events = steps.filter((s) => s.event.type !== 'xstate.init').map((s) => describeEvent(s.event));
  return `${events.join(' → ')} ⇒ ${stateString(final.value)}${final.context.error ? ` ${final.context.error.code}` : ''}`;
}

/** Asserts (via path.test) that each state of the path appears in `trace`, in order. */
async function checkTrace(path: { test: (p: never) => Promise<unknown> }, trace: string[]): Promise<void> {
  let cursor = 0;
  await path.test({
    states: {
      '*': (snap: Snap) => {
        const want = stateString(snap.value);
        const at = trace.indexOf(want, cursor);
        if (at < 0) throw new Error(`state ${want} not reached after position ${cursor} in trace ${trace.join(' → ')}`);
        cursor = at;
      },
    },
  } as never);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'octopii-lane-model-'));
});
afterAll(async () => {
  await destroyHashPool();
  await rm(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// laneSend

const sendModel = createTestModel(withoutInvokes(laneSendMachine), {
  events: [
    { type: 'START' },
    { type: 'SOURCE_OPENED', size: 100 },
    { type: 'SOURCE_FAILED', error: err('SOURCE_NOT_FOUND') },
    { type: 'HEADER_SENT' },
    { type: 'HIGH_WATER' },
    { type: 'LOW_WATER' },
    { type: 'DATA_SENT', bytes: 100, sha256: 'x' },
    { type: 'PUMP_FAILED', error: err('STREAM_ABORTED'), bytes: 0 },
    { type: 'STATUS', status: 0 },
    { type: 'STATUS', status: 1 },
    { type: 'STATUS', status: 2 },
    { type: 'STATUS_FAILED', error: err('STREAM_ABORTED') },
    { type: 'ABORT', error: err('ABORTED') },
  ],
  serializeState,
} as never);

type Receiver =
  | { kind: 'answer'; status: number } // read everything, answer
  | { kind: 'silent' } // read everything, never answer
  | { kind: 'vanish-before' } // reset the stream before the sender starts
  | { kind: 'vanish-on'; state: string } // reset when the sender enters `state`
  | { kind: 'early'; status: number; after: 'nothing' | 'header' }; // answer early, stop reading

interface SendScenario {
  label: string;
  sourceMissing: boolean;
  pause: boolean;
  receiver: Receiver;
  abortAt?: string;
}

function sendScenario(steps: Step[]): SendScenario {
  const s: SendScenario = { label: '', sourceMissing: false, pause: false, receiver: { kind: 'answer', status: 0 } };
  let prev = 'idle';
  for (const { event, state } of steps) {
    switch (event.type) {
      case 'SOURCE_FAILED':
        s.sourceMissing = true;
        break;
      case 'HIGH_WATER':
        s.pause = true;
        break;
      case 'ABORT':
        s.abortAt = prev;
        if (prev === 'verifying') s.receiver = { kind: 'silent' };
        break;
      case 'PUMP_FAILED':
        s.receiver = prev === 'sending.header' ? { kind: 'vanish-before' } : { kind: 'vanish-on', state: prev };
        break;
      case 'STATUS_FAILED':
        s.receiver = { kind: 'vanish-on', state: 'verifying' };
        break;
      case 'STATUS':
        s.receiver =
          prev === 'verifying'
            ? { kind: 'answer', status: event.status as number }
            : { kind: 'early', status: event.status as number, after: prev === 'sending.header' ? 'nothing' : 'header' };
        break;
    }
    prev = stateString(state.value);
  }
  s.label = JSON.stringify({ ...s, label: undefined });
  return s;
}

async function runSender(sc: SendScenario) {
  const data = randomBytes(sc.pause ? 6 * MiB : 100 * KiB);
  const [a, b] = duplexPair({ highWaterMark: 32 * KiB });
  const trace: string[] = [];
  const waiters = new Map<string, () => void>();
  const reached = (state: string) => new Promise<void>((r) => (trace.includes(state) ? r() : waiters.set(state, r)));
  const ac = new AbortController();
  const rec = sc.receiver;
  const frame = 8 + data.byteLength + 32;

  const readN = async (reader: ReadableStreamDefaultReader<Uint8Array>, n: number) => {
    let got = 0;
    while (got < n) {
      const r = await reader.read();
      if (r.done) return;
      got += r.value.byteLength;
    }
  };

  if (rec.kind === 'vanish-before') b.abort(new Error('receiver gone'));
  if (rec.kind === 'early' && rec.after === 'nothing') {
    const w = b.writable.getWriter();
    await w.write(Uint8Array.of(rec.status));
    await w.close();
    await b.readable.cancel(new OctopiiError('STREAM_ABORTED', 'receiver refused'));
  }

  const receiver = (async () => {
    if (rec.kind === 'vanish-before' || (rec.kind === 'early' && rec.after === 'nothing')) return;
    if (sc.pause) await Promise.race([reached('sending.streaming.paused'), reached('failed')]);
    const reader = b.readable.getReader();
    try {
      if (rec.kind === 'vanish-on') {
        if (rec.state === 'verifying') await readN(reader, frame);
        await reached(rec.state);
        b.abort(new Error('receiver gone'));
        return;
      }
      if (rec.kind === 'early') {
        await readN(reader, 8);
        const w = b.writable.getWriter();
        await w.write(Uint8Array.of(rec.status));
        await w.close();
        await reader.cancel(new OctopiiError('STREAM_ABORTED', 'receiver refused'));
        return;
      }
      await readN(reader, frame);
      if (rec.kind === 'silent') return;
      const w = b.writable.getWriter();
      await w.write(Uint8Array.of(rec.status));
      await w.close();
    } catch {
      // the sender aborted (ABORT paths)
    }
  })();

  const source = sc.sourceMissing ? { kind: 'file' as const, path: join(dir, 'missing.bin') } : { kind: 'memory' as const, data };
  const result = await sendLane(a, source, {
    signal: ac.signal,
    onState: (state) => {
      trace.push(state);
      if (state === sc.abortAt) ac.abort('test abort');
      waiters.get(state)?.();
      waiters.delete(state);
    },
  });
  waiters.get('failed')?.();
  await receiver;
  return { result, trace, data };
}

describe('laneSend model', () => {
  const paths = sendModel.getSimplePaths({ toState: (s: Snap) => s.status === 'done' } as never);

  it('generates paths to every final state and through every state', () => {
    const finals = new Set(paths.map((p) => stateString(p.state.value as StateValue)));
    expect([...finals].sort()).toEqual(['acknowledged', 'failed']);
    const visited = new Set(paths.flatMap((p) => p.steps.map((s) => stateString(s.state.value as StateValue))));
    for (const st of ['idle', 'opening', 'sending.header', 'sending.streaming.flowing', 'sending.streaming.paused', 'verifying']) {
      expect(visited).toContain(st);
    }
    expect(paths.length).toBeGreaterThan(20);
  });

  for (const path of paths) {
    const steps = path.steps as unknown as Step[];
    const sc = sendScenario(steps);
    const final = path.state as unknown as Snap;
    it(describePath(steps, final), async () => {
      const { result, trace, data } = await runSender(sc);
      await checkTrace(path as never, trace);
      expect(trace.at(-1)).toBe(stateString(final.value));
      expect(result.success).toBe(final.value === 'acknowledged');
      expect(result.checksumVerified).toBe(final.value === 'acknowledged');
      expect(result.error?.code).toBe(final.context.error?.code);
      if (result.success) {
        expect(result.bytesTransferred).toBe(data.byteLength);
        expect(result.sha256).toBe(createHash('sha256').update(data).digest('hex'));
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// laneReceive

const MAX = 1000;
const recvModel = createTestModel(withoutInvokes(laneReceiveMachine), {
  input: { maxBytes: MAX },
  // The environment of the test: an ABORT (local reset) or a vanished sender leaves no way to
  // deliver a status, so after those only REPLY_FAILED is offered.
  events: (s: Snap & { matches(v: string): boolean }) => {
    const code = s.context.error?.code;
    const noReply = code === 'ABORTED' || code === 'STREAM_ABORTED';
    const status = s.matches('acknowledging') ? 0 : s.matches('rejecting') ? 2 : statusForError(s.context.error as Parameters<typeof statusForError>[0]);
    return [
      { type: 'START' },
      { type: 'HEADER', size: 100 },
      { type: 'HEADER', size: 5000 },
      { type: 'HEADER_FAILED', error: err('PROTOCOL_ERROR') },
      { type: 'HIGH_WATER' },
      { type: 'LOW_WATER' },
      { type: 'DATA_RECEIVED' },
      ...(s.matches('streaming.flowing')
        ? [{ type: 'PUMP_FAILED', error: err('PROTOCOL_ERROR') }, { type: 'PUMP_FAILED', error: err('STREAM_ABORTED') }]
        : []),
      { type: 'PUMP_FAILED', error: err('IO_ERROR') },
      { type: 'VERIFIED', sha256: 'x' },
      { type: 'MISMATCH', sha256: 'y' },
      { type: 'VERIFY_FAILED', error: err('IO_ERROR') },
      ...(noReply ? [] : [{ type: 'REPLIED', status }]),
      { type: 'REPLY_FAILED', error: err('STREAM_ABORTED') },
      ...(s.matches('failing') ? [] : [{ type: 'ABORT', error: err('ABORTED') }]),
    ];
  },
  serializeState,
} as never);

interface RecvScenario {
  overCap: boolean;
  header: 'ok' | 'truncated';
  data: 'ok' | 'truncated' | 'vanish';
  sinkWrite: 'ok' | 'block-then-release' | 'block-then-fail' | 'fail';
  trailer: 'ok' | 'wrong';
  commit: 'ok' | 'fail';
  listens: boolean;
  abortAt?: string;
}

function recvScenario(steps: Step[]): RecvScenario {
  const s: RecvScenario = { overCap: false, header: 'ok', data: 'ok', sinkWrite: 'ok', trailer: 'ok', commit: 'ok', listens: true };
  let prev = 'idle';
  let prevError: string | undefined;
  for (const { event, state } of steps) {
    const code = (event.error as { code?: string } | undefined)?.code;
    switch (event.type) {
      case 'ABORT':
        s.abortAt = prev;
        break;
      case 'HEADER':
        s.overCap = (event.size as number) > MAX;
        break;
      case 'HEADER_FAILED':
        s.header = 'truncated';
        break;
      case 'HIGH_WATER':
        s.sinkWrite = 'block-then-release';
        break;
      case 'PUMP_FAILED':
        if (code === 'IO_ERROR') s.sinkWrite = prev === 'streaming.paused' ? 'block-then-fail' : 'fail';
        else s.data = code === 'PROTOCOL_ERROR' ? 'truncated' : 'vanish';
        break;
      case 'MISMATCH':
        s.trailer = 'wrong';
        break;
      case 'VERIFY_FAILED':
        s.commit = 'fail';
        break;
      case 'REPLY_FAILED':
        if (prevError !== 'ABORTED' && prevError !== 'STREAM_ABORTED') s.listens = false;
        break;
    }
    prev = stateString(state.value);
    prevError = state.context.error?.code;
  }
  return s;
}

async function runReceiver(sc: RecvScenario) {
  const size = sc.overCap ? 5000 : 100;
  const paused = sc.sinkWrite === 'block-then-release' || sc.sinkWrite === 'block-then-fail';
  const data = randomBytes(size);
  const [a, b] = duplexPair();
  const trace: string[] = [];
  const waiters = new Map<string, () => void>();
  const reached = (state: string) => new Promise<void>((r) => (trace.includes(state) ? r() : waiters.set(state, r)));
  const ac = new AbortController();

  // custom sink whose writes can be held (to force `paused`) and made to fail
  let gate: { release: () => void; fail: () => void } | undefined;
  const gateOpen = new Promise<'ok' | 'fail'>((resolve) => {
    gate = { release: () => resolve('ok'), fail: () => resolve('fail') };
  });
  const written: Uint8Array[] = [];
  let committed = false;
  let discarded = false;
  const sink = {
    kind: 'custom' as const,
    open: async (): Promise<LaneSinkHandle> => ({
      async write(block) {
        if (sc.sinkWrite === 'fail') throw new OctopiiError('IO_ERROR', 'disk full');
        if (paused && (await gateOpen) === 'fail') throw new OctopiiError('IO_ERROR', 'disk full');
        written.push(block.slice());
      },
      async commit() {
        if (sc.commit === 'fail') throw new OctopiiError('IO_ERROR', 'rename failed');
        committed = true;
      },
      async discard() {
        discarded = true;
        gate!.release();
      },
    }),
  };

  const sender = (async () => {
    const w = a.writable.getWriter();
    const reader = a.readable.getReader();
    if (!sc.listens) await reader.cancel(new OctopiiError('STREAM_ABORTED', 'sender not listening'));
    try {
      if (sc.header === 'truncated') {
        await w.write(encodeLaneHeader(size).subarray(0, 3));
        await w.close();
      } else {
        await w.write(encodeLaneHeader(size));
        if (!sc.overCap) {
          if (sc.data === 'ok') {
            await w.write(data);
            const hash = createHash('sha256').update(data).digest();
            if (sc.trailer === 'wrong') hash[0]! ^= 1;
            await w.write(hash);
            await w.close();
          } else {
            await w.write(data.subarray(0, 50));
            if (sc.data === 'truncated') await w.close();
            else {
              await reached('streaming.flowing');
              a.abort(new Error('sender gone'));
            }
          }
        }
      }
    } catch {
      // receiver refused / stream reset
    }
    if (!sc.listens) return undefined;
    const r = await reader.read().catch(() => ({ done: true as const, value: undefined }));
    return r.done ? undefined : r.value[0];
  })();

  const result = await receiveLane(b, sink, {
    signal: ac.signal,
    maxBytes: MAX,
    ...(paused ? { blockBytes: 4, maxBlocksInFlight: 2 } : {}),
    onState: (state) => {
      trace.push(state);
      if (state === sc.abortAt) ac.abort('test abort');
      if (state === 'streaming.paused') {
        if (sc.sinkWrite === 'block-then-release') gate!.release();
        if (sc.sinkWrite === 'block-then-fail') gate!.fail();
      }
      waiters.get(state)?.();
      waiters.delete(state);
    },
  });
  for (const w of waiters.values()) w();
  const statusSeen = await sender;
  return { result, trace, data, written, committed, discarded, statusSeen };
}

describe('laneReceive model', () => {
  // createTestModel adds a payload-less event for every event type the `events` function left
  // out; a bare REPLIED (no status) marks a reply the environment cannot deliver: drop those.
  const paths = recvModel
    .getSimplePaths({ toState: (s: Snap) => s.status === 'done', input: { maxBytes: MAX } } as never)
    .filter((p) => p.steps.every((s) => s.event.type !== 'REPLIED' || typeof (s.event as { status?: unknown }).status === 'number'));

  it('generates paths to every final state and through every state', () => {
    const finals = new Set(paths.map((p) => stateString(p.state.value as StateValue)));
    expect([...finals].sort()).toEqual(['acknowledged', 'failed', 'rejected']);
    const visited = new Set(paths.flatMap((p) => p.steps.map((s) => stateString(s.state.value as StateValue))));
    for (const st of ['idle', 'header', 'streaming.flowing', 'streaming.paused', 'verifying', 'acknowledging', 'rejecting', 'failing']) {
      expect(visited).toContain(st);
    }
    expect(paths.length).toBeGreaterThan(20);
  });

  for (const path of paths) {
    const steps = path.steps as unknown as Step[];
    const sc = recvScenario(steps);
    const final = path.state as unknown as Snap;
    it(describePath(steps, final), async () => {
      const { result, trace, data, written, committed, discarded, statusSeen } = await runReceiver(sc);
      await checkTrace(path as never, trace);
      expect(trace.at(-1)).toBe(stateString(final.value));
      expect(result.outcome).toBe(final.value);
      expect(result.success).toBe(final.value === 'acknowledged');
      expect(result.error?.code).toBe(final.context.error?.code);
      expect(result.status).toBe(final.context.laneStatus);
      if (sc.listens && result.status !== null) expect(statusSeen).toBe(result.status);
      if (result.success) {
        expect(committed).toBe(true);
        expect(Buffer.concat(written)).toEqual(Buffer.from(data));
        expect(result.sha256).toBe(createHash('sha256').update(data).digest('hex'));
      } else if (written.length > 0 || committed) {
        // a failed receive never keeps data: a sink that got bytes was discarded
        expect(discarded).toBe(true);
      }
    });
  }
});
