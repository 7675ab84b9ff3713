// `npm run bench -- [subject...] [--json] [--size BYTES] [--quick]`: runs each benchmark subject
// and prints its rows as a table, or one JSON document `{"rows":[...]}` with --json.
import type { BenchOptions, BenchRow, BenchSubject } from './row.js';

const SUBJECTS: Record<string, () => Promise<{ default: BenchSubject }>> = {
  crypto: () => import('./crypto.js'),
  server: () => import('./server.js'),
  protocol: () => import('./protocol.js'),
  card: () => import('./card.js'),
};

function usage(): never {
  process.stderr.write(
    `Usage: npm run bench -- [${Object.keys(SUBJECTS).join('|')}]... [--json] [--size BYTES] [--quick]\n`,
  );
  process.exit(2);
}

const argv = process.argv.slice(2);
const names: string[] = [];
const flags = new Set<string>();
let size: number | undefined;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  if (a === '--size') {
    size = Number(argv[++i]);
    if (!Number.isSafeInteger(size) || size <= 0) usage();
  } else if (a.startsWith('--')) flags.add(a.slice(2));
  else if (a in SUBJECTS) names.push(a);
  else usage();
}
if (flags.has('help')) usage();
const json = flags.has('json');
const chosen = names.length ? names : Object.keys(SUBJECTS);

const options: BenchOptions = {
  flags,
  log: (line) => process.stderr.write(`${line}\n`),
  ...(size !== undefined ? { size } : {}),
};
const rows: BenchRow[] = [];
for (const name of chosen) {
  const subject = (await SUBJECTS[name]!()).default;
  options.log(`# ${subject.name}`);
  rows.push(...(await subject.run(options)));
}

if (json) {
  process.stdout.write(`${JSON.stringify({ rows }, null, 2)}\n`);
} else {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const fmt = (v: BenchRow[string] | undefined) =>
    typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : String(v ?? '');
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => fmt(r[c]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  process.stdout.write(
    `${line(cols)}\n${rows.map((r) => line(cols.map((c) => fmt(r[c])))).join('\n')}\n`,
  );
}
