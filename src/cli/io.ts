/**
 * Where a command's bytes come from and go to, with the rules a person at a terminal needs: a
 * command never sits waiting for input typed at a terminal, never prints binary ciphertext onto
 * one, and opens a named input before it writes anything, so a missing file fails with its name
 * and an empty standard output.
 *
 * @module
 */
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { IoError } from '../errors.js';
import { UsageError, type CliIO } from './command.js';

/**
 * Whether a stream is a terminal.
 *
 * @example
 * ```ts
 * isTerminal(process.stdout); // true in an interactive shell, false when piped
 * ```
 */
export function isTerminal(stream: unknown): boolean {
  return (stream as { isTTY?: unknown } | null)?.isTTY === true;
}

/**
 * Refuse to read standard input when it is a terminal: the command would wait for typing that
 * nobody intends. `what` says what the command wanted to read.
 *
 * @example
 * ```ts
 * refuseTerminalInput(io, 'the data to store (give FILE, or pipe it in)');
 * ```
 */
export function refuseTerminalInput(io: CliIO, what: string): void {
  if (isTerminal(io.stdin)) throw new UsageError(`standard input is a terminal; expected ${what}`);
}

/**
 * An input opened before anything is written: a byte stream and, for a file, its size.
 *
 * @example
 * ```ts
 * const { stream, size } = await openInput('photo.jpg', io, 'the file to encrypt');
 * ```
 */
export async function openInput(
  path: string,
  io: CliIO,
  what: string,
): Promise<{ stream: ReadableStream<Uint8Array>; size: number | undefined }> {
  if (path === '-') {
    refuseTerminalInput(io, what);
    return {
      stream: Readable.toWeb(io.stdin) as unknown as ReadableStream<Uint8Array>,
      size: undefined,
    };
  }
  const handle = await open(path, 'r');
  try {
    const info = await handle.stat();
    if (info.isDirectory())
      throw new IoError('IO_NOT_A_FILE', `${path}: is a folder, not a file`, { path });
    const node = handle.createReadStream({ highWaterMark: 1 << 20 });
    return {
      stream: Readable.toWeb(node) as unknown as ReadableStream<Uint8Array>,
      size: info.isFile() ? info.size : undefined,
    };
  } catch (e) {
    await handle.close();
    throw e;
  }
}
