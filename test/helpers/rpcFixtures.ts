/**
 * Fixtures for the RPC tests: a small `kv` service with every call shape, handlers over a Map,
 * and `settle` — runs a promise to completion on a SimWorld by advancing simulated time.
 */
import { z } from 'zod';
import { defineService, type Handlers } from '../../src/rpc/index.js';
import type { SimWorld } from './simWorld.js';

export const kv = defineService('kv', {
  get: { input: z.object({ key: z.string() }), output: z.object({ value: z.string().nullable() }) },
  put: { input: z.object({ key: z.string(), value: z.string() }), output: z.object({ ok: z.boolean() }), idempotent: true },
  watch: { input: z.object({ prefix: z.string(), count: z.number().int() }), output: z.object({ key: z.string(), n: z.number() }), stream: 'server' },
  putMany: { input: z.object({ key: z.string(), value: z.string() }), output: z.object({ count: z.number() }), stream: 'client' },
  echo: { input: z.object({ s: z.string() }), output: z.object({ s: z.string() }), stream: 'bidi' },
  slow: { input: z.object({ ms: z.number() }), output: z.object({ ok: z.boolean() }) },
  never: { input: z.object({}), output: z.object({}) },
  boom: { input: z.object({}), output: z.object({}) },
  bad: { input: z.object({}), output: z.object({ n: z.number() }) },
  blob: { input: z.object({ size: z.number() }), output: z.object({ data: z.instanceof(Uint8Array) }) },
  flaky: { input: z.object({}), output: z.object({ attempt: z.number() }), idempotent: true },
});

/** Handlers over `map`; `seen` collects what one-off handlers observe (signals, metadata). */
export function kvHandlers(map: Map<string, string>, seen: { aborts: string[]; metadata: Record<string, string>[]; flaky: number } = { aborts: [], metadata: [], flaky: 0 }): Handlers<typeof kv> {
  return {
    get: ({ key }, ctx) => {
      seen.metadata.push(ctx.metadata);
      ctx.setHeader('x-served-by', 'kv');
      ctx.setTrailer('x-keys', String(map.size));
      return { value: map.get(key) ?? null };
    },
    put: ({ key, value }) => {
      map.set(key, value);
      return { ok: true };
    },
    watch: async function* ({ prefix, count }, ctx) {
      for (let n = 0; n < count && !ctx.signal.aborted; n++) yield { key: `${prefix}${n}`, n };
    },
    putMany: async (inputs) => {
      let count = 0;
      for await (const { key, value } of inputs) {
        map.set(key, value);
        count++;
      }
      return { count };
    },
    echo: async function* (inputs) {
      for await (const { s } of inputs) yield { s: s.toUpperCase() };
    },
    slow: () => new Promise(() => undefined),
    never: (_i, ctx) =>
      new Promise((_, reject) => {
        ctx.signal.addEventListener('abort', () => {
          seen.aborts.push(String((ctx.signal.reason as { code?: string }).code));
          reject(ctx.signal.reason);
        });
      }),
    boom: () => {
      throw new Error('handler exploded');
    },
    bad: () => ({ n: 'not a number' }) as unknown as { n: number },
    blob: ({ size }) => ({ data: new Uint8Array(size) }),
    flaky: () => ({ attempt: ++seen.flaky }),
  };
}

/** Advances `world` until `p` settles (or `limitMs` of simulated time); returns its outcome. */
export async function settle<T>(world: SimWorld, p: Promise<T>, limitMs = 60_000): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let out: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
  p.then(
    (value) => (out = { ok: true, value }),
    (error: unknown) => (out = { ok: false, error }),
  );
  await world.until(() => out !== undefined, limitMs);
  if (!out) throw new Error(`did not settle within ${limitMs} ms of simulated time`);
  return out;
}

/** Collects an async iterable into an array. */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
