/**
 * Application files on disk, for downloads a handset can resume. Content is stored by its SHA-256
 * (`objects/<hex>`), immutable once written, and each file name points at one object
 * (`names/<name>.json`, replaced atomically by rename). A download therefore always reads the one
 * version its ETag names, even while an operator uploads a new one; uploads stream to a temporary
 * file while hashing and never hold a file in memory. Folders are created mode 0700, files 0600:
 * the OTA server serves them, nobody else on the machine needs to read them.
 *
 * @module
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ServerError } from '../errors.js';
import { OtaError } from './errors.js';

/**
 * What is known of a stored file.
 *
 * @example
 * ```ts
 * import type { FileInfo } from './files.js';
 * const f: FileInfo = { name: 'tv.bin', size: 4096, sha256: 'ab'.repeat(32), contentType: 'application/octet-stream', storedAt: 0 };
 * ```
 */
export interface FileInfo {
  /** The file's name in URLs. */
  name: string;
  /** Size in bytes. */
  size: number;
  /** SHA-256 of the content, lower-case hex. */
  sha256: string;
  /** Media type given at upload. */
  contentType: string;
  /** When stored, ms since the epoch. */
  storedAt: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MEDIA_TYPE = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+$/;

/**
 * A file name as URLs carry it: 1-128 of `A-Z a-z 0-9 . _ -`, not starting with `.`, `_` or `-`;
 * anything else is `SERVER_BAD_REQUEST` (so no name can reach outside the folder).
 *
 * @example
 * ```ts
 * import { fileNameOf } from './files.js';
 * fileNameOf('tv-2.1.bin'); // 'tv-2.1.bin'
 * ```
 */
export function fileNameOf(value: unknown): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw new ServerError(
      'SERVER_BAD_REQUEST',
      'name: must be 1-128 of A-Z a-z 0-9 . _ - starting with a letter or digit',
    );
  }
  return value;
}

/**
 * The strong ETag of a file: its SHA-256, quoted.
 *
 * @example
 * ```ts
 * import { etagOf } from './files.js';
 * etagOf({ sha256: 'ab'.repeat(32) }); // '"abab...ab"'
 * ```
 */
export function etagOf(info: Pick<FileInfo, 'sha256'>): string {
  return `"${info.sha256}"`;
}

/**
 * The digest field value of a file's SHA-256 for `Repr-Digest` (RFC 9530): `sha-256=:<base64>:`.
 *
 * @example
 * ```ts
 * import { reprDigestOf } from './files.js';
 * reprDigestOf({ sha256: '00'.repeat(32) }); // 'sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:'
 * ```
 */
export function reprDigestOf(info: Pick<FileInfo, 'sha256'>): string {
  return `sha-256=:${Buffer.from(info.sha256, 'hex').toString('base64')}:`;
}

/**
 * Application files in a folder.
 *
 * @example
 * ```ts
 * import { Readable } from 'node:stream';
 * import { FileStore } from './files.js';
 * const files = new FileStore('./simvault-data/files');
 * await files.put('hello.txt', Readable.from([Buffer.from('hello')]), { contentType: 'text/plain' });
 * (await files.stat('hello.txt'))?.size; // 5
 * ```
 */
export class FileStore {
  /** The folder. */
  readonly root: string;
  private made: Promise<void> | undefined;

  /** @param root - the folder (created on first use) */
  constructor(root: string) {
    this.root = root;
  }

  get ready(): Promise<void> {
    this.made ??= Promise.all(
      ['objects', 'names', 'tmp'].map((d) =>
        mkdir(join(this.root, d), { recursive: true, mode: 0o700 }),
      ),
    ).then(
      () => undefined,
      (e: unknown) => {
        this.made = undefined;
        throw e;
      },
    );
    return this.made;
  }

  private namePath(name: string): string {
    return join(this.root, 'names', `${name}.json`);
  }

  /** Where the content of a file lies. */
  objectPath(info: Pick<FileInfo, 'sha256'>): string {
    return join(this.root, 'objects', info.sha256);
  }

