/**
 * Where a deployment's key-encryption key (KEK) comes from, never the database: the location's
 * `kek` (bytes, or `--kek-file FILE`), else the `SIMVAULT_KEK` environment variable (64 hex digits
 * or base64), else, for a SQLite registry only, the file `kek` in the data folder, created (mode
 * 0600) on first use. PostgreSQL has no default: its processes may run on several machines and
 * must all be given the same KEK, so a missing one is `SERVER_KEK_MISSING`.
 *
 * The default file has a successor during `simvault server rotate-kek`: `kek.next`, written
 * before the database is rewrapped and renamed over `kek` after. A crash between the two leaves
 * both files; whoever opens the database next sees which one it is sealed under and finishes the
 * rename.
 *
 * @module
 */
import { link, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from '../bytes.js';
import { ServerError } from './errors.js';
import { KEK_LENGTH, kekFromBytes, parseKekText, type Kek } from './sealing.js';
import { prepareDataDir, resolveDatabase, type StoreLocation } from './store/open.js';

/** The environment variable holding a KEK: 64 hex digits or the base64 of 32 bytes. */
export const KEK_ENV = 'SIMVAULT_KEK';
/** The default KEK file's name in the data folder (SQLite registries). */
export const DEFAULT_KEK_FILE = 'kek';
/** Suffix of the default KEK file's successor while a rotation is under way. */
export const NEXT_KEK_SUFFIX = '.next';

/**
 * Read a KEK file: 64 hex digits or base64 text (white space around it allowed), or 32 raw
 * bytes. A missing file is `SERVER_KEK_MISSING`.
 *
 * @example
 * ```ts
 * import { readKekFile } from './kek-file.js';
 * const bytes = await readKekFile('/run/secrets/simvault-kek');
 * ```
 */
export async function readKekFile(path: string): Promise<Uint8Array> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new ServerError('SERVER_KEK_MISSING', `key-encryption key file ${path} does not exist`);
    throw e;
  }
  const text = raw.toString('latin1');
  if (raw.length === KEK_LENGTH && !/^[\s0-9A-Za-z+/=]*$/.test(text)) return new Uint8Array(raw);
  return parseKekText(text, `key-encryption key file ${path}`);
}

async function syncFolder(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Create a KEK file holding `bytes` (fresh random ones by default) as hex, mode 0600, atomically
 * and never over an existing file: the key is written and synced beside the target, then linked
 * into place. Resolves to the key the file holds, which is the existing one if another process
 * created it first.
 *
 * @example
 * ```ts
 * import { createKekFile } from './kek-file.js';
 * const bytes = await createKekFile('./simvault-data/kek');
 * ```
 */
export async function createKekFile(
  path: string,
  bytes: Uint8Array = randomBytes(KEK_LENGTH),
): Promise<Uint8Array> {
  const temp = `${path}.${Buffer.from(randomBytes(4)).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    try {
      await handle.writeFile(`${Buffer.from(bytes).toString('hex')}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temp, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return await readKekFile(path);
      throw e;
    }
  } finally {
    await unlink(temp);
  }
  await syncFolder(dirname(path));
  return bytes;
}

/**
 * Read a KEK file, creating it with a fresh key when it does not exist.
 *
 * @example
 * ```ts
 * import { loadOrCreateKekFile } from './kek-file.js';
 * const bytes = await loadOrCreateKekFile('./simvault-data/kek');
 * ```
 */
export async function loadOrCreateKekFile(path: string): Promise<Uint8Array> {
  try {
    return await readKekFile(path);
  } catch (e) {
    if (!(e instanceof ServerError && e.code === 'SERVER_KEK_MISSING')) throw e;
  }
  return createKekFile(path);
}

/**
 * Rename a KEK file over another (the default file's successor over it) and sync the folder, so
 * the rename survives a power cut. A successor already gone (renamed by another process) is fine.
 *
 * @example
 * ```ts
 * import { promoteKekFile } from './kek-file.js';
 * await promoteKekFile('./simvault-data/kek.next', './simvault-data/kek');
 * ```
 */
export async function promoteKekFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await syncFolder(dirname(to));
}

/**
 * The KEK of a location, with where it came from, and the default file's successor when a
 * rotation left one (`promote` renames it over the default file).
 *
 * @example
 * ```ts
 * import type { ResolvedKek } from './kek-file.js';
 * const describe = (r: ResolvedKek) => `${r.kek.id} from ${r.source}`;
 * ```
 */
export interface ResolvedKek {
  /** The KEK. */
  kek: Kek;
  /** Where it came from: a file path, `SIMVAULT_KEK`, `option` or `ephemeral` (in-memory SQLite). */
  source: string;
  /** The default file's successor left by an unfinished rotation. */
  next?: { kek: Kek; source: string; promote(): Promise<void> };
  /** The default KEK file (SQLite without an explicit KEK), which a rotation replaces. */
  defaultFile?: string;
}

/**
 * Find the KEK of a location: its `kek`, else `SIMVAULT_KEK` in `env`, else (SQLite) the data
 * folder's `kek` file, created if absent. PostgreSQL without a KEK is `SERVER_KEK_MISSING`.
 *
 * @example
 * ```ts
 * import { resolveKek } from './kek-file.js';
 * const { kek, source } = await resolveKek({ dataDir: './simvault-data' });
 * ```
 */
export async function resolveKek(
  at: StoreLocation,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<ResolvedKek> {
  const given = at.kek;
  if (given instanceof Uint8Array) return { kek: kekFromBytes(given), source: 'option' };
  if (given !== undefined)
    return { kek: kekFromBytes(await readKekFile(given.file)), source: given.file };
  const text = env[KEK_ENV];
  if (text !== undefined && text !== '')
    return { kek: kekFromBytes(parseKekText(text, KEK_ENV)), source: KEK_ENV };
  const database = resolveDatabase(at);
  if (database.kind === 'postgres')
    throw new ServerError(
      'SERVER_KEK_MISSING',
      `a PostgreSQL registry needs its key-encryption key given, the same to every process: --kek-file FILE or ${KEK_ENV}`,
    );
  if (database.file === ':memory:')
    return { kek: kekFromBytes(randomBytes(KEK_LENGTH)), source: 'ephemeral' };
  prepareDataDir(at.dataDir);
  const path = join(at.dataDir, DEFAULT_KEK_FILE);
  const resolved: ResolvedKek = {
    kek: kekFromBytes(await loadOrCreateKekFile(path)),
    source: path,
    defaultFile: path,
  };
  const nextPath = `${path}${NEXT_KEK_SUFFIX}`;
  try {
    const next = kekFromBytes(await readKekFile(nextPath));
    resolved.next = { kek: next, source: nextPath, promote: () => promoteKekFile(nextPath, path) };
  } catch (e) {
    if (!(e instanceof ServerError && e.code === 'SERVER_KEK_MISSING')) throw e;
  }
  return resolved;
}
