import { defineConfig } from 'vitest/config';

/*
 * Two groups. Unit and fixture tests run in parallel. Real-kernel tests (*.kernel.test.ts) run
 * afterwards, one file at a time: each starts its own proc-connector reader, and several agents
 * racing each other for /proc on a small machine would measure the test harness, not the agent.
 */
export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.kernel.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'kernel',
          include: ['test/**/*.kernel.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
