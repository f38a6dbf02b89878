/**
 * The publish build (`npm run build`, run by `npm ci` through `prepare`) compiles: declaration
 * emit has rules `tsc --noEmit` does not check (an exported value whose type names an unexported
 * one fails only there), and `prepare` falls back to the sources quietly when the build fails.
 * Declarations are emitted into a scratch directory.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');

it('tsconfig.build.json emits its declaration files without an error', async () => {
  const out = await mkdtemp(join(tmpdir(), 'octopii-build-'));
  try {
    const r = spawnSync(TSC, ['-p', 'tsconfig.build.json', '--emitDeclarationOnly', '--outDir', out], { cwd: ROOT, encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}, 120_000);
