/**
 * bin/octopii.js picks the build in dist/ only when it is at least as new as every file under
 * src/ and machines/, else the sources through tsx: a checkout never runs a stale build. Checked on
 * a copy of the bin in a scratch package whose dist/ and src/ each print their own name.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OCTOPII_BIN } from '../helpers/cliProcess.js';

const NODE_MODULES = fileURLToPath(new URL('../../node_modules', import.meta.url));
const main = (name: string) => `export async function main() { process.stdout.write('${name}\\n'); return 0; }\n`;

async function scratchPackage(under?: string): Promise<string> {
  const root = under ?? (await mkdtemp(join(tmpdir(), 'octopii-bin-')));
  await mkdir(root, { recursive: true });
  await mkdir(join(root, 'bin'));
  await copyFile(OCTOPII_BIN, join(root, 'bin', 'octopii.js'));
  await symlink(NODE_MODULES, join(root, 'node_modules'));
  await writeFile(join(root, 'package.json'), '{"type":"module"}');
  await mkdir(join(root, 'src'));
  await mkdir(join(root, 'machines'));
  await writeFile(join(root, 'src', 'cli.ts'), main('src'));
  await writeFile(join(root, 'machines', 'm.ts'), '');
  return root;
}

const run = (root: string, env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [join(root, 'bin', 'octopii.js')], { encoding: 'utf8', env: { ...process.env, ...env } }).stdout.trim();

const at = (root: string, rel: string, seconds: number) => utimes(join(root, rel), seconds, seconds);

describe('bin/octopii.js', () => {
  it('runs the sources without a build, the build when it is newest or as new (npm packs one mtime), the sources again after an edit', async () => {
    const root = await scratchPackage();
    try {
      expect(run(root)).toBe('src');
      await mkdir(join(root, 'dist', 'src'), { recursive: true });
      await writeFile(join(root, 'dist', 'src', 'cli.js'), main('dist'));
      await at(root, 'src/cli.ts', 1_000);
      await at(root, 'machines/m.ts', 1_000);
      await at(root, 'dist/src/cli.js', 2_000);
      expect(run(root)).toBe('dist');
      expect(run(root, { OCTOPII_FROM_SOURCE: '1' })).toBe('src');
      await at(root, 'dist/src/cli.js', 1_000);
      expect(run(root)).toBe('dist');
      await at(root, 'machines/m.ts', 3_000); // a machine edited after the build
      expect(run(root)).toBe('src');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('inside node_modules (an installed package) runs the build whenever it exists, without comparing times', async () => {
    const top = await mkdtemp(join(tmpdir(), 'octopii-bin-installed-'));
    const root = await scratchPackage(join(top, 'node_modules', 'octopii'));
    try {
      expect(run(root)).toBe('src');
      await mkdir(join(root, 'dist', 'src'), { recursive: true });
      await writeFile(join(root, 'dist', 'src', 'cli.js'), main('dist'));
      await at(root, 'dist/src/cli.js', 1_000);
      await at(root, 'src/cli.ts', 2_000); // newer than the build: a checkout would run the sources
      expect(run(root)).toBe('dist');
      expect(run(root, { OCTOPII_FROM_SOURCE: '1' })).toBe('src');
    } finally {
      await rm(top, { recursive: true, force: true });
    }
  });
});
