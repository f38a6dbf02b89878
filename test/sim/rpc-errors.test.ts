/**
 * RPC failures between whole nodes on the memory network under a simulated clock: every error
 * arrives as an RpcError with its table code.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SimWorld } from '../helpers/simWorld.js';
import { kv, kvHandlers, settle } from '../helpers/rpcFixtures.js';
import { defineService, RpcError } from '../../src/rpc/index.js';

let world: SimWorld;
let seen: { aborts: string[]; metadata: Record<string, string>[]; flaky: number };
beforeEach(async () => {
  world = await SimWorld.create({ receive: 'memory' });
  await world.start('a');
  await world.start('b');
  seen = { aborts: [], metadata: [], flaky: 0 };
  world.node('b').serve(kv, kvHandlers(new Map(), seen));
});
afterEach(async () => {
  await world.close();
});

const codeOf = (r: { ok: boolean; error?: unknown }) => (r.ok ? 'OK' : (r.error as RpcError).code);

describe('rpc errors', () => {
  it('an unknown method fails UNKNOWN_METHOD', async () => {
    const other = defineService('kv', { nope: { input: z.object({}), output: z.object({}) } });
    const r = await settle(world, world.node('a').client(other, world.ref('b')).nope({}));
    expect(codeOf(r)).toBe('UNKNOWN_METHOD');
  });

  it('an unknown service fails UNKNOWN_METHOD', async () => {
    const other = defineService('missing', { x: { input: z.object({}), output: z.object({}) } });
    const r = await settle(world, world.node('a').client(other, world.ref('b')).x({}));
    expect(codeOf(r)).toBe('UNKNOWN_METHOD');
  });

  it('input failing its schema on the caller fails BAD_INPUT before sending', async () => {
    const c = world.node('a').client(kv, world.ref('b'));
    const r = await settle(world, c.get({ key: 42 } as unknown as { key: string }));
    expect(codeOf(r)).toBe('BAD_INPUT');
  });

  it('input failing the callee schema fails BAD_INPUT from the callee', async () => {
    const loose = defineService('kv', { get: { input: z.object({ key: z.number() }), output: z.object({ value: z.string().nullable() }) } });
    const r = await settle(world, world.node('a').client(loose, world.ref('b')).get({ key: 1 }));
    expect(r.ok ? null : { code: (r.error as RpcError).code, origin: (r.error as RpcError).origin }).toEqual({ code: 'BAD_INPUT', origin: 'remote' });
  });

  it('output failing its schema fails BAD_OUTPUT', async () => {
    const r = await settle(world, world.node('a').client(kv, world.ref('b')).bad({}));
    expect(codeOf(r)).toBe('BAD_OUTPUT');
  });

  it('a handler that throws fails INTERNAL with its message', async () => {
    const r = await settle(world, world.node('a').client(kv, world.ref('b')).boom({}));
    expect(r.ok ? null : [(r.error as RpcError).code, (r.error as RpcError).message]).toEqual(['INTERNAL', 'handler exploded']);
  });

  it('a handler that never answers fails DEADLINE_EXCEEDED at the deadline', async () => {
    const t0 = world.now;
    const r = await settle(world, world.node('a').client(kv, world.ref('b')).never({}, { deadlineMs: 500 }));
    expect([codeOf(r), world.now - t0 >= 500, world.now - t0 < 600]).toEqual(['DEADLINE_EXCEEDED', true, true]);
  });

  it("the handler's signal fires at the caller's deadline", async () => {
    await settle(world, world.node('a').client(kv, world.ref('b')).never({}, { deadlineMs: 500 }));
    await world.until(() => seen.aborts.length > 0, 1_000);
    expect(seen.aborts).toEqual(['DEADLINE_EXCEEDED']);
  });

  it("the caller's AbortSignal cancels the call and fires the handler's signal with CANCELLED", async () => {
    const ac = new AbortController();
    const p = world.node('a').client(kv, world.ref('b')).never({}, { signal: ac.signal });
    await world.advance(50);
    ac.abort();
    const r = await settle(world, p);
    await world.until(() => seen.aborts.length > 0, 1_000);
    expect([codeOf(r), seen.aborts]).toEqual(['CANCELLED', ['CANCELLED']]);
  });

  it('a reply over the message limit fails TOO_LARGE and the next call succeeds', async () => {
    await settle(world, world.node('a').client(kv, world.ref('b')).put({ key: 'k', value: 'v' }));
    const c = world.node('a').client(kv, world.ref('b'));
    const big = await settle(world, c.blob({ size: 17 * 1024 * 1024 }));
    const after = await settle(world, c.get({ key: 'k' }));
    expect([codeOf(big), after]).toEqual(['TOO_LARGE', { ok: true, value: { value: 'v' } }]);
  });

  it('an input over the message limit fails TOO_LARGE on the caller', async () => {
    const up = defineService('kv', { put: { input: z.object({ key: z.string(), value: z.string() }), output: z.object({ ok: z.boolean() }) } });
    const r = await settle(world, world.node('a').client(up, world.ref('b')).put({ key: 'k', value: 'x'.repeat(17 * 1024 * 1024) }));
    expect(codeOf(r)).toBe('TOO_LARGE');
  });
});
