/**
 * Dispatches `simvault` command lines to the registered commands.
 *
 * @module
 */
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
    "Run 'simvault <command> --help' for a command's options.",
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

/**
 * Run one command line (without the program name) and resolve to its exit status.
 */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    (argv.length === 0 ? io.stderr : io.stdout).write(`${overview()}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(argv);
  if (!found) {
    const prefix = COMMANDS.filter((c) => c.path[0] === argv[0]);
    const hint = prefix.length
      ? `\nDid you mean: ${prefix.map((c) => `simvault ${c.path.join(' ')}`).join(', ')}`
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
