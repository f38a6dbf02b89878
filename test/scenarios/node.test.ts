/**
 * Scenario files in the style of etcd-io/raft's `testdata/*.txt` (the datadriven format): each
 * block is a command, a `----` line, and the output expected from it, up to a blank line. The
 * runner replays every file in test/scenarios/node/ over whole nodes on the in-memory network
 * and a simulated clock (test/helpers/simWorld.ts), so a reviewer reads a scenario like a story:
 *
 *   start a b
 *   ----
 *   ok
 *
 * `UPDATE_SCENARIOS=1 npx vitest run test/scenarios/node.test.ts` rewrites the expected output.
 *
 * Commands: `start N…`, `kill N`, `restart N`, `stop N`, `tick DURATION`, `dial A B`,
 * `send LABEL A B SIZE`, `await LABEL`, `partition A B`, `heal [A B]`, `freeze A B`, `delay A B DURATION`, `drop A B`, `peers N`, `links`,
 * `inspect N`, `children N`, `spawn-crashing N ID`, `dial-both A B`. Output: the events that happened during the command, each
 * `[t] text` with the simulated time, then what the command prints.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import { SimWorld } from '../helpers/simWorld.js';
import type { ActorNode } from '../../src/node/inspect.js';

const DIR = fileURLToPath(new URL('./node/', import.meta.url));
const UPDATE = process.env.UPDATE_SCENARIOS === '1';

interface Block {
  /** Comment lines (`# …`) just above the command. */
  comment: string[];
  command: string;
  expected: string;
}

function parse(text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let comment: string[] = [];
  let i = 0;
  while (i < lines.length) {
    if (lines[i]!.trim() === '') {
      i++;
      continue;
    }
    if (lines[i]!.startsWith('#')) {
      comment.push(lines[i++]!);
      continue;
    }
    const command = lines[i++]!;
    if (lines[i] !== '----') throw new Error(`expected ---- after "${command}" (line ${i + 1})`);
    i++;
    const out: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== '') out.push(lines[i++]!);
    blocks.push({ comment, command, expected: out.join('\n') });
    comment = [];
  }
  return blocks;
}

function duration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(s);
  if (!m) throw new Error(`bad duration ${s}`);
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
}

function size(s: string): number {
  const m = /^(\d+)(B|KiB|MiB)?$/.exec(s);
  if (!m) throw new Error(`bad size ${s}`);
  return Number(m[1]) * (m[2] === 'KiB' ? 1024 : m[2] === 'MiB' ? 1024 * 1024 : 1);
}

function fmtTime(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(3).replace(/0+$/, '')}s`;
}

function treeLines(w: SimWorld, n: ActorNode, depth = 0): string[] {
  const pick = n.machine === 'peer' ? { connects: n.summary.connects, losses: n.summary.losses } : n.machine.startsWith('lane') ? { size: n.summary.size } : {};
  const extra = Object.entries(pick)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}=${String(v)}`)
    .join('');
  const line = `${'  '.repeat(depth)}${w.names(n.id).replace(/#\d+$/, '')} (${n.machine}) ${n.state}${extra}`;
  return [line, ...n.children.map((c) => treeLines(w, c, depth + 1)).flat()];
}

/** A child that fails 50 ms after every start (to drive the supervisor). */
const crashing = createMachine({
  id: 'crashing',
  initial: 'running',
  output: { status: 'failed', error: { code: 'INTERNAL', message: 'worker crashed' } },
  states: { running: { after: { 50: 'crashed' } }, crashed: { type: 'final' } },
});

