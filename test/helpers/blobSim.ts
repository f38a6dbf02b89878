/**
 * The blob simulation tests' world: a SimWorld (memory network, simulated clock, real files with
 * real fsync) and a scratch directory for the nodes' stores, made before each test and closed
 * and removed after it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { SimWorld } from './simWorld.js';

/** Registers the per-test world; `ready(world, dir)` receives each test's (the test file keeps them in its own variables). */
export function blobSimWorld(prefix: string, ready: (world: SimWorld, dir: string) => void, options: Parameters<typeof SimWorld.create>[0] = { stepMs: 10, highWaterMark: 256 * 1024 }): void {
  let world: SimWorld | undefined;
  let dir = '';
  beforeEach(async () => {
    world = await SimWorld.create(options);
    dir = await mkdtemp(join(tmpdir(), prefix));
    ready(world, dir);
  });
  afterEach(async () => {
    await world?.close();
    await rm(dir, { recursive: true, force: true });
  });
}
