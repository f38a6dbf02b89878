/**
 * vitest `setupFiles` entry of the mutation tool; vitest.config.ts adds it only when
 * OCTOPII_MUTANT is set, so normal runs never load it.
 *
 * It mocks `xstate` for every module of the test file (machines/*, src/*, the test itself): the
 * real module, except that `setup(...).createMachine(config)` (and a bare `createMachine`) first
 * passes `config` through `applyMutant` when `config.id` is the mutant's machine (a bare
 * `createMachine` only for the first machine of that id in the module graph: later ones are
 * rebuilt from the mutated `machine.config`, as test/model does without invokes). The machine
 * object is then built by the real xstate from the mutated config, so `provide`, `createActor`,
 * @xstate/graph and inspection all see the variant. Each time it does so it appends a line to
 * the OCTOPII_MUTANT_MARK file: the runner counts a variant only when the mark proves the
 * mutation was applied.
 */
import { vi } from 'vitest';

vi.mock('xstate', async (importOriginal) => {
  const real = await importOriginal<typeof import('xstate')>();
  const { applyMutant, mutantFromEnv, MUTANT_MARK_ENV } = await import('./mutate.js');
  const { appendFileSync } = await import('node:fs');
  const mutant = mutantFromEnv();
  if (!mutant) return real;

  type Config = Record<string, unknown>;
  let applied = false;
  const mutate = <C>(config: C, via: 'setup' | 'bare'): C => {
    if (!config || (config as Config).id !== mutant.machine) return config;
    // A bare createMachine of an already-mutated machine's id rebuilds from `machine.config`
    // (e.g. test/model's invoke-free copy): that config carries the mutation already.
    if (via === 'bare' && applied) return config;
    applied = true;
    const { config: next } = applyMutant(config as Config, mutant);
    const mark = process.env[MUTANT_MARK_ENV];
    if (mark) appendFileSync(mark, `${mutant.machine} ${process.pid}\n`);
    return next as C;
  };

  type SetupResult = ReturnType<typeof real.setup>;
  const wrap = (s: SetupResult): SetupResult => ({
    ...s,
    createMachine: ((config: unknown) => s.createMachine(mutate(config, 'setup') as never)) as unknown as SetupResult['createMachine'],
    extend: ((extended: unknown) => wrap(s.extend(extended as never) as unknown as SetupResult)) as unknown as SetupResult['extend'],
  });

  return {
    ...real,
    setup: ((implementations: Parameters<typeof real.setup>[0]) => wrap(real.setup(implementations))) as unknown as typeof real.setup,
    createMachine: ((config: unknown, implementations?: unknown) =>
      real.createMachine(mutate(config, 'bare') as never, implementations as never)) as unknown as typeof real.createMachine,
  };
});