async function run(w: SimWorld, command: string): Promise<string> {
  const [cmd, ...args] = command.trim().split(/\s+/);
  const out: string[] = [];
  const mark = w.events.length;
  switch (cmd) {
    case 'start':
      for (const n of args) await w.start(n);
      await w.flush();
      break;
    case 'restart':
      await w.start(args[0]!);
      await w.flush();
      break;
    case 'kill':
      await w.kill(args[0]!);
      break;
    case 'stop':
      await w.stop(args[0]!);
      break;
    case 'tick':
      await w.advance(duration(args[0]!));
      break;
    case 'dial-both': {
      // Both dials start before either settles: a true simultaneous open.
      const [a, b] = args as [string, string];
      w.node(a).connect(w.ref(b)).catch(() => undefined);
      w.node(b).connect(w.ref(a)).catch(() => undefined);
      await w.flush();
      break;
    }
    case 'children':
      for (const c of Object.values(w.node(args[0]!).inspect().children)) {
        out.push(`${w.names(c.id).replace(/#\d+$/, '')} ${c.status} restarts=${c.restarts}${c.restartDelayMs !== null ? ` next-in=${c.restartDelayMs}ms` : ''}${c.lastExit ? ` last-exit=${c.lastExit}` : ''}`);
      }
      break;
    case 'dial': {
      const [a, b] = args as [string, string];
      w.node(a)
        .connect(w.ref(b))
        .catch(() => undefined);
      await w.flush();
      break;
    }
    case 'send': {
      const [label, a, b, s] = args as [string, string, string, string];
      w.send(label, a, b, size(s));
      await w.flush();
      break;
    }
    case 'await': {
      const t = w.transfers.get(args[0]!)!;
      const ok = await w.until(() => t.result !== undefined);
      if (!ok) out.push(`${args[0]} did not finish`);
      break;
    }
    case 'partition':
      w.network.partition(w.nodes.get(args[0]!)!.address, w.nodes.get(args[1]!)!.address);
      await w.flush();
      break;
    case 'freeze':
      // The network between A and B goes silent: connections stay open, nothing arrives (a
      // peer killed with kill -9 behind a network that drops its packets).
      w.network.setDelay(w.nodes.get(args[0]!)!.address, w.nodes.get(args[1]!)!.address, 24 * 3_600_000);
      await w.flush();
      break;
    case 'delay':
      w.network.setDelay(w.nodes.get(args[0]!)!.address, w.nodes.get(args[1]!)!.address, duration(args[2]!));
      await w.flush();
      break;
    case 'drop':
      w.network.dropConnection(w.nodes.get(args[0]!)!.address, w.nodes.get(args[1]!)!.address);
      await w.flush();
      break;
    case 'heal':
      if (args.length === 2) w.network.heal(w.nodes.get(args[0]!)!.address, w.nodes.get(args[1]!)!.address);
      else w.network.heal();
      await w.flush();
      break;
    case 'peers':
      for (const p of w.node(args[0]!).peers()) {
        const link = p.connected ? ` dialled-by=${w.names((w.node(args[0]!).inspect().tree.children.find((c) => c.id === p.id)?.summary.link as { dialled: boolean }).dialled ? args[0]! : p.nodeId!)}` : '';
        out.push(`${w.names(p.id.replace(/^peer:/, ''))} ${p.state} connects=${p.connects} losses=${p.losses}${link}${p.lastError ? ` last=${p.lastError.code}` : ''}`);
      }
      break;
    case 'links':
      for (const l of w.network.links()) out.push(`${w.names(l.client.nodeId)} → ${w.names(l.server.nodeId)}`);
      if (out.length === 0) out.push('none');
      break;
    case 'inspect':
      out.push(...treeLines(w, w.node(args[0]!).inspect().tree));
      break;
    case 'spawn-crashing':
      w.node(args[0]!).spawn(args[1]!, crashing, { restart: 'permanent' });
      await w.flush();
      break;
    default:
      throw new Error(`unknown command ${cmd}`);
  }
  const events = w.events.slice(mark).map((e) => `[${fmtTime(e.t)}] ${w.names(e.text)}`);
  const lines = [...events, ...out];
  return lines.length ? lines.join('\n') : 'ok';
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.txt')).sort();

describe('node scenarios (test/scenarios/node/*.txt)', () => {
  for (const file of files) {
    it(file, async () => {
      const path = join(DIR, file);
      const blocks = parse(readFileSync(path, 'utf8'));
      const w = await SimWorld.create({ receive: 'memory', peer: { keepAliveMs: 1000, deadAfterMs: 3000, retryInitialMs: 200, maxRetries: 3 } });
      const actual: string[] = [];
      try {
        for (const b of blocks) actual.push(await run(w, b.command));
      } finally {
        await w.close();
      }
      if (UPDATE) {
        const text = blocks.map((b, i) => [...b.comment, b.command, '----', actual[i]].join('\n')).join('\n\n') + '\n';
        writeFileSync(path, text);
        return;
      }
      for (let i = 0; i < blocks.length; i++) {
        expect(actual[i], `${file}: ${blocks[i]!.command}`).toBe(blocks[i]!.expected);
      }
    });
  }
});
