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
  appendFileSync(process.env.OCTOPII_TEST_IMPORTS, r.url + ' ' + (context.parentURL ?? '') + '\\n');
  return r;
}`;
const REGISTER = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)});`;

function withoutConfigVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('OCTOPII_')));
}

/** The URLs of every module `octopii ...args` resolved. */
async function modulesLoadedBy(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  return (await importsBy(args, env)).map((i) => i.url);
}

/** Every resolution `octopii ...args` made: the module's URL and the URL of the module that imported it. */
async function importsBy(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ url: string; parent: string }[]> {
  const dir = await mkdtemp(join(tmpdir(), 'octopii-lazy-'));
  const log = join(dir, 'imports.txt');
  const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, OCTOPII_BIN, ...args], {
    // No other OCTOPII_* settings (CI's second run sets OCTOPII_TRANSPORT): a config variable
    // makes `id` validate the whole config, with zod, so that a bad value is still reported.
    env: { ...withoutConfigVariables(process.env), ...env, OCTOPII_TEST_IMPORTS: log, OCTOPII_DATA_DIR: dir },
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  return (await readFile(log, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [url = '', parent = ''] = line.split(' ');
      return { url, parent };
    });
}

const HEAVY = [/node_modules\/xstate\//, /node_modules\/piscina\//, /@matrixai\/quic/, /libp2p-quic/, /\/src\/node\.[jt]s$/, /\/src\/transport\/(quinn|matrixai)\.[jt]s$/, /\/src\/hash\//, /\/machines\//, /node_modules\/zod\//];

describe('lazy loading', () => {
  it.each([
    [['id'], 'sources'],
    [['--help'], 'sources'],
    [['send', '--help'], 'sources'],
    [['id'], 'build if fresh'],
  ])('octopii %j (%s) loads no QUIC, piscina, xstate, zod or node runtime', async (args, from) => {
    const urls = await modulesLoadedBy(args, from === 'sources' ? { OCTOPII_FROM_SOURCE: '1' } : {});
    // the hook saw the CLI load (the sources, or the build when bin/octopii.js finds it fresh)
    expect(urls.some((u) => u.endsWith('/src/cli.ts') || u.endsWith('/dist/src/cli.js'))).toBe(true);
    expect(urls.filter((u) => HEAVY.some((h) => h.test(u)))).toEqual([]);
  });

  // Option checks (node IDs, addresses) use src/nodeId.ts and src/transport/address.ts, which
  // import neither: under octopii's V8 flags each built-in module is compiled afresh at start-up.
  // (From the sources, tsx's loader imports both itself: only octopii's own imports count.)
  it.each([['sources'], ['build if fresh']])('octopii --help (%s) imports neither node:crypto nor node:net', async (from) => {
    const imports = await importsBy(['--help'], from === 'sources' ? { OCTOPII_FROM_SOURCE: '1' } : {});
    expect(imports.some((i) => i.url.endsWith('/src/cli.ts') || i.url.endsWith('/dist/src/cli.js'))).toBe(true);
    const ours = imports.filter((i) => /\/(src|machines)\/[^ ]*\.[jt]s$/.test(i.parent) && !i.parent.includes('/node_modules/'));
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.filter((i) => i.url === 'node:crypto' || i.url === 'node:net')).toEqual([]);
  });
});
