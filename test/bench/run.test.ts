// `npm run bench`: every subject runs to the end at the smallest sizes and prints rows of the
// documented shape. Only the shape is checked: speed is the benchmark's business, never a test's.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

type Row = { name: string } & Record<string, string | number | boolean>;

async function bench(args: string[]): Promise<Row[]> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const doc = JSON.parse(stdout) as { rows: Row[] };
  return doc.rows;
}

/** Rows of plain values; a row with a target has a ratio to hold it to and says if it met it. */
function checkTargets(rows: Row[]): void {
  for (const row of rows) {
    expect(typeof row.name).toBe('string');
    for (const [key, value] of Object.entries(row)) {
      if (typeof value === 'number')
        expect(Number.isFinite(value), `${row.name} ${key}`).toBe(true);
    }
    if ('target' in row) expect(typeof row.ratio, `${row.name} ratio`).toBe('number');
    if ('target' in row || 'limitMiB' in row || 'logBound' in row)
      expect(typeof row.ok, `${row.name} ok`).toBe('boolean');
  }
}

describe('npm run bench', () => {
  it('crypto: a row per suite, backend, direction and adapter, stream decrypt rows with their ceiling', async () => {
    const rows = await bench(['crypto', '--quick', '--size', String(2 * 1024 * 1024), '--json']);
    checkTargets(rows);
    const streams = rows.filter((r) => r.name.startsWith('stream-') && r.name !== 'stream-memory');
    expect(streams.length).toBeGreaterThanOrEqual(6);
    expect(streams.filter((r) => r.name === 'stream-encrypt').length).toBe(
      streams.filter((r) => r.name === 'stream-decrypt').length,
    );
    for (const r of streams) {
      if (r.name === 'stream-decrypt') {
        expect(r.ceiling, `${String(r.suite)} ${String(r.backend)}`).toBeGreaterThan(0);
        expect(r.ceiling).toBeLessThan(1);
      } else expect(r).not.toHaveProperty('ceiling');
    }
    // The async-iterable adapters: a row beside each stream row, on the same raw baseline.
    const key = (r: Row) => `${String(r.suite)} ${String(r.backend)}`;
    for (const op of ['encrypt', 'decrypt']) {
      const iter = rows.filter((r) => r.name === `iterable-${op}`);
      expect(iter.map(key)).toEqual(streams.filter((r) => r.name === `stream-${op}`).map(key));
      for (const r of iter) expect(r).not.toHaveProperty('ceiling');
    }
    expect(rows.map((r) => r.name)).toContain('stream-memory');
  }, 180_000);

  it('card: put, get, small files and interleaved mounts for each file count', async () => {
    const rows = await bench(['card', '--quick', '--size', String(4 * 1024 * 1024), '--json']);
    checkTargets(rows);
    const names = rows.map((r) => r.name);
    for (const n of [
      'card-put',
      'card-get',
      'card-put-engine',
      'card-get-engine',
      'card-put-memory',
      'card-small-files',
    ])
      expect(names).toContain(n);
    for (const r of rows.filter((r) => /^card-(put|get)(-engine)?$/.test(r.name))) {
      expect(r.device, r.name).toBe(r.name.endsWith('-engine') ? 'memory' : 'file');
      expect(r.rounds, r.name).toBeGreaterThanOrEqual(2);
    }
    const mounts = rows.filter((r) => r.name === 'card-mount');
    expect(mounts.map((r) => r.files)).toEqual([1_000, 10_000]);
    // The first count is the base every other count is measured against.
    expect(mounts[0]!.ratio).toBe(1);
    expect(mounts[1]!.logBound).toBeCloseTo(Math.log(10_000) / Math.log(1_000), 3);
  }, 180_000);

  it('protocol and server run to the end', async () => {
    const rows = await bench(['protocol', 'server', '--quick', '--json']);
    checkTargets(rows);
    expect(rows.length).toBeGreaterThan(0);
  }, 180_000);

  it('refuses an unknown subject with the usage and exit status 2', async () => {
    const err = await run(process.execPath, ['--import', 'tsx', 'bench/run.ts', 'nope']).catch(
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toContain('Usage: npm run bench');
  });
});
