import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/globalSetup.ts'],
    // Integration tests wait on real lock timeouts and real sessions.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
