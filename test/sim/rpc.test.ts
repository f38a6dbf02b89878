/**
 * RPC between whole nodes on the in-memory network under a simulated clock (test/helpers/simWorld.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimWorld } from '../helpers/simWorld.js';
import { collect, kv, kvHandlers, settle } from '../helpers/rpcFixtures.js';
import { nodeService } from '../../src/rpc/index.js';

let world: SimWorld;
beforeEach(async () => {
  world = await SimWorld.create({ receive: 'memory' });
  await world.start('a');
  await world.start('b');
});
afterEach(async () => {
  await world.close();
});

describe('rpc over the memory network', () => {
  it('a unary call returns the handler output', async () => {
    world.node('b').serve(kv, kvHandlers(new Map([['k', 'v']])));
    const c = world.node('a').client(kv, world.ref('b'));
    const r = await settle(world, c.get({ key: 'k' }));
    expect(r).toEqual({ ok: true, value: { value: 'v' } });
  });

  it('node.info names the callee', async () => {
    const c = world.node('a').client(nodeService, world.ref('b'));
    const r = await settle(world, c.info({}));
    expect(r.ok && r.value.nodeId).toBe(world.ref('b').nodeId);
  });

  it('a server stream delivers every message in order', async () => {
    world.node('b').serve(kv, kvHandlers(new Map()));
    const c = world.node('a').client(kv, world.ref('b'));
    const r = await settle(world, collect(c.watch({ prefix: 'p', count: 100 })));
    expect(r.ok && r.value.map((x) => x.n)).toEqual([...Array(100).keys()]);
  });
});

describe('rpc call shapes and metadata', () => {
  it('a client stream delivers every input to the handler', async () => {
    const map = new Map<string, string>();
    world.node('b').serve(kv, kvHandlers(map));
    const c = world.node('a').client(kv, world.ref('b'));
    const inputs = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
    const r = await settle(world, c.putMany(inputs));
    expect(r).toEqual({ ok: true, value: { count: 50 } });
  });

  it('a bidirectional stream answers each input', async () => {
    world.node('b').serve(kv, kvHandlers(new Map()));
    const c = world.node('a').client(kv, world.ref('b'));
    async function* words() {
      for (const s of ['a', 'b', 'c']) yield { s };
    }
    const r = await settle(world, collect(c.echo(words())));
    expect(r.ok && r.value).toEqual([{ s: 'A' }, { s: 'B' }, { s: 'C' }]);
  });

  it('request metadata reaches the handler', async () => {
    const seen = { aborts: [] as string[], metadata: [] as Record<string, string>[], flaky: 0 };
    world.node('b').serve(kv, kvHandlers(new Map(), seen));
    const c = world.node('a').client(kv, world.ref('b'));
    await settle(world, c.get({ key: 'x' }, { metadata: { 'x-trace': 't1' } }));
    expect(seen.metadata).toEqual([{ 'x-trace': 't1', 'request-id': expect.stringMatching(/^[1-9A-HJ-NP-Za-km-z]{8}-\d+$/) }]);
  });

  it('response headers and trailers reach the caller', async () => {
    world.node('b').serve(kv, kvHandlers(new Map([['x', '1']])));
    const c = world.node('a').client(kv, world.ref('b'));
    const got: Record<string, string>[] = [];
    await settle(world, c.get({ key: 'x' }, { onHeaders: (md) => got.push(md), onTrailers: (md) => got.push(md) }));
    expect(got).toEqual([{ 'x-served-by': 'kv' }, { 'x-keys': '1' }]);
  });

  it('notify runs the handler and answers nothing', async () => {
    const map = new Map<string, string>();
    world.node('b').serve(kv, kvHandlers(map));
    await settle(world, world.node('a').notify(world.ref('b'), kv, 'put', { key: 'n', value: '1' }));
    await world.until(() => map.has('n'), 1_000);
    expect(map.get('n')).toBe('1');
  });
});
