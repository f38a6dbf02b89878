/**
 * Memory of `octopii serve` under a flood of stalled lane streams from one peer, and after it (a
 * bench: figures, not pass/fail). `npm run bench:memory` prints one row per transport after its
 * transfer row; alone:
 *
 *   npx tsx bench/memoryFlood.ts                          # both transports, 1,000 streams
 *   npx tsx bench/memoryFlood.ts --transports matrixai --streams 2000 --idle-ms 5000
 *
 * The scenario of test/integration/limits-quic.test.ts, with the receiver alone in its process:
 *  1. starts `bin/octopii.js serve` (the CLI, node flags as in bench/memory.ts) with
 *     OCTOPII_RECEIVE_STALL_MS=600000, so no admitted stream is cut (and its slot freed) during
 *     the flood; settles `--settle-ms`, samples its RSS for `--idle-ms`: *before* is the median;
 *  2. a forked bench child (an OctopiiNode through tsx) opens `--streams` lane streams on one
 *     connection, each announcing 64 MiB and sending nothing more: it keeps the first
 *     `incomingPerPeer` (16, the default) open, stalled; the rest are refused with status 2 and
 *     it lets each go once answered; *during* is the receiver's median RSS over `--idle-ms` once
 *     the flood is over (and *peak* the highest sample since it started);
 *  3. the attacker's node stops (its connection closes): the receiver fails the 16 held
 *     transfers (16 `failed` lines); after `--settle-ms`, *after* is the median RSS over
 *     `--idle-ms`. Target: after − before ≤ 32 MiB.
 *
 * Each figure is /proc/PID/status VmRSS (with RssAnon), in MiB.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STEP_MS, killAll, median, mib, sampler, sleep, start } from './procs.js';
import { Child, benchMain } from './util.js';

const self = fileURLToPath(import.meta.url);
const MiB = 2 ** 20;

type AttackIn = { type: 'stop' };
type AttackOut = { type: 'flooded'; ms: number; refused: number; held: number; other: number } | { type: 'error'; message: string };

/** Options of {@link floodRows}. */
export interface FloodOptions {
  transports: string[];
  /** Lane streams the attacker opens on its one connection. */
  streams: number;
  settleMs: number;
  idleMs: number;
  sampleMs: number;
}

export const FLOOD_DEFAULTS: FloodOptions = { transports: ['quinn', 'matrixai'], streams: 1_000, settleMs: 2_000, idleMs: 3_000, sampleMs: 50 };

/** One row: the receiver's RSS in MiB before, during (and peak), after the flood. */
export interface FloodRow {
  transport: string;
  streams: number;
  floodMs: number;
  refused: number;
  held: number;
  beforeMiB: number;
  duringMiB: number;
  peakMiB: number;
  afterMiB: number;
  anonBeforeMiB: number;
  anonAfterMiB: number;
}

/** The attacker (a forked child): one node, `streams` lane streams to the receiver. */
async function attackerRole(): Promise<void> {
  const [address, nodeId, transport, streams, dataDir] = process.argv.slice(3);
  const { OctopiiNode } = await import('../src/node.js');
  const { generateIdentity } = await import('../src/identity.js');
  const { encodeLaneHeader } = await import('../src/wire/laneV1.js');
  const node = await OctopiiNode.start({ listen: '127.0.0.1:0', dataDir: dataDir!, identity: generateIdentity(), transport: transport as 'quinn' | 'matrixai', peer: { deadAfterMs: 30_000 } });
  const peer = { address: address!, nodeId: nodeId! };
  const held: unknown[] = [];
  let refused = 0;
  let other = 0;
  const t0 = Date.now();
  for (let i = 0; i < Number(streams); i++) {
    const s = await node.openStream(peer, 'lane');
    const w = s.writable.getWriter();
    await w.write(encodeLaneHeader(64 * MiB));
    w.releaseLock();
    if (held.length < 16) {
      held.push(s);
      continue;
    }
    const r = s.readable.getReader();
    const first = await Promise.race([r.read().then((x) => x.value?.[0] ?? null, () => null), sleep(10_000).then(() => null)]);
    r.releaseLock();
    s.abort();
    if (first === 2) refused++;
    else {
      // Not refused at once (no answer within 10 s, or admitted): stop rather than wait 10 s for
      // each stream from here on; the row says how many streams went out.
      other++;
      break;
    }
  }
  process.send!({ type: 'flooded', ms: Date.now() - t0, refused, held: held.length, other } satisfies AttackOut);
  await new Promise<void>((r) => process.on('message', (m: AttackIn) => m.type === 'stop' && r()));
  await node.stop();
  process.exit(0);
}

