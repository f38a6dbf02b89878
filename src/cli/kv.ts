/**
 * `kv put|get|del|cas` against a cluster made by `clusterInit` (src/cli/cluster.ts):
 *
 *   tsx src/cli/kv.ts put KEY VALUE --dir DIR      → {"ok":true,"prev":null}
 *   tsx src/cli/kv.ts get KEY --dir DIR            → {"value":"…"} (linearizable)
 *   tsx src/cli/kv.ts del KEY --dir DIR            → {"ok":true,"prev":"…"}
 *   tsx src/cli/kv.ts cas KEY EXPECTED VALUE --dir DIR   (EXPECTED '-' = absent)
 *
 * Prints one JSON line; exit 0, 1 on an error (message on stderr), 2 on usage.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clusterClient } from './cluster.js';

/** Runs one kv command; resolves with what to print. Throws the client's errors. */
export async function kvCommand(op: string, args: string[], dir: string, options: { timeoutMs?: number } = {}): Promise<unknown> {
  const c = await clusterClient(dir, options);
  try {
    switch (op) {
      case 'put':
        return await c.client.put(args[0]!, args[1]!);
      case 'get':
        return { value: await c.client.get(args[0]!) };
      case 'del':
        return await c.client.del(args[0]!);
      case 'cas':
        return await c.client.cas(args[0]!, args[1] === '-' ? null : args[1]!, args[2]!);
      default:
        throw new Error(`unknown op ${op}`);
    }
  } finally {
    await c.close();
  }
}

const ARITY: Record<string, number> = { put: 2, get: 1, del: 1, cas: 3 };

export async function main(argv: string[]): Promise<number> {
  const i = argv.indexOf('--dir');
  const dir = i >= 0 ? argv[i + 1] : undefined;
  const rest = i >= 0 ? [...argv.slice(0, i), ...argv.slice(i + 2)] : argv;
  const [op, ...args] = rest;
  if (!dir || !op || ARITY[op] === undefined || args.length !== ARITY[op]) {
    console.error('usage: kv.ts put KEY VALUE | get KEY | del KEY | cas KEY EXPECTED|- VALUE  --dir DIR');
    return 2;
  }
  try {
    console.log(JSON.stringify(await kvCommand(op, args, dir)));
    return 0;
  } catch (e) {
    console.error(`kv ${op}: ${(e as Error).message}`);
    return 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
