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
