// The shape every benchmark subject returns: named rows of numbers, each target expressed as a
// ratio against a baseline measured in the same run (never an absolute time).
export type BenchRow = { name: string } & Record<string, string | number | boolean>;

export interface BenchOptions {
  /** Bytes for throughput runs (default per subject, e.g. 256 MiB). */
  size?: number;
  /** Free-form flags after the subject name, e.g. `--quick`. */
  flags: Set<string>;
  /** Progress lines go here (stderr), never to the JSON on stdout. */
  log: (line: string) => void;
}

export interface BenchSubject {
  name: string;
  run(options: BenchOptions): Promise<BenchRow[]>;
}

/** Time an async function; returns seconds. */
export async function timeIt(fn: () => Promise<void> | void): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Operations per second of `fn` run for about `seconds`, after a short warm-up. */
export async function opsPerSecond(fn: () => unknown, seconds = 1): Promise<number> {
  const warm = performance.now() + 100;
  while (performance.now() < warm) await fn();
  let n = 0;
  const start = performance.now();
  const stop = start + seconds * 1000;
  while (performance.now() < stop) {
    for (let i = 0; i < 64; i++) await fn();
    n += 64;
  }
  return n / ((performance.now() - start) / 1000);
}
