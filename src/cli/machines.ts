/**
 * `octopii machines`: every built-in machine's state chart (node supervisor, peer, laneSend,
 * laneReceive), drawn from its definition (src/observe/chart.ts), written as Mermaid, DOT or
 * JSON. A machine whose module fails to import is skipped and reported, not fatal.
 * docs/machines/ holds the Mermaid output; a test fails when it is stale. Regenerate with
 *
 *   npx tsx src/cli/machines.ts --format mermaid --out docs/machines
 *
 * Exported for src/cli.ts to wire as a subcommand:
 *   program.command('machines').option('--format <f>').option('--out <dir>').action((o) => machinesCommand(o))
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OctopiiError } from '../errors.js';
import type { MachineChart } from '../observe/chart.js';
import { loadBuiltinCharts, type SkippedMachine } from '../observe/catalogue.js';
import { toDot, toMermaid } from '../observe/render.js';

export type MachinesFormat = 'mermaid' | 'dot' | 'json';

export interface MachinesCommandOptions {
  /** Default `mermaid`. */
  format?: MachinesFormat;
  /** Directory to write one file per machine into (created); omitted: everything to `write`. */
  out?: string;
  /** Where output goes without `out`, and the report (default: stdout). */
  write?: (text: string) => void;
}

export interface MachinesCommandResult {
  /** Files written (absolute paths), in machine order. */
  written: string[];
  skipped: SkippedMachine[];
}

const EXT: Record<MachinesFormat, string> = { mermaid: 'md', dot: 'dot', json: 'json' };

/** The text of one chart in `format` (Mermaid comes wrapped in Markdown, so it renders on GitHub). */
export function renderChart(chart: MachineChart, format: MachinesFormat): string {
  if (format === 'dot') return toDot(chart);
  if (format === 'json') return `${JSON.stringify(chart, null, 2)}\n`;
  return [
    `# Machine \`${chart.id}\``,
    '',
    'Generated from the machine definition by `octopii machines --format mermaid` (src/cli/machines.ts); do not edit.',
    'Targetless transitions are listed inside their state (in a note for a composite state); transitions of the root start at "any state".',
    '',
    '```mermaid',
    toMermaid(chart).trimEnd(),
    '```',
    '',
  ].join('\n');
}

/** Writes every built-in chart. Throws INVALID_ARGUMENT for an unknown format. */
export async function machinesCommand(options: MachinesCommandOptions = {}): Promise<MachinesCommandResult> {
  const format = options.format ?? 'mermaid';
  if (!(format in EXT)) throw new OctopiiError('INVALID_ARGUMENT', `format must be mermaid, dot or json, got "${String(format)}"`);
  const write = options.write ?? ((t: string) => void process.stdout.write(t));
  const { charts, skipped } = await loadBuiltinCharts();
  const written: string[] = [];
  if (options.out) {
    const dir = resolve(options.out);
    await mkdir(dir, { recursive: true });
    for (const c of charts) {
      const file = join(dir, `${c.id}.${EXT[format]}`);
      await writeFile(file, renderChart(c, format));
      written.push(file);
    }
  } else {
    write(format === 'json' ? `${JSON.stringify(charts, null, 2)}\n` : charts.map((c) => renderChart(c, format)).join('\n'));
  }
  for (const s of skipped) process.stderr.write(`skipped machine ${s.name}: ${s.error}\n`);
  return { written, skipped };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  machinesCommand({ format: arg('--format') as MachinesFormat | undefined, out: arg('--out') }).then(
    (r) => {
      for (const f of r.written) process.stdout.write(`wrote ${f}\n`);
      process.exitCode = r.skipped.length > 0 ? 1 : 0;
    },
    (e) => {
      process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 2;
    },
  );
}