/** Runs the flood once per transport against a fresh `octopii serve`; `work` is a scratch directory. */
export async function floodRows(o: FloodOptions, work: string, onRow: (row: FloodRow) => void = () => undefined): Promise<FloodRow[]> {
  const rows: FloodRow[] = [];
  for (const transport of o.transports) {
    const dir = join(work, `flood-${transport}`);
    const serve = start(
      ['serve', '--listen', '127.0.0.1:0', '--dir', join(dir, 'in'), '--data-dir', join(dir, 'state'), '--identity', join(dir, 'state', 'identity.pem'), '--transport', transport],
      { OCTOPII_RECEIVE_STALL_MS: '600000' },
    );
    try {
      const l = await serve.waitFor((x) => x.event === 'listening', 'listening line');
      const pid = serve.child.pid!;
      await sleep(o.settleMs);
      const before = sampler(pid, o.sampleMs);
      await sleep(o.idleMs);
      const b = before.stop();

      const all = sampler(pid, o.sampleMs);
      const attacker = Child.fork<AttackIn, AttackOut>('attacker', self, ['attacker', String(l.address), String(l.nodeId), transport, String(o.streams), join(dir, 'attacker')]);
      const flooded = await attacker.next('flooded', 10 * STEP_MS);
      const during = sampler(pid, o.sampleMs);
      await sleep(o.idleMs);
      const d = during.stop();
      await attacker.stop(30_000);
      const deadline = Date.now() + STEP_MS;
      while (serve.lines.filter((x) => x.event === 'failed').length < flooded.held && Date.now() < deadline) await sleep(100);
      await sleep(o.settleMs);
      const after = sampler(pid, o.sampleMs);
      await sleep(o.idleMs);
      const a = after.stop();
      const peak = Math.max(...all.stop().map((s) => s.rssKiB));
      serve.child.kill('SIGINT');
      await Promise.race([serve.exited, sleep(10_000)]);
      rows.push({
        transport,
        streams: flooded.refused + flooded.held + flooded.other,
        floodMs: flooded.ms,
        refused: flooded.refused,
        held: flooded.held,
        beforeMiB: mib(median(b.map((s) => s.rssKiB))),
        duringMiB: mib(median(d.map((s) => s.rssKiB))),
        peakMiB: mib(peak),
        afterMiB: mib(median(a.map((s) => s.rssKiB))),
        anonBeforeMiB: mib(median(b.map((s) => s.anonKiB))),
        anonAfterMiB: mib(median(a.map((s) => s.anonKiB))),
      });
      onRow(rows.at(-1)!);
    } finally {
      if (serve.child.exitCode === null) serve.child.kill('SIGKILL');
    }
  }
  return rows;
}

/** Prints the rows (one line each), `after − before` against the 32 MiB target. */
export function printFloodRows(rows: FloodRow[]): void {
  for (const r of rows) {
    const sign = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
    console.log(
      `flood   ${r.transport}: ${r.streams} stalled streams from one peer in ${(r.floodMs / 1000).toFixed(1)} s (${r.held} held, ${r.refused} refused at once): ` +
        `RSS ${r.beforeMiB} MiB before, ${r.duringMiB} during (${sign(r.duringMiB - r.beforeMiB)}, peak ${r.peakMiB}), ${r.afterMiB} after (${sign(r.afterMiB - r.beforeMiB)} MiB; target ≤ +32); ` +
        `anon ${r.anonBeforeMiB} → ${r.anonAfterMiB}`,
    );
  }
}

/** `--transports a,b --streams N --settle-ms --idle-ms --sample-ms`. */
export function parseFloodArgs(argv: string[], o: FloodOptions = { ...FLOOD_DEFAULTS }): FloodOptions {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === '--transports') o.transports = v().split(',').filter(Boolean);
    else if (a === '--streams') o.streams = Number(v());
    else if (a === '--settle-ms') o.settleMs = Number(v());
    else if (a === '--idle-ms') o.idleMs = Number(v());
    else if (a === '--sample-ms') o.sampleMs = Number(v());
    else throw new Error(`unknown option ${a} (see the top of bench/memoryFlood.ts)`);
  }
  return o;
}

async function standalone(): Promise<void> {
  const o = parseFloodArgs(process.argv.slice(2));
  const work = await mkdtemp(join(tmpdir(), 'octopii-bench-flood-'));
  try {
    await floodRows(o, work, (row) => printFloodRows([row]));
  } finally {
    killAll();
    await rm(work, { recursive: true, force: true });
  }
}

benchMain(self, { attacker: attackerRole }, standalone);
