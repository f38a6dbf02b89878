/**
 * Replays the Raft scenarios in test/scenarios/raft/*.txt over the pure core (etcd-io/raft's
 * datadriven `testdata` style). Each block is a command, a `----` line and the expected output,
 * ended by a blank line; `#` lines are comments. `UPDATE_SCENARIOS=1` rewrites the expected
 * output in place (review the diff!).
 *
 * Commands:
 *   add-nodes N voters=(1,2,3) [prevote=true] [checkquorum=true] [max-msg-entries=K]
 *             [max-inflight=K] [election=T] [heartbeat=T]   add nodes with the next N IDs
 *             (PreVote and CheckQuorum are off unless asked for, so each scenario shows what it enables;
 *             each node's PRNG seed is its ID)
 *   set-log ID terms=(1,1,2) [term=T] [vote=V] [commit=C]   replace ID's persisted log, restart it
 *   campaign ID · propose ID DATA · read-index ID CTX
 *   tick ID [N] · tick-election ID · tick-heartbeat ID
 *   process-ready ID... · deliver-msgs [ID...] · drop-msgs [ID...] · stabilize [ID...]
 *   partition ID... (those IDs on one side, everyone else on the other) · heal
 *   restart ID (crash: keep only what was persisted) · status ID · raft-log ID
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isOctopiiError } from '../../src/errors.js';
import { MemoryLogStorage } from '../../src/raft/index.js';
import { RaftCluster, type NodeOptions } from '../helpers/raftCluster.js';
import { describeEntry, describeReady, describeStatus } from '../helpers/raftFormat.js';

const DIR = join(import.meta.dirname, 'raft');
const UPDATE = process.env.UPDATE_SCENARIOS === '1';

interface Block {
  comments: string[];
  cmd: string;
  expected: string[];
}

function parse(text: string): { blocks: Block[]; trailer: string[] } {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let comments: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '') {
      i++;
      continue;
    }
    if (line.startsWith('#')) {
      comments.push(line);
      i++;
      continue;
    }
    const cmd = line;
    i++;
    if (lines[i] !== '----') throw new Error(`line ${i + 1}: expected ---- after "${cmd}"`);
    i++;
    const expected: string[] = [];
    while (i < lines.length && lines[i] !== '') expected.push(lines[i++]!);
    blocks.push({ comments, cmd, expected });
    comments = [];
  }
  return { blocks, trailer: comments };
}

function args(cmd: string): { name: string; pos: string[]; kv: Map<string, string> } {
  const tokens = cmd.match(/\S+=\([^)]*\)|\S+/g) ?? [];
  const kv = new Map<string, string>();
  const pos: string[] = [];
  for (const t of tokens.slice(1)) {
    const eq = t.indexOf('=');
    if (eq > 0) kv.set(t.slice(0, eq), t.slice(eq + 1));
    else pos.push(t);
  }
  return { name: tokens[0]!, pos, kv };
}

const list = (v: string | undefined): number[] => (v ? v.replace(/[()]/g, '').split(',').filter(Boolean).map(Number) : []);
const ids = (pos: string[], c: RaftCluster): number[] => (pos.length > 0 ? pos.map(Number) : [...c.nodes.keys()]);
const enc = new TextEncoder();

function run(c: RaftCluster, cmd: string): string[] {
  const { name, pos, kv } = args(cmd);
  const one = () => Number(pos[0]);
  const ok = ['ok'];
  switch (name) {
    case 'add-nodes': {
      const n = Number(pos[0]);
      const voters = list(kv.get('voters'));
      const opts: { -readonly [K in keyof NodeOptions]: NodeOptions[K] } = {
        preVote: kv.get('prevote') === 'true',
        checkQuorum: kv.get('checkquorum') === 'true',
      };
      if (kv.has('max-msg-entries')) opts.maxMsgEntries = Number(kv.get('max-msg-entries'));
      if (kv.has('max-inflight')) opts.maxInflight = Number(kv.get('max-inflight'));
      if (kv.has('election')) opts.electionTick = Number(kv.get('election'));
      if (kv.has('heartbeat')) opts.heartbeatTick = Number(kv.get('heartbeat'));
      const first = c.nodes.size + 1;
      for (let id = first; id < first + n; id++) c.add(id, voters, opts);
      return ok;
    }
    case 'set-log': {
      const id = one();
      const terms = list(kv.get('terms'));
      const entries = terms.map((term, i) => ({ term, index: i + 1, data: enc.encode(`t${term}i${i + 1}`) }));
      const storage = new MemoryLogStorage(entries, {
        term: Number(kv.get('term') ?? terms[terms.length - 1] ?? 0),
        vote: Number(kv.get('vote') ?? 0),
        commit: Number(kv.get('commit') ?? 0),
      });
      c.restart(id, storage);
      return ok;
    }
    case 'campaign':
      c.get(one()).node.campaign();
      return ok;
    case 'propose':
    case 'read-index':
      try {
        if (name === 'propose') c.get(one()).node.propose(enc.encode(pos[1] ?? ''));
        else c.get(one()).node.readIndex(pos[1] ?? '');
        return ok;
      } catch (e) {
        if (isOctopiiError(e)) return [`error ${e.code}: ${e.message}`];
        throw e;
      }
    case 'tick': {
      const n = Number(pos[1] ?? 1);
      for (let i = 0; i < n; i++) c.get(one()).node.tick();
      return ok;
    }
    case 'tick-election':
    case 'tick-heartbeat': {
      const node = c.get(one()).node;
      const cfgTicks = name === 'tick-election' ? (c.get(one()).opts.electionTick ?? 10) : (c.get(one()).opts.heartbeatTick ?? 1);
      for (let i = 0; i < cfgTicks; i++) node.tick();
      return ok;
    }
    case 'process-ready': {
      const out: string[] = [];
      for (const id of pos.map(Number)) {
        const rd = c.processReady(id);
        const lines = rd ? describeReady(rd) : ['<empty Ready>'];
        out.push(...(pos.length > 1 ? [`> ${id} handling Ready`, ...lines.map((l) => `  ${l}`)] : lines));
      }
      return out;
    }
    case 'deliver-msgs': {
      const out: string[] = [];
      for (const id of ids(pos, c)) out.push(...c.deliver(id));
      return out.length > 0 ? out : ['no messages'];
    }
    case 'drop-msgs': {
      const dropped = ids(pos, c).flatMap((id) => c.take(id));
      return [`dropped ${dropped.length} messages`];
    }
    case 'stabilize': {
      const out = c.stabilize(pos.length > 0 ? pos.map(Number) : undefined);
      return out.length > 0 ? out : ok;
    }
    case 'partition': {
      c.side = new Map([...c.nodes.keys()].map((id) => [id, pos.map(Number).includes(id) ? 1 : 0]));
      return ok;
    }
    case 'heal':
      c.side = new Map();
      return ok;
    case 'restart':
      c.restart(one());
      return ok;
    case 'status':
      return ids(pos, c).flatMap((id) => describeStatus(c.get(id).node.status()));
    case 'raft-log': {
      const n = c.get(one());
      const entries = n.storage.all();
      return entries.length > 0 ? entries.map(describeEntry) : ['log is empty'];
    }
    default:
      throw new Error(`unknown command: ${cmd}`);
  }
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.txt')).sort();

describe('raft scenarios', () => {
  for (const file of files) {
    it(file, () => {
      const path = join(DIR, file);
      const text = readFileSync(path, 'utf8');
      const { blocks, trailer } = parse(text);
      const c = new RaftCluster();
      const out: string[] = [];
      for (const b of blocks) {
        out.push(...b.comments, b.cmd, '----', ...run(c, b.cmd), '');
      }
      let actual = out.join('\n');
      const rest = trailer.filter((l) => l.trim() !== '');
      if (rest.length > 0) actual += rest.join('\n') + '\n';
      if (UPDATE) {
        writeFileSync(path, actual);
        return;
      }
      expect(actual).toBe(text);
    });
  }
});
