import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // e2e suites create namespaces and devices; keep them from racing each other
    fileParallelism: true,
    reporters: ['default'],
  },
});
