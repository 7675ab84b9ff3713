// Property tests are deterministic in `npm test`: every fc.assert runs from one fixed seed, so a
// failure reproduces on the next run. `npm run test:fuzz` sets SIMVAULT_FC_SEED to a fresh seed per
// round (and raises SIMVAULT_FC_RUNS) to explore beyond it; fast-check prints the seed and path
// of any counterexample, and `SIMVAULT_FC_SEED=<seed> npm test` replays it.
import fc from 'fast-check';

/** The seed `npm test` uses unless SIMVAULT_FC_SEED names another. */
export const DEFAULT_SEED = 20261204;

function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got ${raw}`);
  return value;
}

const seed = envInt('SIMVAULT_FC_SEED') ?? DEFAULT_SEED;
const numRuns = envInt('SIMVAULT_FC_RUNS');
fc.configureGlobal(numRuns === undefined ? { seed } : { seed, numRuns });
