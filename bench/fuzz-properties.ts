// The property tests with fresh seeds, beyond the one fixed seed of `npm test`:
//
//   npm run test:fuzz [-- --rounds N] [--runs R]
//
// Each round runs every test file that uses fast-check once under a new random seed
// (SIMVAULT_FC_SEED, read by test/setup/fast-check.ts); --runs sets fast-check's numRuns for
// properties that do not fix their own. The first failing round stops the run with its seed, the
// exit status is 1, and `SIMVAULT_FC_SEED=<seed> npm test` replays it.
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isSafeInteger(value) || value <= 0) {
    process.stderr.write(`--${name} needs a positive integer\n`);
    process.exit(2);
  }
  return value;
}

function propertyFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return propertyFiles(path);
    if (!entry.name.endsWith('.test.ts')) return [];
    return /\bfc\.(assert|sample)\(/.test(readFileSync(path, 'utf8')) ? [path] : [];
  });
}

const rounds = option('rounds', 10);
const runs = option('runs', 1000);
const files = propertyFiles('test');
process.stderr.write(`${files.length} property test files, ${rounds} rounds\n`);
for (let round = 1; round <= rounds; round++) {
  const seed = randomInt(2 ** 31);
  process.stderr.write(`round ${round}/${rounds}: SIMVAULT_FC_SEED=${seed}\n`);
  const result = spawnSync('npx', ['vitest', 'run', '--reporter=dot', ...files], {
    stdio: 'inherit',
    env: { ...process.env, SIMVAULT_FC_SEED: String(seed), SIMVAULT_FC_RUNS: String(runs) },
  });
  if (result.status !== 0) {
    process.stderr.write(`failed with SIMVAULT_FC_SEED=${seed}\n`);
    process.exit(1);
  }
}
process.stderr.write('all rounds passed\n');
