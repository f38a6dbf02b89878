#!/usr/bin/env -S node --initial-old-space-size=64 --max-semi-space-size=1 --expose-gc
// The `octopii` command. It runs the build in dist/ (`npm run build`, which `npm ci` runs through
// `prepare`) when that build is newer than every file under src/ and machines/; otherwise — no
// build yet, or a source edited since — it runs the sources through tsx's loader, so a checkout
// never runs stale code (only slower: tsx costs ~0.4 s of CPU at start-up). Inside node_modules
// (an installed package) the build is used whenever it exists, without comparing times.
// The shebang carries src/nodeFlags.ts NODE_FLAGS (keep them in step); `node bin/octopii.js`
// runs without them unless given: `node --initial-old-space-size=64 --max-semi-space-size=1 --expose-gc bin/octopii.js`.
// OCTOPII_FROM_SOURCE=1 forces the sources.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const built = join(root, 'dist', 'src', 'cli.js');

/**
 * Newest mtime (ms) under `dir`, files and directories (0 when it does not exist, e.g. an
 * installed package ships dist/ only). Walks with `withFileTypes`: Node 20's
 * `readdirSync(dir, { recursive: true })` plus `path.join` per entry took 12.7–42.3 ms for the
 * ~220 entries of src/ and machines/, this walk 1.8–6.1 ms (min–median of 15 runs each, the
 * shared 2-core machine under load).
 */
function newestUnder(dir) {
  let newest = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const path = `${dir}/${e.name}`;
    // A directory's own mtime counts too (a file removed or renamed in it).
    newest = Math.max(newest, statSync(path).mtimeMs, e.isDirectory() ? newestUnder(path) : 0);
  }
  return newest;
}

function buildIsFresh() {
  // An installed package (a dependency, or `npm i -g`): nobody edits its sources, and its files
  // all carry npm's one mtime — skip the scan (~180 stats, 5–15 ms of start-up).
  if (root.split(/[\\/]/).includes('node_modules')) return existsSync(built);
  let builtAt;
  try {
    builtAt = statSync(built).mtimeMs;
  } catch {
    return false;
  }
  // `<=`: npm packs every file with one mtime, so in an installed package they are equal.
  return newestUnder(join(root, 'src')) <= builtAt && newestUnder(join(root, 'machines')) <= builtAt;
}

let cli;
if (process.env.OCTOPII_FROM_SOURCE !== '1' && buildIsFresh()) {
  cli = await import(new URL('../dist/src/cli.js', import.meta.url).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../src/cli.ts');
}
process.exitCode = await cli.main(process.argv);
