/**
 * Flight recorder: the last inspection events of a node kept in memory and written to a file
 * as a CBOR sequence (RFC 8949 items back to back, RFC 8742): first a {@link RecordingHeader},
 * then one {@link ObserveEvent} per item, each timestamped (`t`, wall-clock ms). Bounded: at most
 * `maxEvents` events are kept; older ones are folded into the header's `actors` (the state of
 * every actor just before the first kept event), so a replay starts from a true picture.
 *
 * The file is rewritten whole (temp file + rename: a reader never sees half a file) every
 * `flushMs` while events arrive, and on `flush()` / `close()`. `octopii replay FILE`
 * (src/cli/replay.ts) serves the inspector page stepping through it.
 *
 *   const rec = startFlightRecorder(node, { path: 'node.flight.cbor' });
 *   …
 *   await rec.close();
 */
import { rename, writeFile, readFile } from 'node:fs/promises';
import { Encoder, decodeMultiple } from 'cbor-x';
import type { AnyStateMachine, InspectionEvent } from 'xstate';
import { OctopiiError } from '../errors.js';
import type { ActorNode } from '../node/inspect.js';
import { chartOf, type MachineChart } from './chart.js';
import { loadBuiltinCharts } from './catalogue.js';
import { toObserveEvent, type ObserveEvent } from './events.js';
import type { ActorState } from './hub.js';

export const RECORDING_FORMAT = 'octopii-flight';
export const RECORDING_VERSION = 1;

export interface RecordingHeader {
  format: typeof RECORDING_FORMAT;
  version: typeof RECORDING_VERSION;
  nodeId: string;
  /** Wall-clock ms when recording started, and when this file was written. */
  startedAt: number;
  writtenAt: number;
  /** Events dropped off the front (over `maxEvents`). */
  dropped: number;
  /** Every actor's state just before the first event of the file. */
  actors: ActorState[];
  /** Charts of the machines seen, so a replay draws them as they were. */
  machines: MachineChart[];
}

export interface Recording {
  header: RecordingHeader;
  events: ObserveEvent[];
}

export interface FlightRecorderOptions {
  /** File to write (rewritten whole on each flush). */
  path: string;
  /** Events kept (default 50,000). */
  maxEvents?: number;
  /** Flush interval while events arrive, ms (default 5,000; 0: only on flush/close). */
  flushMs?: number;
}

export interface FlightRecorder {
  /** Events held now. */
  readonly size: number;
  /** Writes the file now. */
  flush(): Promise<void>;
  /** Stops recording and writes the file a last time. Idempotent. */
  close(): Promise<void>;
}

/** What the recorder reads from a node (an OctopiiNode fits). */
export interface RecorderSource {
  readonly nodeId: string;
  onInspect(listener: (e: InspectionEvent) => void): () => void;
  inspect(): { tree: ActorNode };
}

// Plain CBOR maps, no cbor-x record extension: any CBOR decoder reads the file.
const encoder = new Encoder({ useRecords: false });

/** Starts recording `node`. Throws INVALID_ARGUMENT for a bad `maxEvents`. */
export function startFlightRecorder(node: RecorderSource, options: FlightRecorderOptions): FlightRecorder {
  const max = options.maxEvents ?? 50_000;
  if (!Number.isInteger(max) || max < 1) throw new OctopiiError('INVALID_ARGUMENT', `maxEvents must be a positive integer, got ${max}`);
  const startedAt = Date.now();
  const ring: ObserveEvent[] = [];
  let head = 0; // index of the oldest event once the ring is full
  let dropped = 0;
  let seq = 0;
  let dirty = false;
  const base = new Map<string, ActorState>();
  const charts = new Map<string, MachineChart>();
  const builtins = loadBuiltinCharts().then(({ charts: cs }) => {
    for (const c of cs) if (!charts.has(c.id)) charts.set(c.id, c);
  });
  const seed = (n: ActorNode, parent: string | null) => {
    if (n.machine !== 'actor') base.set(n.id, { actor: { sid: '', id: n.id, parent, machine: n.machine }, state: n.state, status: n.status, context: n.summary, t: startedAt });
    for (const c of n.children) seed(c, n.id);
  };
  seed(node.inspect().tree, null);

  const fold = (r: ObserveEvent) => {
    if (r.kind !== 'snapshot') return;
    if (r.status === 'active') base.set(r.actor.id, { actor: r.actor, state: r.state, status: r.status, context: r.context, t: r.t });
    else base.delete(r.actor.id); // finished before the recording's window: nothing to show
  };

  const off = node.onInspect((e) => {
    if (e.type === '@xstate.actor') {
      const logic = (e.actorRef as unknown as { logic?: AnyStateMachine & { root?: unknown } }).logic;
      if (logic?.root !== undefined && !charts.has(logic.id)) {
        try {
          charts.set(logic.id, chartOf(logic));
        } catch {
          // drawn without a chart
        }
      }
    }
    const r = toObserveEvent(e, node.nodeId, ++seq);
    if (!r) return;
    dirty = true;
    if (ring.length < max) ring.push(r);
    else {
      fold(ring[head]!);
      ring[head] = r;
      head = (head + 1) % max;
      dropped++;
    }
  });

  const ordered = () => (ring.length < max ? [...ring] : [...ring.slice(head), ...ring.slice(0, head)]);
  let writing: Promise<void> = Promise.resolve();
  const flush = () => {
    writing = writing.then(async () => {
      await builtins;
      dirty = false;
      const header: RecordingHeader = {
        format: RECORDING_FORMAT,
        version: RECORDING_VERSION,
        nodeId: node.nodeId,
        startedAt,
        writtenAt: Date.now(),
        dropped,
        actors: [...base.values()],
        machines: [...charts.values()],
      };
      const parts = [encoder.encode(header), ...ordered().map((r) => encoder.encode(r))];
      const tmp = `${options.path}.tmp-${process.pid}`;
      await writeFile(tmp, Buffer.concat(parts));
      await rename(tmp, options.path);
    });
    return writing;
  };
  const flushMs = options.flushMs ?? 5_000;
  const timer = flushMs > 0 ? setInterval(() => void (dirty ? flush().catch(() => undefined) : undefined), flushMs) : undefined;
  timer?.unref();
  let closing: Promise<void> | undefined;
  return {
    get size() {
      return ring.length;
    },
    flush,
    close: () =>
      (closing ??= (async () => {
        off();
        if (timer) clearInterval(timer);
        await flush();
      })()),
  };
}

/** Reads a recording written by {@link startFlightRecorder}. Throws INVALID_ARGUMENT if it is not one. */
export async function readRecording(path: string): Promise<Recording> {
  const bytes = await readFile(path);
  const items: unknown[] = [];
  try {
    decodeMultiple(bytes, (v) => {
      items.push(v);
    });
  } catch (e) {
    throw new OctopiiError('INVALID_ARGUMENT', `${path} is not a CBOR sequence: ${e instanceof Error ? e.message : String(e)}`);
  }
  const header = items[0] as RecordingHeader | undefined;
  if (!header || header.format !== RECORDING_FORMAT) throw new OctopiiError('INVALID_ARGUMENT', `${path} is not an octopii flight recording`);
  if (header.version !== RECORDING_VERSION) throw new OctopiiError('INVALID_ARGUMENT', `${path}: recording version ${header.version} is not supported (this reads ${RECORDING_VERSION})`);
  return { header, events: items.slice(1) as ObserveEvent[] };
}
