/**
 * Typed services without code generation (the idea of tRPC and Connect's schema-first
 * descriptors, with zod schemas instead of .proto files): a service is a name and a map of
 * methods, each with an input and an output schema and a call shape. Types of handlers and
 * client stubs are inferred from the schemas.
 *
 *   const kv = defineService('kv', {
 *     get:   { input: z.object({ key: z.string() }), output: z.object({ value: z.string().nullable() }) },
 *     put:   { input: z.object({ key: z.string(), value: z.string() }), output: z.object({}), idempotent: true },
 *     watch: { input: z.object({ prefix: z.string() }), output: z.object({ key: z.string() }), stream: 'server' },
 *   });
 *   node.serve(kv, { get: async ({ key }, ctx) => ({ value: map.get(key) ?? null }), … });
 *   const c = node.client(kv, peer);  const { value } = await c.get({ key: 'a' });
 *
 * Call shapes (gRPC's four): unary (default), `stream: 'server'` (one input, many outputs),
 * `'client'` (many inputs, one output), `'bidi'` (many both ways).
 */
import { z } from 'zod';
import { OctopiiError } from '../errors.js';
import type { Metadata } from '../wire/rpc.js';

export type StreamShape = 'server' | 'client' | 'bidi';

/** One method: schemas, shape, and whether a retry is safe. */
export interface MethodDef<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  input: I;
  output: O;
  /** Absent: unary. */
  stream?: StreamShape;
  /** Safe to retry (the client's call machine retries it on retryable errors, with backoff and a budget). */
  idempotent?: boolean;
  /** One line for `methods` (reflection). */
  description?: string;
}

export type MethodMap = Record<string, MethodDef>;

export interface ServiceDef<N extends string = string, M extends MethodMap = MethodMap> {
  readonly name: N;
  readonly methods: M;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** A service named `name` (letters, digits, `_`, `-`). Throws INVALID_ARGUMENT for a bad name. */
export function defineService<const N extends string, const M extends MethodMap>(name: N, methods: M): ServiceDef<N, M> {
  if (!NAME.test(name)) throw new OctopiiError('INVALID_ARGUMENT', `invalid service name ${JSON.stringify(name)}`);
  for (const m of Object.keys(methods)) if (!NAME.test(m)) throw new OctopiiError('INVALID_ARGUMENT', `invalid method name ${JSON.stringify(m)}`);
  return { name, methods };
}

type In<D extends MethodDef> = z.input<D['input']>;
type Out<D extends MethodDef> = z.output<D['output']>;
type HIn<D extends MethodDef> = z.output<D['input']>;
type HOut<D extends MethodDef> = z.input<D['output']>;

/** What a handler learns about its call. */
export interface CallContext {
  /** Fires at the caller's deadline (reason: DEADLINE_EXCEEDED), cancellation (CANCELLED) or a lost peer (UNAVAILABLE). */
  signal: AbortSignal;
  /** The caller's request metadata. */
  metadata: Metadata;
  /** The caller's node ID (null: no verified identity). */
  peer: string | null;
  /** `service.method`. */
  method: string;
  /** The call's request ID (src/rpc/callRecord.ts): bind it to log lines, `logger.child({ call: ctx.requestId })`. */
  requestId: string;
  /** Absolute deadline on the node's clock (ms), or undefined. */
  deadline: number | undefined;
  /** Sets a response header (sent with the first reply message). */
  setHeader(key: string, value: string): void;
  /** Sets a trailer (sent with the end of the call). */
  setTrailer(key: string, value: string): void;
}

export type Handler<D extends MethodDef> = D['stream'] extends 'server'
  ? (input: HIn<D>, ctx: CallContext) => AsyncIterable<HOut<D>>
  : D['stream'] extends 'client'
    ? (inputs: AsyncIterable<HIn<D>>, ctx: CallContext) => Promise<HOut<D>> | HOut<D>
    : D['stream'] extends 'bidi'
      ? (inputs: AsyncIterable<HIn<D>>, ctx: CallContext) => AsyncIterable<HOut<D>>
      : (input: HIn<D>, ctx: CallContext) => Promise<HOut<D>> | HOut<D>;

/** One handler per method of the service. */
export type Handlers<S extends ServiceDef> = { [K in keyof S['methods']]: Handler<S['methods'][K]> };

/** Per-call options of a client stub. */
export interface CallOptions {
  /** Deadline from now, ms (default: the client's `deadlineMs`, 30,000). */
  deadlineMs?: number;
  signal?: AbortSignal;
  metadata?: Metadata;
  /** Called with the response headers when they arrive. */
  onHeaders?: (md: Metadata) => void;
  /** Called with the trailers when the call ends well. */
  onTrailers?: (md: Metadata) => void;
}

export type ClientMethod<D extends MethodDef> = D['stream'] extends 'server'
  ? (input: In<D>, options?: CallOptions) => AsyncIterable<Out<D>>
  : D['stream'] extends 'client'
    ? (inputs: AsyncIterable<In<D>> | Iterable<In<D>>, options?: CallOptions) => Promise<Out<D>>
    : D['stream'] extends 'bidi'
      ? (inputs: AsyncIterable<In<D>> | Iterable<In<D>>, options?: CallOptions) => AsyncIterable<Out<D>>
      : (input: In<D>, options?: CallOptions) => Promise<Out<D>>;

/** The typed client of a service: one method per method. */
export type Client<S extends ServiceDef> = { [K in keyof S['methods']]: ClientMethod<S['methods'][K]> };

/** The JSON description of a service (reflection), schemas as JSON Schema (zod's `z.toJSONSchema`). */
export interface ServiceDescription {
  name: string;
  methods: Array<{ name: string; stream: StreamShape | 'unary'; idempotent: boolean; description?: string; input: unknown; output: unknown }>;
}

/** Describes `service` for reflection; a schema JSON Schema cannot express becomes `{}`. */
export function describeService(service: ServiceDef): ServiceDescription {
  const schema = (s: z.ZodType): unknown => {
    try {
      return z.toJSONSchema(s, { unrepresentable: 'any' });
    } catch {
      return {};
    }
  };
  return {
    name: service.name,
    methods: Object.entries(service.methods).map(([name, d]) => ({
      name,
      stream: d.stream ?? 'unary',
      idempotent: d.idempotent === true,
      ...(d.description ? { description: d.description } : {}),
      input: schema(d.input),
      output: schema(d.output),
    })),
  };
}
