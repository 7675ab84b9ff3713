/**
 * Node-only file helpers for the CLI: key files, and byte streams to and from paths or `-`.
 *
 * @module
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { fromHex } from '../bytes.js';
import { ArgumentError } from '../errors.js';

/**
 * Read a 32-byte key from a file holding 64 hex digits (surrounding white space allowed) or the
 * 32 raw bytes.
 */
export async function readKeyFile(path: string): Promise<Uint8Array> {
  const raw = await readFile(path);
  const text = raw.toString('latin1').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return fromHex(text);
  if (raw.length === 32) return new Uint8Array(raw);
  throw new ArgumentError(`key file ${path} must hold 32 bytes: 64 hex digits, or the raw bytes`);
}

/**
 * Write a fresh random 32-byte key as hex to a new file with mode 0600; refuses to overwrite.
 */
export async function writeNewKeyFile(path: string): Promise<void> {
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(`${nodeRandomBytes(32).toString('hex')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A WHATWG byte stream from a path, or standard input for `-`. */
export function openInput(path: string, stdin: NodeJS.ReadableStream): ReadableStream<Uint8Array> {
  const node =
    path !== '-'
      ? createReadStream(path, { highWaterMark: 1024 * 1024 })
      : stdin instanceof Readable
        ? stdin
        : Readable.from(stdin, { objectMode: false });
  return Readable.toWeb(node) as unknown as ReadableStream<Uint8Array>;
}

/**
 * Pipe a byte stream to a path or to `out` for `-`. A file appears only once the whole stream has
 * succeeded: it is written beside the target and renamed, so a failure leaves no partial file and
 * never clobbers an existing one.
 */
export async function writeOutput(
  stream: ReadableStream<Uint8Array>,
  path: string,
  out: NodeJS.WritableStream,
): Promise<void> {
  if (path === '-') {
    const sink =
      out instanceof Writable
        ? Writable.toWeb(out)
        : new WritableStream<Uint8Array>({
            write: (chunk) =>
              new Promise<void>((resolve, reject) => {
                out.write(chunk, (e) => {
                  if (e) reject(e);
                  else resolve();
                });
              }),
          });
    await stream.pipeTo(sink, { preventClose: true });
    return;
  }
  const temp = `${path}.partial-${nodeRandomBytes(4).toString('hex')}`;
  const file = createWriteStream(temp, { flags: 'wx' });
  try {
    await stream.pipeTo(Writable.toWeb(file));
    const handle = await open(temp, 'r');
    await handle.sync();
    await handle.close();
    await rename(temp, path);
  } catch (e) {
    file.destroy();
    await rm(temp, { force: true });
    throw e;
  }
}
