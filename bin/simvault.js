#!/usr/bin/env node
// The `simvault` command. An installed package runs its build (dist/cli/main.js); a clone that
// was never built runs the TypeScript source through tsx, a devDependency, so `npx simvault`
// works right after `npm install` in a checkout.
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const built = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
