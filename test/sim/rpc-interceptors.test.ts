/**
 * Interceptors on both sides (auth, metrics, retries written as interceptors) on the simulated network.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimWorld } from '../helpers/simWorld.js';
import { kv, kvHandlers, settle } from '../helpers/rpcFixtures.js';
import { bearerAuth, countCalls, retryCalls, withBearer, type RpcError } from '../../src/rpc/index.js';
import { OctopiiError } from '../../src/errors.js';

let world: SimWorld;
beforeEach(async () => {
  world = await SimWorld.create({ receive: 'memory' });
  await world.start('a');
  await world.start('b');
  world.node('b').serve(kv, kvHandlers(new Map([['k', 'v']])));
});
afterEach(async () => {
  await world.close();
});

const codeOf = (r: { ok: boolean; error?: unknown }) => (r.ok ? 'OK' : (r.error as RpcError).code);

describe('interceptors', () => {
  it('a server auth interceptor refuses a call without the token', async () => {
    world.node('b').rpc.useServer(bearerAuth('s3cret'));
    const r = await settle(world, world.node('a').client(kv, world.ref('b')).get({ key: 'k' }));
    expect(codeOf(r)).toBe('PERMISSION_DENIED');
  });

  it('a client interceptor adding the token gets the call through', async () => {
    world.node('b').rpc.useServer(bearerAuth('s3cret'));
    world.node('a').rpc.useClient(withBearer('s3cret'));
    const r = await settle(world, world.node('a').client(kv, world.ref('b')).get({ key: 'k' }));
    expect(r).toEqual({ ok: true, value: { value: 'v' } });
  });

  it('a metrics interceptor counts calls by method and outcome', async () => {
    const counts = new Map<string, number>();
    world.node('a').rpc.useClient(countCalls(counts));
    const c = world.node('a').client(kv, world.ref('b'));
    await settle(world, c.get({ key: 'k' }));
    await settle(world, c.boom({}));
    expect(Object.fromEntries(counts)).toEqual({ 'kv.get OK': 1, 'kv.boom INTERNAL': 1 });
  });

  it('a retry interceptor retries an idempotent call on the codes it is given', async () => {
    // INTERNAL is not retryable in the table, so the call machine itself does not retry it.
    let calls = 0;
    world.node('b').rpc.useServer(async (call, next) => {
      if (call.method === 'kv.put' && ++calls === 1) throw new OctopiiError('INTERNAL', 'flaky');
      return next();
    });
    world.node('a').rpc.useClient(retryCalls(world.clock, { attempts: 3, backoffMs: 10, codes: ['INTERNAL'] }));
    const r = await settle(world, world.node('a').client(kv, world.ref('b')).put({ key: 'x', value: 'y' }));
    expect([r, calls]).toEqual([{ ok: true, value: { ok: true } }, 2]);
  });
});
