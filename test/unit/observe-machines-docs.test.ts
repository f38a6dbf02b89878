/**
 * docs/machines/ is generated from the machine definitions (src/cli/machines.ts). When a machine
 * changes, regenerate: `npx tsx src/cli/machines.ts --format mermaid --out docs/machines`.
 */
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { loadBuiltinCharts } from '../../src/observe/catalogue.js';
import { renderChart } from '../../src/cli/machines.js';

const REGENERATE = 'stale: run `npx tsx src/cli/machines.ts --format mermaid --out docs/machines` and commit docs/machines/';

describe('docs/machines', async () => {
  const { charts, skipped } = await loadBuiltinCharts();

  it('loads every built-in machine', () => {
    expect(skipped).toEqual([]);
  });

  it.each(charts.map((c) => [c.id, c] as const))('docs/machines/%s.md matches the definition', async (id, chart) => {
    const onDisk = await readFile(new URL(`../../docs/machines/${id}.md`, import.meta.url), 'utf8').catch(() => '(missing)');
    expect(onDisk, REGENERATE).toBe(renderChart(chart, 'mermaid'));
  });
});
