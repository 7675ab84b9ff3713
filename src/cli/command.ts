/**
 * The shape of a `simvault` sub-command and the helpers every command shares: argument parsing
 * on `node:util` `parseArgs` with usage errors (exit 2), and where results and progress go.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Readable, Writable } from 'node:stream';
import { SimvaultError } from '../errors.js';
import { ioErrorOf } from './errno.js';

/** Where a command reads and writes: results on `stdout`, progress and errors on `stderr`. */
export interface CliIO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

/** One `simvault` sub-command, e.g. `encrypt` or `ota pack`. */
export interface Command {
  /** Words that select the command, e.g. `['ota', 'pack']`. */
  path: readonly string[];
  /** One line for the command list. */
  summary: string;
  /** The full `--help` text (usage line, options, examples). */
  help: string;
  /** Runs the command; resolves to the exit code (0 by default). */
  run(args: string[], io: CliIO): Promise<number> | Promise<void>;
}

/** A bad command line: wrong or missing arguments. Exits with status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * `parseArgs` in strict mode with its errors turned into {@link UsageError}s.
 */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: T,
  allowPositionals = true,
): ReturnType<
  typeof parseArgs<{ args: string[]; options: T; allowPositionals: boolean; strict: true }>
> {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Write one line of a result to stdout, as JSON when asked for. */
export function writeResult(io: CliIO, json: boolean, value: unknown, text: string): void {
  io.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

/**
 * Exit code and stderr text for a thrown value: 2 for a {@link UsageError}, 1 with the stable code
 * for a `SimvaultError` or a Node errno error (mapped to an `IO_*` code), 1 with the stack for
 * anything else (a bug).
 */
export function describeFailure(e: unknown): { code: number; text: string } {
  if (e instanceof UsageError)
    return { code: 2, text: `simvault: ${e.message}\nTry 'simvault --help'.` };
  const known = e instanceof SimvaultError ? e : ioErrorOf(e);
  if (known) return { code: 1, text: `simvault: ${known.code}: ${known.message}` };
  return { code: 1, text: `simvault: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}` };
}
