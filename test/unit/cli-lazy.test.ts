/**
 * `octopii id` and `octopii --help` start fast because they load only what they need (src/cli.ts
 * imports each command lazily): this records every module a run resolves (a module.register
 * resolve hook, chained before tsx's) and checks that the node runtime is not among them.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OCTOPII_BIN } from '../helpers/cliProcess.js';

const HOOKS = `
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.OCTOPII_TEST_IMPORTS, r.url + '\\n');
  return r;
}`;
const REGISTER = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)});`;

/** The URLs of every module `octopii ...args` resolved. */
async function modulesLoadedBy(args: string[]): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'octopii-lazy-'));
  const log = join(dir, 'imports.txt');
  const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, OCTOPII_BIN, ...args], {
    env: { ...process.env, OCTOPII_TEST_IMPORTS: log, OCTOPII_DATA_DIR: dir },
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  return (await readFile(log, 'utf8')).split('\n').filter(Boolean);
}

const HEAVY = [/node_modules\/xstate\//, /node_modules\/piscina\//, /@matrixai\/quic/, /libp2p-quic/, /\/src\/node\.ts$/, /\/src\/transport\/(quinn|matrixai)\.ts$/, /\/src\/hash\//, /\/machines\//];

describe('lazy loading', () => {
  it.each([[['id']], [['--help']], [['send', '--help']]])('octopii %j loads no QUIC, piscina, xstate or node runtime', async (args) => {
    const urls = await modulesLoadedBy(args);
    expect(urls.some((u) => u.endsWith('/src/cli.ts'))).toBe(true); // the hook saw the CLI load
    expect(urls.filter((u) => HEAVY.some((h) => h.test(u)))).toEqual([]);
  });
});
