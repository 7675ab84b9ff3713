/**
 * `simvault keygen`, `simvault encrypt` and `simvault decrypt`: the envelope format from the shell.
 *
 * @module
 */
import { createOpenStream, createSealStream } from '../../crypto/envelope.js';
import { getSuite, SUITES } from '../../crypto/suites.js';
import { openInput, readKeyFile, writeNewKeyFile, writeOutput } from '../../node/files.js';
import { parseCommandArgs, UsageError, type Command } from '../command.js';
import { BACKEND_CHOICES, backendOption } from '../options.js';

function singleInput(positionals: string[]): string {
  if (positionals.length > 1)
    throw new UsageError(`expected one input file, got ${positionals.length}`);
  return positionals[0] ?? '-';
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

Encrypts INPUT (default: standard input) with C2SP chunked encryption in constant memory.
The suite and compression are recorded in the envelope header.

Options:
  --key KEYFILE        32-byte key file (simvault keygen)
  -o, --output PATH    write here instead of standard output (appears only when complete)
  --suite NAME         ${Object.keys(SUITES).join(' | ')} (default cobblestone-256)
  --backend NAME       ${BACKEND_CHOICES.join(' | ')} (default auto)
  --compress           deflate before encrypting

Example:
  simvault keygen my.key && simvault encrypt --key my.key photo.jpg -o photo.svlt`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      key: { type: 'string' },
      output: { type: 'string', short: 'o' },
      suite: { type: 'string' },
      backend: { type: 'string' },
      compress: { type: 'boolean' },
    });
    const suite = getSuite(values.suite ?? 'cobblestone-256').name;
    const backend = backendOption(values.backend);
    const key = await readKeyFile(requireKey(values.key));
    const input = openInput(singleInput(positionals), io.stdin);
    await writeOutput(
      input.pipeThrough(
        createSealStream(key, { suite, backend, compress: values.compress === true }),
      ),
      values.output ?? '-',
      io.stdout,
    );
  },
};

export const decryptCommand: Command = {
  path: ['decrypt'],
  summary: 'decrypt a simvault envelope from a file or stdin',
  help: `Usage: simvault decrypt --key KEYFILE [options] [INPUT|-]

Decrypts a simvault envelope. Plaintext is released one authenticated 16 KiB chunk at a time;
on standard output a damaged file stops with an error after the last good chunk, and with
--output nothing is written unless the whole file authenticates.

Options:
  --key KEYFILE        32-byte key file
  -o, --output PATH    write here instead of standard output
  --backend NAME       ${BACKEND_CHOICES.join(' | ')} (default auto)

Example:
  simvault decrypt --key my.key photo.svlt -o photo.jpg`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      key: { type: 'string' },
      output: { type: 'string', short: 'o' },
      backend: { type: 'string' },
    });
    const backend = backendOption(values.backend);
    const key = await readKeyFile(requireKey(values.key));
    const input = openInput(singleInput(positionals), io.stdin);
    await writeOutput(
      input.pipeThrough(createOpenStream(key, { backend })),
      values.output ?? '-',
      io.stdout,
    );
  },
};
