/**
 * `octopii call` / `octopii methods` (src/cli/call.ts) against a real node over QUIC (quinn).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OctopiiNode } from '../../src/node.js';
import { runCall, runMethods } from '../../src/cli/call.js';
import { NodePool, rm, tempDir } from '../helpers/laneFixtures.js';
import { kv, kvHandlers } from '../helpers/rpcFixtures.js';

let root: string;
let pool: NodePool;
let b: OctopiiNode;
beforeAll(async () => {
  root = await tempDir('octopii-rpc-cli-');
  pool = new NodePool(root);
  b = await pool.start({ transport: 'quinn' });
  b.serve(kv, kvHandlers(new Map([['k', 'v']])));
});
afterAll(async () => {
  await pool.stopAll();
  await rm(root, { recursive: true, force: true });
});

function io(lines: string[] = []) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      out: (l: string) => out.push(l),
      err: (l: string) => err.push(l),
      lines: (async function* () {
        yield* lines;
      })(),
    },
  };
}
const opts = () => ({ to: b.address, peerId: b.nodeId, transport: 'quinn' as const });

describe('octopii call', () => {
  it('prints the reply of a unary call as JSON', async () => {
    const x = io();
    const code = await runCall(opts(), 'kv.get', '{"key":"k"}', x.io);
    expect([code, x.out]).toEqual([0, ['{"value":"v"}']]);
  });

  it('prints one line per message of a server stream', async () => {
    const x = io();
    await runCall(opts(), 'kv.watch', '{"prefix":"p","count":3}', x.io);
    expect(x.out).toEqual(['{"key":"p0","n":0}', '{"key":"p1","n":1}', '{"key":"p2","n":2}']);
  });

  it('reads client-stream inputs as JSON lines', async () => {
    const x = io(['{"key":"a","value":"1"}', '{"key":"b","value":"2"}']);
    await runCall(opts(), 'kv.putMany', undefined, x.io);
    expect(x.out).toEqual(['{"count":2}']);
  });

  it('exits 1 with the error code of an unknown method', async () => {
    const x = io();
    const code = await runCall(opts(), 'kv.nope', '{}', x.io);
    expect([code, JSON.parse(x.err[0]!).error.code]).toEqual([1, 'UNKNOWN_METHOD']);
  });

  it('exits 2 on input that is not JSON', async () => {
    const x = io();
    expect(await runCall(opts(), 'kv.get', '{nope', x.io)).toBe(2);
  });
});

describe('octopii methods', () => {
  it("lists the peer's services with JSON Schemas", async () => {
    const x = io();
    await runMethods(opts(), x.io);
    const { services } = JSON.parse(x.out[0]!) as { services: Array<{ name: string; methods: Array<{ name: string }> }> };
    expect(services.map((s) => s.name).sort()).toEqual(['kv', 'node']);
  });
});
