/**
 * Dispatches `simvault` command lines to the registered commands.
 *
 * @module
 */
import pkg from '../../package.json' with { type: 'json' };
import { COMMANDS } from './commands/index.js';
import { describeFailure, type CliIO, type Command } from './command.js';

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.path.join(' ').length));
  const lines = COMMANDS.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
  return [
    'Usage: simvault <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    "Run 'simvault <command> --help' for a command's options, 'simvault --version' for the version.",
    'Exit status: 0 success, 1 failure, 2 usage error.',
  ].join('\n');
}

function findCommand(argv: string[]): { command: Command; rest: string[] } | undefined {
  let best: { command: Command; rest: string[] } | undefined;
  for (const command of COMMANDS) {
    const n = command.path.length;
    if (argv.length >= n && command.path.every((w, i) => argv[i] === w)) {
      if (!best || n > best.command.path.length) best = { command, rest: argv.slice(n) };
    }
  }
  return best;
}

/** Edit distance between two words (insertions, deletions, substitutions, transpositions). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The commands nearest to an unknown command line: those of the group it names (`card pt` →
 * `card put`), else those whose words are within a small edit distance of the words typed.
 */
function suggestions(argv: string[]): string[] {
  const words = argv.filter((w) => !w.startsWith('-'));
  const scored = COMMANDS.map((c) => {
    const typed = words.slice(0, c.path.length);
    let score = 0;
    for (let i = 0; i < c.path.length; i++)
      score += typed[i] === undefined ? 3 : distance(typed[i]!, c.path[i]!);
    return {
      name: c.path.join(' '),
      score,
      tolerance: Math.max(1, Math.floor(c.path.join('').length / 3)),
    };
  }).filter((s) => s.score <= s.tolerance);
  const best = Math.min(...scored.map((s) => s.score));
  return scored.filter((s) => s.score === best).map((s) => `simvault ${s.name}`);
}

/**
 * Run one command line (without the program name) and resolve to its exit status.
 */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-V') {
    io.stdout.write(`simvault ${pkg.version}\n`);
    return 0;
  }
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    (argv.length === 0 ? io.stderr : io.stdout).write(`${overview()}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(argv);
  if (!found) {
    const group = COMMANDS.filter((c) => c.path[0] === argv[0]);
    const sub = argv[1];
    const near =
      group.length && (sub === undefined || sub.startsWith('-')) ? [] : suggestions(argv);
    const hint = near.length
      ? `\nDid you mean: ${near.join(', ')}?`
      : group.length
        ? `\n'${argv[0]}' commands: ${group.map((c) => c.path.join(' ')).join(', ')}`
        : '';
    io.stderr.write(
      `simvault: unknown command '${argv.join(' ')}'${hint}\nTry 'simvault --help'.\n`,
    );
    return 2;
  }
  if (found.rest.includes('--help') || found.rest.includes('-h')) {
    io.stdout.write(`${found.command.help.trimEnd()}\n`);
    return 0;
  }
  try {
    const code = await found.command.run(found.rest, io);
    return code ?? 0;
  } catch (e) {
    const { code, text } = describeFailure(e);
    io.stderr.write(`${text}\n`);
    return code;
  }
}
