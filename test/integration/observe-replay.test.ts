/**
 * Flight recorder and replay: a real transfer (quinn, 127.0.0.1) recorded to a CBOR file, read
 * back, served by the replay server, and stepped through by the inspector page in Chromium.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decodeMultiple } from 'cbor-x';
import { chromium, type Browser } from 'playwright-core';
import { startFlightRecorder, readRecording, type Recording } from '../../src/observe/recorder.js';
import { replayCommand } from '../../src/cli/replay.js';
import type { ReplayServer } from '../../src/observe/replayServer.js';
import { NodePool, tempDir } from '../helpers/laneFixtures.js';
import { get } from './observe-sse.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

interface PageGlobals {
  octopiiInspector: { actors(): Array<{ machine: string; status: string; states: string[] }> };
}

/** Phases two levels deep (`receiving.streaming`), consecutive repeats collapsed. */
const topPhases = (states: string[]) => states.map((s) => s.split('.').slice(0, 2).join('.')).filter((s, i, all) => s !== all[i - 1]);

describe('flight recorder and replay', () => {
  let root: string;
  let pool: NodePool;
  let full: Recording;
  let small: Recording;
  let file: string;
  let replay: ReplayServer;
  let browser: Browser | undefined;

  beforeAll(async () => {
    root = await tempDir('octopii-observe-replay-');
    pool = new NodePool(root);
    const receiver = await pool.start({ transport: 'quinn' });
    const sender = await pool.start({ transport: 'quinn' });
    file = join(root, 'receiver.flight.cbor');
    const rec = startFlightRecorder(receiver, { path: file, flushMs: 0 });
    const bounded = startFlightRecorder(receiver, { path: join(root, 'small.cbor'), maxEvents: 5, flushMs: 0 });
    const r = await sender.send({ address: receiver.address, nodeId: receiver.nodeId }, { kind: 'memory', data: randomBytes(2 << 20) });
    expect(r.success).toBe(true);
    await pool.stopAll(); // the lane actor is done before the node stops; stop gives the final snapshots
    await rec.close();
    await bounded.close();
    full = await readRecording(file);
    small = await readRecording(join(root, 'small.cbor'));
    replay = await replayCommand({ file, detach: true, write: () => undefined });
  });

  /** Chromium, launched once; fails (not skips) without it. */
  async function launch(): Promise<Browser> {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run test/integration/ensure-chromium.sh`);
    browser ??= await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    return browser;
  }

  afterAll(async () => {
    await browser?.close();
    await replay?.close();
    await pool?.stopAll();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('writes a CBOR sequence whose first item is the header', async () => {
    const items: unknown[] = [];
    decodeMultiple(await readFile(file), (v) => void items.push(v));
    expect([items.length, items[0]]).toEqual([full.events.length + 1, expect.objectContaining({ format: 'octopii-flight', version: 1 })]);
  });

  it('records the lane machine through its states in order', () => {
    const states = full.events.flatMap((e) => (e.kind === 'snapshot' && e.actor.machine === 'laneReceive' ? [e.state] : []));
    expect(topPhases(states)).toEqual(['idle', 'receiving.header', 'receiving.streaming', 'receiving.draining', 'receiving.committing', 'acknowledging', 'closing', 'acknowledged']);
  });

  it('timestamps every event, in order', () => {
    const ts = full.events.map((e) => e.t);
    expect(ts.every((t, i) => typeof t === 'number' && (i === 0 || t >= ts[i - 1]!))).toBe(true);
  });

  it('keeps the charts of the machines it saw', () => {
    // Every built-in chart (src/observe/catalogue.ts) plus any other machine seen running.
    expect(full.header.machines.map((m) => m.id).sort()).toEqual(['admission', 'blobBatch', 'blobFetch', 'blobMulti', 'blobMultiProvider', 'blobProvide', 'breaker', 'laneReceive', 'laneSend', 'node', 'peer', 'raft', 'rpcCall']);
  });

  it('keeps at most maxEvents events', () => {
    expect(small.events.length).toBe(5);
  });

  it('counts the events it dropped', () => {
    expect(small.header.dropped).toBe(full.events.length - 5);
  });

  it('keeps the last events when bounded', () => {
    expect(small.events.map((e) => e.seq)).toEqual(full.events.slice(-5).map((e) => e.seq));
  });

  it('starts a bounded recording from the state the dropped events left', () => {
    expect(small.header.actors.map((a) => a.actor.id)).toContain('node');
  });

  it('serves the recording in replay mode', async () => {
    const health = JSON.parse((await get(`${replay.url}health`)).body);
    expect([health.mode, health.events]).toEqual(['replay', full.events.length]);
  });

  it('refuses a file that is not a recording', async () => {
    await expect(replayCommand({ file: join(root, 'nope'), detach: true })).rejects.toThrow();
  });

  it('steps the page through the recording to the end', async () => {
    const page = await (await launch()).newPage({ viewport: { width: 1600, height: 900 } });
    await page.goto(replay.url);
    await page.waitForSelector('body.replay #seek');
    await page.locator('#seek').fill(String(full.events.length));
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).octopiiInspector.actors().some((a) => a.machine === 'laneReceive' && a.status === 'done'));
    const lane = (await page.evaluate(() => (globalThis as unknown as PageGlobals).octopiiInspector.actors())).find((a) => a.machine === 'laneReceive')!;
    expect(topPhases(lane.states)).toEqual(['idle', 'receiving.header', 'receiving.streaming', 'receiving.draining', 'receiving.committing', 'acknowledging', 'closing', 'acknowledged']);
  });

  it('plays the recording from the start', async () => {
    const page = await (await launch()).newPage();
    await page.goto(replay.url);
    await page.waitForSelector('body.replay #seek');
    await page.selectOption('#speed', '20');
    await page.click('#play');
    await page.waitForFunction((n) => (globalThis as unknown as { document: { querySelector(s: string): { textContent: string } } }).document.querySelector('#position').textContent === `${n} / ${n}`, full.events.length, { timeout: 60_000 });
    const lane = (await page.evaluate(() => (globalThis as unknown as PageGlobals).octopiiInspector.actors())).find((a) => a.machine === 'laneReceive')!;
    expect(topPhases(lane.states)).toEqual(['idle', 'receiving.header', 'receiving.streaming', 'receiving.draining', 'receiving.committing', 'acknowledging', 'closing', 'acknowledged']);
  });
});
