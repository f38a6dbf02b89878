/**
 * The inspector page in a real browser (playwright-core driving Debian's Chromium, headless):
 * opened on the receiving node while a transfer over QUIC (quinn, 127.0.0.1) runs, it follows
 * the new lane actor and sees its machine pass its states in order, lit on the chart.
 *
 * Chromium comes from test/integration/ensure-chromium.sh; without it this test fails.
 * `OCTOPII_SCREENSHOT=docs/inspector.png` also saves the screenshot there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { OctopiiNode } from '../../src/node.js';
import { startObserveServer, type ObserveServer } from '../../src/observe/server.js';
import { observeCommand } from '../../src/cli/observe.js';
import { NodePool, tempDir } from '../helpers/laneFixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** What the page functions below touch (this project's tsconfig has no DOM lib). */
interface PageGlobals {
  document: { querySelector(s: string): unknown; querySelectorAll(s: string): ArrayLike<{ textContent: string | null }> };
  octopiiInspector: { actors(): InspectorActor[] };
}

interface InspectorActor {
  id: string;
  machine: string;
  state: string;
  status: string;
  states: string[];
}

describe('inspector page in Chromium during a real transfer', () => {
  let root: string;
  let pool: NodePool;
  let sender: OctopiiNode;
  let receiver: OctopiiNode;
  let obs: ObserveServer;
  let senderObs: ObserveServer;
  let browser: Browser;
  let page: Page;
  let lane: InspectorActor;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run test/integration/ensure-chromium.sh`);
    root = await tempDir('octopii-observe-browser-');
    pool = new NodePool(root);
    receiver = await pool.start({ transport: 'quinn', receiveDir: join(root, 'inbox') });
    sender = await pool.start({ transport: 'quinn' });
    obs = await startObserveServer(receiver);
    senderObs = await startObserveServer(sender);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(obs.url);
    await page.waitForSelector('.conn.live', { timeout: 30_000 });
    // The charts are laid out in a worker when the server starts; wait for them to be served.
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('svg.chart') !== null, undefined, { timeout: 60_000 });
    const transfer = sender.send({ address: receiver.address, nodeId: receiver.nodeId }, { kind: 'memory', data: randomBytes(24 << 20) });
    await page.waitForFunction(
      () => (globalThis as unknown as PageGlobals).octopiiInspector.actors().some((a) => a.machine === 'laneReceive' && a.status === 'done'),
      undefined,
      { timeout: 60_000 },
    );
    expect((await transfer).success).toBe(true);
    lane = (await page.evaluate(() => (globalThis as unknown as PageGlobals).octopiiInspector.actors())).find((a) => a.machine === 'laneReceive')!;
    await page.waitForSelector('svg.chart[data-machine="laneReceive"] .state.active[data-state="laneReceive.acknowledged"]', { timeout: 10_000 });
    await page.screenshot({ path: join(root, 'inspector.png') });
    if (process.env.OCTOPII_SCREENSHOT) await page.screenshot({ path: process.env.OCTOPII_SCREENSHOT });
  });

  afterAll(async () => {
    await browser?.close();
    await obs?.close();
    await senderObs?.close();
    await pool?.stopAll();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('sees the receiving lane machine pass its states in order', () => {
    const top = lane.states.map((s) => s.split('.').slice(0, 2).join('.')).filter((s, i, all) => s !== all[i - 1]);
    expect(top).toEqual(['idle', 'receiving.header', 'receiving.streaming', 'receiving.draining', 'receiving.committing', 'acknowledging', 'closing', 'acknowledged']);
  });

  it('follows the new transfer: its chart is the one drawn', async () => {
    expect(await page.getAttribute('svg.chart', 'data-machine')).toBe('laneReceive');
  });

  it('lights the final state on the chart', async () => {
    expect(await page.locator('svg.chart .state.active.done[data-state="laneReceive.acknowledged"]').count()).toBe(1);
  });

  it('shows the transfer under its peer in the actor tree', async () => {
    const rows = await Promise.all((await page.locator('#tree li.actor').all()).map(async (e) => `${await e.getAttribute('data-machine')}:${await e.getAttribute('data-state')}`));
    // The receiver's incoming-transfer gates (config `limits`) are admission actors: one for the
    // node, one under the peer.
    expect(rows.sort()).toEqual(['admission:open', 'admission:open', 'laneReceive:acknowledged', 'node:supervising', expect.stringMatching(/^peer:connected\./)]);
  });

  it('lists the state history of the selected actor', async () => {
    const items = await page.locator('ol.history li').allTextContents();
    expect(items.at(-1)).toMatch(/→ acknowledged$/);
  });

  it('filters the event log', async () => {
    await page.fill('#filter', 'COMMITTED');
    await page.waitForFunction(() => Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll('#log tr.rec')).every((r) => r.textContent!.includes('COMMITTED')));
    const rows = await page.locator('#log tr.rec td.what').allTextContents();
    await page.fill('#filter', '');
    expect(rows.length).toBeGreaterThan(0);
  });

  it('merges several nodes in the cluster view', async () => {
    const cluster = await observeCommand({ nodes: [obs.url, senderObs.url], detach: true, write: () => undefined });
    try {
      const p = await browser.newPage({ viewport: { width: 1600, height: 900 } });
      p.on('pageerror', (e) => pageErrors.push(e.message));
      await p.goto(cluster.url.replace(/\?.*$/, '')); // `/` redirects to `/?nodes=…`
      await p.waitForFunction(() => {
        const d = (globalThis as unknown as PageGlobals).document;
        return d.querySelectorAll('.conn.live').length === 2 && d.querySelectorAll('#tree li.actor[data-machine^="lane"]').length === 2;
      });
      const machines = await Promise.all((await p.locator('#tree li.actor').all()).map((e) => e.getAttribute('data-machine')));
      expect(machines.sort()).toEqual(['admission', 'admission', 'laneReceive', 'laneSend', 'node', 'node', 'peer', 'peer']);
    } finally {
      await cluster.close();
    }
  });

  it('opens with a token given in its URL', async () => {
    const guarded = await startObserveServer(receiver, { token: 's3cret' });
    try {
      const p = await browser.newPage();
      p.on('pageerror', (e) => pageErrors.push(e.message));
      await p.goto(`${guarded.url}?token=s3cret`);
      await p.waitForSelector('.conn.live');
      expect(await p.locator('#tree li.actor[data-machine="node"]').count()).toBe(1);
    } finally {
      await guarded.close();
    }
  });

  it('raises no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
