import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      // The CLI runs in child processes and the engine workers in worker threads, where the
      // in-process coverage collector cannot see them; their behaviour is tested end to end.
      exclude: ['src/cli/**', 'src/engine/worker/entry.ts', 'src/**/*-worker.ts'],
      reporter: ['text-summary'],
      thresholds: { lines: 85, functions: 85, branches: 75, statements: 85 },
    },
  },
});
