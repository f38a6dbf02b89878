#!/usr/bin/env -S node --initial-old-space-size=64
// The `octopii` command. The project ships TypeScript sources and runs them through tsx's
// loader, so `npm ci` is the only step before use (issue 2 item 1: no separate build).
// The shebang carries src/nodeFlags.ts NODE_FLAGS (keep them in step); `node bin/octopii.js`
// runs without them unless given: `node --initial-old-space-size=64 bin/octopii.js`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv);
