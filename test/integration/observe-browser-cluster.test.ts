/**
 * The inspector's cluster view in a real browser (playwright-core driving Debian's Chromium,
 * headless) over a real KV cluster: three member processes on 127.0.0.1 over QUIC, each
 * serving its observe endpoint (`cluster run --observe`). The page, served by
 * `octopii observe --nodes …`, lights the leader among the members side by side; the leader is
 * SIGKILLed and the page marks it down and lights the new leader. A screenshot is saved with
 * the test's files (`OCTOPII_SCREENSHOT_CLUSTER=path` also saves it there).
 *
 * Chromium comes from test/integration/ensure-chromium.sh; without it this test fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { clusterInit, spawnMember, type StartedMember } from '../../src/cli/cluster.js';
import { observeCommand } from '../../src/cli/observe.js';
import { tempDir } from '../helpers/laneFixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const TICK_MS = 50;
const ELECTION_TICK = 10; // election timeout 500–1000 ms

/** What the page functions below touch (this project's tsconfig has no DOM lib). */
interface PageGlobals {
  document: {
    querySelector(s: string): { getAttribute(a: string): string | null } | null;
    querySelectorAll(s: string): ArrayLike<{ getAttribute(a: string): string | null }>;
  };
}

/** Member cards of the Raft strip: `m<id>:<role>` in member order. */
async function cards(page: Page): Promise<string[]> {
  return Promise.all((await page.locator('#raft .member').all()).map(async (e) => `m${await e.getAttribute('data-member')}:${await e.getAttribute('data-role')}`));
}

describe('cluster view in Chromium while the leader is killed', () => {
  let root: string;
  let members: StartedMember[] = [];
  let browser: Browser;
  let page: Page;
  let cluster: { url: string; close(): Promise<void> } | undefined;
  let firstLeader: string;
  let before: string[];
  let secondLeader: string;
  let after: string[];
  let elections: ReadonlyArray<readonly [number, string | null]>;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run test/integration/ensure-chromium.sh`);
    root = await tempDir('octopii-observe-cluster-');
    const configs = await clusterInit({ nodes: 3, dir: join(root, 'c'), tickMs: TICK_MS, electionTick: ELECTION_TICK });
    members = await Promise.all(configs.map((c) => spawnMember(c, { observe: true })));
    cluster = await observeCommand({ nodes: members.map((m) => m.observe!), detach: true, write: () => undefined });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(cluster.url);
    // Settled: three cards, a leader and two followers (right after an election a member can still be a candidate).
    await page.waitForFunction(
      () => {
        const roles = Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll('#raft .member')).map((e) => e.getAttribute('data-role'));
        return roles.length === 3 && roles.filter((r) => r === 'leader').length === 1 && roles.filter((r) => r === 'follower').length === 2;
      },
      undefined,
      { timeout: 20_000 },
    );
    firstLeader = (await page.getAttribute('#raft .member.lit', 'data-member'))!;
    before = await cards(page);
    members.find((m) => String(m.id) === firstLeader)!.process.kill('SIGKILL');
    await page.waitForFunction(
      (old) => {
        const d = (globalThis as unknown as PageGlobals).document;
        const lit = d.querySelector('#raft .member.lit');
        return (
          lit !== null &&
          lit.getAttribute('data-member') !== old &&
          d.querySelector(`#raft .member[data-member="${old}"]`)?.getAttribute('data-role') === 'down' &&
          d.querySelectorAll('#raft .elections li').length >= 2
        );
      },
      firstLeader,
      { timeout: 20_000 },
    );
    secondLeader = (await page.getAttribute('#raft .member.lit', 'data-member'))!;
    // Read the strip at that moment: the two members left may elect again later (a loaded machine
    // can miss a heartbeat), which is a later page, not this one.
    after = await cards(page);
    elections = await Promise.all((await page.locator('#raft .elections li').all()).map(async (e) => [Number(await e.getAttribute('data-term')), await e.getAttribute('data-leader')] as const));
    // The screenshot shows the selected node's chart once the charts are laid out.
    await page.waitForSelector('#chart svg.chart', { timeout: 30_000 });
    await page.screenshot({ path: join(root, 'cluster.png') });
    if (process.env.OCTOPII_SCREENSHOT_CLUSTER) await page.screenshot({ path: process.env.OCTOPII_SCREENSHOT_CLUSTER });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.close();
    for (const m of members) m.process.kill('SIGKILL');
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('shows the three members side by side, one leader lit', () => {
    expect(before).toEqual(['m1', 'm2', 'm3'].map((m) => `${m}:${m === `m${firstLeader}` ? 'leader' : 'follower'}`));
  });

  it('marks the killed leader down and lights the new one', () => {
    expect(after).toEqual(['m1', 'm2', 'm3'].map((m) => `${m}:${m === `m${firstLeader}` ? 'down' : m === `m${secondLeader}` ? 'leader' : 'follower'}`));
  });

  it('lists both elections in order, the new term higher', () => {
    expect(elections.map(([, l]) => l)).toEqual([firstLeader, secondLeader]);
    expect(elections[1]![0]).toBeGreaterThan(elections[0]![0]);
  });

  it('raises no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
