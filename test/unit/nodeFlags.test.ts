import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../src/nodeFlags.js';

const BIN = fileURLToPath(new URL('../../bin/octopii.js', import.meta.url));

describe('NODE_FLAGS (src/nodeFlags.ts)', () => {
  it('bin/octopii.js carries the same flags in its shebang', () => {
    const shebang = readFileSync(BIN, 'utf8').split('\n')[0]!;
    expect(shebang).toBe(`#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
  });

  it('this node accepts every flag on its command line (a bad V8 flag exits 9 with "bad option")', () => {
    const r = spawnSync(process.execPath, [...NODE_FLAGS, '-e', 'process.stdout.write("ok")'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('ok');
    const bad = spawnSync(process.execPath, ['--initial-old-space-sise=64', '-e', ''], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
  });
});
