#!/usr/bin/env node
// The `octopii` command. The project ships TypeScript sources and runs them through tsx's
// loader, so `npm ci` is the only step before use (issue 2 item 1: no separate build).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv);
