/**
 * `simvault keygen`, `simvault encrypt` and `simvault decrypt`: the envelope format from the shell.
 *
 * @module
 */
import { createOpenStream, createSealStream } from '../../crypto/envelope.js';
import { SUITES, type SuiteName } from '../../crypto/suites.js';
import { readKeyFile, writeNewKeyFile, writeOutput } from '../../node/files.js';
import { parseCommandArgs, UsageError, type CliIO, type Command } from '../command.js';
import { isTerminal, openInput } from '../io.js';
import { BACKEND_CHOICES, backendOption, parseChoice } from '../options.js';
import { ProgressBar } from '../progress.js';

function singleInput(positionals: string[]): string {
  if (positionals.length > 1)
    throw new UsageError(`expected one input file, got ${positionals.length}`);
  return positionals[0] ?? '-';
}

const SUITE_NAMES = Object.keys(SUITES) as SuiteName[];

/**
 * A progress bar over `stream` on stderr when asked for (`--progress`) or when stderr is a
 * terminal and the result is not going to that same terminal.
 */
function withProgress(
  stream: ReadableStream<Uint8Array>,
  io: CliIO,
  label: string,
  total: number | undefined,
  flag: boolean | undefined,
): ReadableStream<Uint8Array> {
  const show = flag === true || (isTerminal(io.stderr) && !isTerminal(io.stdout));
  return show ? stream.pipeThrough(new ProgressBar(io.stderr, label, total).counter()) : stream;
}

function requireKey(key: string | undefined): string {
  if (!key)
    throw new UsageError('--key KEYFILE is required (make one with: simvault keygen KEYFILE)');
  return key;
}

export const keygenCommand: Command = {
  path: ['keygen'],
  summary: 'write a new random 32-byte key file (hex, mode 0600)',
  help: `Usage: simvault keygen KEYFILE

Writes 32 random bytes as 64 hex digits to KEYFILE, created with mode 0600.
Refuses to overwrite an existing file.`,
  async run(args, io) {
    const { positionals } = parseCommandArgs(args, {});
    if (positionals.length !== 1) throw new UsageError('keygen takes exactly one KEYFILE');
    await writeNewKeyFile(positionals[0]!);
    io.stderr.write(`wrote a new key to ${positionals[0]}\n`);
  },
};

export const encryptCommand: Command = {
  path: ['encrypt'],
  summary: 'encrypt a file or stdin into a simvault envelope',
  help: `Usage: simvault encrypt --key KEYFILE [options] [INPUT|-]

Encrypts INPUT (default: standard input, which must not be a terminal) with C2SP chunked
encryption in constant memory. The suite and compression are recorded in the envelope header.
Ciphertext is never written to a terminal: give --output or redirect standard output. A missing
INPUT fails before anything is written.

Options:
  --key KEYFILE        32-byte key file (simvault keygen)
  -o, --output PATH    write here instead of standard output (appears only when complete)
  --suite NAME         ${SUITE_NAMES.join(' | ')} (default cobblestone-256)
  --backend NAME       ${BACKEND_CHOICES.join(' | ')} (default auto)
  --compress           deflate before encrypting
  --progress           draw a progress bar on stderr (default: when stderr is a terminal)

Example:
  simvault keygen my.key && simvault encrypt --key my.key photo.jpg -o photo.svlt`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      key: { type: 'string' },
      output: { type: 'string', short: 'o' },
      suite: { type: 'string' },
      backend: { type: 'string' },
      compress: { type: 'boolean' },
      progress: { type: 'boolean' },
    });
    const suite = parseChoice(values.suite ?? 'cobblestone-256', '--suite', SUITE_NAMES);
    const backend = backendOption(values.backend);
    const output = values.output ?? '-';
    if (output === '-' && isTerminal(io.stdout))
      throw new UsageError(
        'refusing to write ciphertext to a terminal: give --output FILE or redirect standard output',
      );
    const key = await readKeyFile(requireKey(values.key));
    const path = singleInput(positionals);
    const input = await openInput(path, io, 'the data to encrypt (give INPUT, or pipe it in)');
    await writeOutput(
      withProgress(input.stream, io, `encrypt ${path}`, input.size, values.progress).pipeThrough(
        createSealStream(key, { suite, backend, compress: values.compress === true }),
      ),
      output,
      io.stdout,
    );
  },
};

export const decryptCommand: Command = {
  path: ['decrypt'],
  summary: 'decrypt a simvault envelope from a file or stdin',
  help: `Usage: simvault decrypt --key KEYFILE [options] [INPUT|-]

Decrypts a simvault envelope (default: from standard input, which must not be a terminal).
Plaintext is released one authenticated 16 KiB chunk at a time; on standard output a damaged
file stops with an error after the last good chunk, and with --output nothing is written unless
the whole file authenticates.

Options:
  --key KEYFILE        32-byte key file
  -o, --output PATH    write here instead of standard output
  --backend NAME       ${BACKEND_CHOICES.join(' | ')} (default auto)
  --progress           draw a progress bar on stderr (default: when stderr is a terminal)

Example:
  simvault decrypt --key my.key photo.svlt -o photo.jpg`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      key: { type: 'string' },
      output: { type: 'string', short: 'o' },
      backend: { type: 'string' },
      progress: { type: 'boolean' },
    });
    const backend = backendOption(values.backend);
    const key = await readKeyFile(requireKey(values.key));
    const path = singleInput(positionals);
    const input = await openInput(path, io, 'the envelope to decrypt (give INPUT, or pipe it in)');
    await writeOutput(
      withProgress(input.stream, io, `decrypt ${path}`, input.size, values.progress).pipeThrough(
        createOpenStream(key, { backend }),
      ),
      values.output ?? '-',
      io.stdout,
    );
  },
};