  /** A file's information, or undefined. */
  async stat(name: string): Promise<FileInfo | undefined> {
    await this.ready;
    try {
      return JSON.parse(await readFile(this.namePath(fileNameOf(name)), 'utf8')) as FileInfo;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** Every file, by name. */
  async list(): Promise<FileInfo[]> {
    await this.ready;
    const out: FileInfo[] = [];
    for (const entry of (await readdir(join(this.root, 'names'))).sort()) {
      if (!entry.endsWith('.json')) continue;
      const info = await this.stat(entry.slice(0, -5)).catch(() => undefined);
      if (info) out.push(info);
    }
    return out;
  }

  /**
   * Store a file from a stream, replacing one of the same name. `expectedSha256` (hex), when
   * given, must match (`OTA_DIGEST_MISMATCH`); more than `maxBytes` is `OTA_TOO_LARGE`.
   *
   * @param name - the file name
   * @param body - the content
   * @param options - media type, expected digest and size limit
   */
  async put(
    name: string,
    body: AsyncIterable<Uint8Array>,
    options: {
      contentType?: string;
      expectedSha256?: string;
      maxBytes?: number;
      now?: number;
    } = {},
  ): Promise<FileInfo> {
    fileNameOf(name);
    const contentType = options.contentType ?? 'application/octet-stream';
    if (!MEDIA_TYPE.test(contentType) || contentType.length > 128)
      throw new ServerError('SERVER_BAD_REQUEST', 'content-type: not a media type');
    await this.ready;
    const tmp = join(this.root, 'tmp', randomUUID());
    const hash = createHash('sha256');
    let size = 0;
    const fh = await open(tmp, 'wx', 0o600);
    try {
      try {
        for await (const chunk of body) {
          size += chunk.length;
          if (options.maxBytes !== undefined && size > options.maxBytes) {
            throw new OtaError('OTA_TOO_LARGE', `the file exceeds ${options.maxBytes} bytes`);
          }
          hash.update(chunk);
          await fh.write(chunk);
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      const sha256 = hash.digest('hex');
      if (options.expectedSha256 !== undefined && options.expectedSha256.toLowerCase() !== sha256) {
        throw new OtaError(
          'OTA_DIGEST_MISMATCH',
          `the content's SHA-256 is ${sha256}, not the announced ${options.expectedSha256}`,
        );
      }
      const info: FileInfo = {
        name,
        size,
        sha256,
        contentType,
        storedAt: options.now ?? Date.now(),
      };
      await rename(tmp, this.objectPath(info));
      const previous = await this.stat(name);
      const nameTmp = `${tmp}.json`;
      await writeFile(nameTmp, JSON.stringify(info), { mode: 0o600 });
      await rename(nameTmp, this.namePath(name));
      if (previous && previous.sha256 !== sha256) await this.dropIfUnused(previous.sha256);
      return info;
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /** Remove a file; false when there was none. */
  async remove(name: string): Promise<boolean> {
    const info = await this.stat(name);
    if (!info) return false;
    await rm(this.namePath(name), { force: true });
    await this.dropIfUnused(info.sha256);
    return true;
  }

  /**
   * A stream of bytes `start..end` (inclusive) of a file's content, read from disk as it is
   * consumed. `OTA_UNKNOWN_FILE` when the content vanished.
   *
   * @param info - the file, as {@link FileStore.stat} gave it
   * @param start - first byte
   * @param end - last byte, inclusive
   */
  async open(info: FileInfo, start: number, end: number): Promise<ReadableStream<Uint8Array>> {
    const path = this.objectPath(info);
    // Checking first turns a vanished object into a clean 404 instead of a broken stream.
    await stat(path).catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        throw new OtaError('OTA_UNKNOWN_FILE', `file ${info.name} was replaced or removed; retry`);
      throw e;
    });
    if (info.size === 0 || end < start)
      return new ReadableStream({
        start: (c) => {
          c.close();
        },
      });
    // The stream opens the file itself and closes it when it ends or is cancelled.
    const stream = createReadStream(path, { start, end });
    return Readable.toWeb(stream) as ReadableStream<Uint8Array>;
  }

  private async dropIfUnused(sha256: string): Promise<void> {
    for (const info of await this.list()) if (info.sha256 === sha256) return;
    // Readers holding the object open keep reading it; only new readers miss it.
    await rm(join(this.root, 'objects', sha256), { force: true });
  }
}
