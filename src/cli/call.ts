/**
 * `octopii call` and `octopii methods` (grpcurl's role): call any method of a peer with JSON
 * input, or list what it serves, without its schemas at hand — the shapes come from the peer's
 * `node.methods` (reflection). The lead wires {@link registerRpcCommands} into src/cli.ts; run
 * alone: `npx tsx src/cli/call.ts call --to HOST:PORT --peer-id ID kv.get '{"key":"a"}'`.
 *
 *   octopii call    --to HOST:PORT --peer-id ID SERVICE.METHOD ['{json}'] [--deadline MS] [--transport T] [--identity FILE]
 *   octopii methods --to HOST:PORT --peer-id ID [--transport T] [--identity FILE]
 *
 * Output: one JSON line per reply message (server- and bidi-streaming calls print several);
 * bytes print as `{"$bytes":"<base64>"}`. Client-streaming and bidi calls read their inputs as
 * JSON lines from stdin. Exit status 0 on success, 1 on a call error (printed to stderr as
 * `{"error":{"code","message"}}`), 2 on a usage error.
 */
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { z } from 'zod';
import { generateIdentity, loadOrCreateIdentity } from '../identity.js';
import { OctopiiNode } from '../node.js';
import { toOctopiiError } from '../errors.js';
import { defineService, nodeService, type ServiceDescription } from '../rpc/index.js';

export interface RpcCliOptions {
  to: string;
  peerId: string;
  transport?: 'quinn' | 'matrixai';
  identity?: string;
  deadlineMs?: number;
}

export interface RpcCliIo {
  out(line: string): void;
  err(line: string): void;
  /** JSON lines of input for client/bidi streaming calls (default: stdin). */
  lines?: AsyncIterable<string>;
}

const toJson = (x: unknown): string =>
  JSON.stringify(x, (_k, v: unknown) => (v instanceof Uint8Array ? { $bytes: Buffer.from(v).toString('base64') } : v));

async function withNode<T>(o: RpcCliOptions, fn: (node: OctopiiNode) => Promise<T>): Promise<T> {
  const identity = o.identity ? await loadOrCreateIdentity(o.identity) : generateIdentity();
  const node = await OctopiiNode.start({ identity, listen: '127.0.0.1:0', ...(o.transport ? { transport: o.transport } : {}) });
  try {
    return await fn(node);
  } finally {
    await node.stop();
  }
}

/** Lists the peer's services and methods (JSON, one line). Returns the exit status. */
export async function runMethods(o: RpcCliOptions, io: RpcCliIo): Promise<number> {
  try {
    const services = await withNode(o, async (node) => (await node.client(nodeService, { address: o.to, nodeId: o.peerId }).methods({}, { deadlineMs: o.deadlineMs ?? 10_000 })).services);
    io.out(toJson({ services }));
    return 0;
  } catch (e) {
    io.err(toJson({ error: toOctopiiError(e, 'INTERNAL').toJSON() }));
    return 1;
  }
}

/** Calls `method` (`service.method`) with `json` input; prints each reply as a JSON line. Returns the exit status. */
export async function runCall(o: RpcCliOptions, method: string, json: string | undefined, io: RpcCliIo): Promise<number> {
  const dot = method.indexOf('.');
  if (dot <= 0) {
    io.err(toJson({ error: { code: 'INVALID_ARGUMENT', message: `method must be SERVICE.METHOD, got ${JSON.stringify(method)}` } }));
    return 2;
  }
  let input: unknown = {};
  try {
    if (json !== undefined) input = JSON.parse(json);
  } catch (e) {
    io.err(toJson({ error: { code: 'INVALID_ARGUMENT', message: `input is not JSON: ${(e as Error).message}` } }));
    return 2;
  }
  const [service, name] = [method.slice(0, dot), method.slice(dot + 1)];
  try {
    await withNode(o, async (node) => {
      const peer = { address: o.to, nodeId: o.peerId };
      const deadlineMs = o.deadlineMs ?? 30_000;
      const { services } = await node.client(nodeService, peer).methods({}, { deadlineMs });
      const desc: ServiceDescription['methods'][number] | undefined = services.find((s) => s.name === service)?.methods.find((m) => m.name === name);
      // Unknown to reflection: call it as unary and let the peer answer UNKNOWN_METHOD.
      const stream = desc?.stream ?? 'unary';
      const dyn = defineService(service, { [name]: { input: z.unknown(), output: z.unknown(), ...(stream === 'unary' ? {} : { stream }) } });
      const stub = node.client(dyn, peer)[name] as unknown as (i: unknown, opts: { deadlineMs: number }) => unknown;
      const inputs = async function* () {
        for await (const line of io.lines ?? createInterface({ input: process.stdin })) if (line.trim()) yield JSON.parse(line) as unknown;
      };
      if (stream === 'unary') io.out(toJson(await (stub(input, { deadlineMs }) as Promise<unknown>)));
      else if (stream === 'client') io.out(toJson(await (stub(inputs(), { deadlineMs }) as Promise<unknown>)));
      else for await (const m of stub(stream === 'server' ? input : inputs(), { deadlineMs }) as AsyncIterable<unknown>) io.out(toJson(m));
    });
    return 0;
  } catch (e) {
    io.err(toJson({ error: toOctopiiError(e, 'INTERNAL').toJSON() }));
    return 1;
  }
}

/** Adds `call` and `methods` to a commander program (src/cli.ts). */
export function registerRpcCommands(program: Command, io: RpcCliIo = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) }): void {
  const common = (c: Command) =>
    c
      .requiredOption('--to <host:port>', 'the peer to call')
      .requiredOption('--peer-id <id>', "the peer's node ID (verified)")
      .option('--transport <name>', 'quinn | matrixai')
      .option('--identity <file>', 'identity file (default: a fresh one)')
      .option('--deadline <ms>', 'deadline of the call, ms', (v) => Number(v));
  type Opts = { to: string; peerId: string; transport?: 'quinn' | 'matrixai'; identity?: string; deadline?: number };
  const toOptions = (o: Opts): RpcCliOptions => ({ to: o.to, peerId: o.peerId, ...(o.transport ? { transport: o.transport } : {}), ...(o.identity ? { identity: o.identity } : {}), ...(o.deadline ? { deadlineMs: o.deadline } : {}) });
  common(program.command('call').description('call SERVICE.METHOD on a peer with JSON input').argument('<method>').argument('[json]')).action(async (method: string, json: string | undefined, o: Opts) => {
    process.exitCode = await runCall(toOptions(o), method, json, io);
  });
  common(program.command('methods').description("list a peer's services and methods (schemas as JSON Schema)")).action(async (o: Opts) => {
    process.exitCode = await runMethods(toOptions(o), io);
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const program = new Command('octopii').exitOverride();
  registerRpcCommands(program);
  program.parseAsync(process.argv).catch((e: unknown) => {
    if (!(e instanceof CommanderError)) process.stderr.write(`${String(e)}\n`);
    process.exitCode = 2;
  });
}
