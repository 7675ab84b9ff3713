import { defineConfig } from 'vitest/config';

// The guides (test/docs) import the package by its name, as a user does; here that is src/.
const entries = ['crypto', 'protocol', 'card', 'sim', 'handset', 'node', 'server'];

export default defineConfig({
  resolve: {
    alias: [
      ...entries.map((e) => ({
        find: `simvault/${e}`,
        replacement: new URL(`src/${e}/index.ts`, import.meta.url).pathname,
      })),
      { find: /^simvault$/, replacement: new URL('src/index.ts', import.meta.url).pathname },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup/fast-check.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
