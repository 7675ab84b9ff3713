/**
 * `simvault server rotate-kek` as a function: find the old KEK the way a server would, get the
 * new one, rewrap every OTA key in one transaction, and, for the data folder's default KEK file,
 * replace that file.
 *
 * The default file is replaced in three steps, each safe to interrupt: the new KEK is written to
 * `kek.next` (synced), the database is rewrapped under it (one commit), and `kek.next` is renamed
 * over `kek`. A crash after the commit leaves both files; the next server start or rotation sees
 * the database is under `kek.next` and finishes the rename. A crash before it leaves the database
 * under `kek`, and the next rotation reuses `kek.next`.
 *
 * @module
 */
import { ArgumentError } from '../../errors.js';
import { ServerError } from '../errors.js';
import { loadOrCreateKekFile, NEXT_KEK_SUFFIX, promoteKekFile, resolveKek } from '../kek-file.js';
import { kekFromBytes, type Kek } from '../sealing.js';
import { openDriver, type StoreLocation } from '../store/open.js';
import { rotateKek, type RotationResult } from './keyset-sealing.js';
import { migrateOta } from './migrate.js';

/**
 * Options of {@link rotateOtaKek}.
 *
 * @example
 * ```ts
 * import type { KekRotationOptions } from './kek-rotation.js';
 * const o: KekRotationOptions = { next: { file: '/run/secrets/kek-2026' } };
 * ```
 */
export interface KekRotationOptions {
  /**
   * The new KEK: 32 bytes, or a key file (created with a fresh key when it does not exist).
   * Required unless the old KEK is the data folder's default file, which then gets a fresh one.
   */
  next?:
    | Uint8Array
    | {
        /** The new key file (created, mode 0600, with a fresh key when it does not exist). */
        file: string;
      };
  /** Where `SIMVAULT_KEK` is looked up (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Called after each batch of rewrapped rows; a throw aborts the rotation, changing nothing. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * What {@link rotateOtaKek} did.
 *
 * @example
 * ```ts
 * import type { KekRotation } from './kek-rotation.js';
 * const say = (r: KekRotation) => `${r.rewrapped} keysets now under ${r.to} (${r.source})`;
 * ```
 */
export interface KekRotation extends RotationResult {
  /** Where the new KEK is: its file, or `option`. */
  source: string;
}

/**
 * Rewrap the OTA keys of a location under a new KEK. Stop the servers first (a running server
 * keeps the old KEK and answers `SERVER_KEK_MISMATCH` for the SIMs it reads after the rotation),
 * and restart them with the new KEK.
 *
 * @example
 * ```ts
 * import { rotateOtaKek } from './kek-rotation.js';
 * const r = await rotateOtaKek({ dataDir: './simvault-data' });
 * console.log(`${r.rewrapped} keysets from ${r.from} to ${r.to}`);
 * ```
 */
export async function rotateOtaKek(
  at: StoreLocation,
  options: KekRotationOptions = {},
): Promise<KekRotation> {
  const old = await resolveKek(at, options.env);
  let next: { kek: Kek; source: string; promote?: () => Promise<void> };
  if (options.next instanceof Uint8Array) {
    next = { kek: kekFromBytes(options.next), source: 'option' };
  } else if (options.next !== undefined) {
    const file = options.next.file;
    next = { kek: kekFromBytes(await loadOrCreateKekFile(file)), source: file };
  } else if (old.defaultFile !== undefined) {
    const file = `${old.defaultFile}${NEXT_KEK_SUFFIX}`;
    const target = old.defaultFile;
    next = old.next ?? { kek: kekFromBytes(await loadOrCreateKekFile(file)), source: file };
    next.promote = () => promoteKekFile(file, target);
  } else {
    throw new ServerError(
      'SERVER_KEK_MISSING',
      `the old KEK comes from ${old.source}: name the new one (--new-kek-file FILE)`,
    );
  }
  if (next.kek.id === old.kek.id)
    throw new ArgumentError(`the new KEK is the old one (${old.kek.id})`);
  const db = await openDriver(at);
  let result: RotationResult;
  try {
    await migrateOta(db);
    result = await rotateKek(db, old.kek, next.kek, {
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
  } finally {
    await db.close();
  }
  await next.promote?.();
  return { ...result, source: next.promote ? (old.defaultFile ?? next.source) : next.source };
}
