import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests move real bytes over real sockets; give them room, never retry to go green.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // 2-core CI machine: two files at a time keeps socket-heavy tests from starving each other.
    maxWorkers: 2,
    // Mutation testing (test/mutation/run.ts) only: the hook that builds the machine variant.
    ...(process.env.OCTOPII_MUTANT ? { setupFiles: ['test/mutation/setup.ts'] } : {}),
  },
});
