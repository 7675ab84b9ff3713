/**
 * The OTA keysets at rest: every KIc and KID key in `ota_keysets` is sealed (see `../sealing.ts`)
 * for its row and column under the deployment's key-encryption key, whose identifier is recorded
 * in `ota_kek`. The table holds no other secret: counters, queued packets (already ciphered
 * for the SIM), sent messages and SIM settings are not keys.
 *
 * Every change of the KEK (the first one sealing keys stored in the clear by OTA schema 1, and a
 * rotation) happens in one transaction with the update of `ota_kek`, under the migration lock:
 * a crash at any point leaves the database wholly under the old KEK or wholly under the new one.
 *
 * @module
 */
import { fromHex, toHex } from '../../bytes.js';
import { ServerError } from '../errors.js';
import { sealSecret, unsealSecret, type Kek } from '../sealing.js';
import type { SqlDriver, SqlExecutor } from '../store/sql.js';

/**
 * A sealed column of `ota_keysets`.
 *
 * @example
 * ```ts
 * import type { KeysetColumn } from './keyset-sealing.js';
 * const c: KeysetColumn = 'kic';
 * ```
 */
export type KeysetColumn = 'kic' | 'kid';

/** Rows rewrapped per query, so a rotation's memory does not grow with the table. */
const BATCH = 500;

/**
 * The sealing context of one key: table, column, ICCID and key version.
 *
 * @example
 * ```ts
 * import { keysetContext } from './keyset-sealing.js';
 * keysetContext('89860012345678901234', 1, 'kic'); // ['ota_keysets', 'kic', '89860012345678901234', '1']
 * ```
 */
export function keysetContext(iccid: string, keyVersion: number, column: KeysetColumn): string[] {
  return ['ota_keysets', column, iccid, String(keyVersion)];
}

/**
 * Seal one key for its place in `ota_keysets`; resolves to the hex stored in the column.
 *
 * @example
 * ```ts
 * import { sealKeysetKey } from './keyset-sealing.js';
 * import { kekFromBytes } from '../sealing.js';
 * const stored = sealKeysetKey(kekFromBytes(new Uint8Array(32)), '89860012345678901234', 1, 'kic', new Uint8Array(16));
 * ```
 */
export function sealKeysetKey(
  kek: Kek,
  iccid: string,
  keyVersion: number,
  column: KeysetColumn,
  key: Uint8Array,
): string {
  return toHex(sealSecret(kek, keysetContext(iccid, keyVersion, column), key));
}

/**
 * Open the stored hex of one key of `ota_keysets`.
 *
 * @example
 * ```ts
 * import { sealKeysetKey, unsealKeysetKey } from './keyset-sealing.js';
 * import { kekFromBytes } from '../sealing.js';
 * const kek = kekFromBytes(new Uint8Array(32));
 * const stored = sealKeysetKey(kek, '89860012345678901234', 1, 'kid', new Uint8Array(16));
 * unsealKeysetKey(kek, '89860012345678901234', 1, 'kid', stored).length; // 16
 * ```
 */
export function unsealKeysetKey(
  kek: Kek,
  iccid: string,
  keyVersion: number,
  column: KeysetColumn,
  stored: string,
): Uint8Array {
  const context = keysetContext(iccid, keyVersion, column);
  if (!/^([0-9a-f]{2})+$/.test(stored))
    throw new ServerError('SERVER_SEALED_CORRUPT', `${context.join('/')}: not a sealed value`);
  return unsealSecret(kek, context, fromHex(stored));
}

interface KeysetKeys {
  iccid: string;
  key_version: number;
  kic: string;
  kid: string;
}

/** Rewrite every key of `ota_keysets` with `rewrite`, in batches; resolves to how many rows. */
async function rewriteKeys(
  tx: SqlExecutor,
  rewrite: (row: KeysetKeys, column: KeysetColumn) => string,
  onProgress?: (done: number, total: number) => void,
): Promise<number> {
  const total = (await tx.get<{ n: number }>('SELECT COUNT(*) AS n FROM ota_keysets'))?.n ?? 0;
  let done = 0;
  let last: [string, number] = ['', 0];
  for (;;) {
    const rows = await tx.all<KeysetKeys>(
      `SELECT iccid, key_version, kic, kid FROM ota_keysets
       WHERE iccid > ? OR (iccid = ? AND key_version > ?) ORDER BY iccid, key_version LIMIT ?`,
      [last[0], last[0], last[1], BATCH],
    );
    for (const row of rows) {
      await tx.run('UPDATE ota_keysets SET kic = ?, kid = ? WHERE iccid = ? AND key_version = ?', [
        rewrite(row, 'kic'),
        rewrite(row, 'kid'),
        row.iccid,
        row.key_version,
      ]);
    }
    done += rows.length;
    onProgress?.(done, total);
    const tail = rows.at(-1);
    if (tail === undefined || rows.length < BATCH) return done;
    last = [tail.iccid, tail.key_version];
  }
}

/**
 * After the keys were rewritten, have SQLite copy its write-ahead log into the database file and
 * empty it, so the pages that held the previous values (zeroed by `secure_delete`) are gone from
 * both files rather than waiting for the next automatic checkpoint.
 */
async function dropOldPages(db: SqlDriver): Promise<void> {
  if (db.kind === 'sqlite') await db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
}

async function currentKekId(tx: SqlExecutor, db: SqlDriver): Promise<string | undefined> {
  if (db.migrationLock !== undefined) await tx.get(db.migrationLock);
  return (await tx.get<{ kek_id: string }>('SELECT kek_id FROM ota_kek WHERE id = 1'))?.kek_id;
}

/**
 * Check that the OTA keys are sealed under one of `keks`, and resolve to it. A database that
 * has no KEK yet (a new one, or one whose keys OTA schema 1 stored in the clear) is sealed under
 * the first of `keks` in the same transaction; `sealed` says how many rows that sealed.
 * Any other KEK is `SERVER_KEK_MISMATCH`.
 *
 * @example
 * ```ts
 * import { adoptKek } from './keyset-sealing.js';
 * import { kekFromBytes } from '../sealing.js';
 * import { openSqliteDriver } from '../store/sqlite.js';
 * import { migrateOta } from './migrate.js';
 * const db = await openSqliteDriver(':memory:');
 * await migrateOta(db);
 * const { kek } = await adoptKek(db, [kekFromBytes(new Uint8Array(32))]);
 * ```
 */
export async function adoptKek(
  db: SqlDriver,
  keks: readonly Kek[],
): Promise<{ kek: Kek; sealed: number }> {
  const first = keks[0];
  if (first === undefined) throw new ServerError('SERVER_KEK_MISSING', 'no key-encryption key');
  const adopted = await db.transaction(async (tx) => {
    const id = await currentKekId(tx, db);
    if (id !== undefined) {
      const kek = keks.find((k) => k.id === id);
      if (kek === undefined)
        throw new ServerError(
          'SERVER_KEK_MISMATCH',
          `the OTA keys are sealed under KEK ${id}, not ${keks.map((k) => k.id).join(' or ')}`,
        );
      return { kek, sealed: 0 };
    }
    const sealed = await rewriteKeys(tx, (row, column) =>
      sealKeysetKey(first, row.iccid, row.key_version, column, fromHex(row[column])),
    );
    await tx.run('INSERT INTO ota_kek (id, kek_id, sealed_at) VALUES (1, ?, ?)', [
      first.id,
      Date.now(),
    ]);
    return { kek: first, sealed };
  });
  if (adopted.sealed > 0) await dropOldPages(db);
  return adopted;
}

/**
 * What a rotation did.
 *
 * @example
 * ```ts
 * import type { RotationResult } from './keyset-sealing.js';
 * const r: RotationResult = { rewrapped: 3, from: '0123456789abcdef', to: 'fedcba9876543210' };
 * ```
 */
export interface RotationResult {
  /** Rows of `ota_keysets` rewrapped (0 when the database already was under the new KEK). */
  rewrapped: number;
  /** The KEK identifier the keys were under (`null`: stored in the clear by OTA schema 1). */
  from: string | null;
  /** The KEK identifier they are under now. */
  to: string;
}

/**
 * Rewrap every OTA key from the KEK `from` to the KEK `to` in one transaction: committed whole,
 * or (on any failure, a throw from `onProgress`, or a crash) not at all. A database already
 * under `to` is left as it is, so an interrupted rotation can simply be run again; one under
 * neither is `SERVER_KEK_MISMATCH`. Run after `migrateOta`.
 *
 * @example
 * ```ts
 * import { rotateKek } from './keyset-sealing.js';
 * import { kekFromBytes } from '../sealing.js';
 * import { randomBytes } from '../../bytes.js';
 * import type { SqlDriver } from '../store/sql.js';
 * declare const db: SqlDriver;
 * await rotateKek(db, kekFromBytes(randomBytes(32)), kekFromBytes(randomBytes(32)));
 * ```
 */
export async function rotateKek(
  db: SqlDriver,
  from: Kek,
  to: Kek,
  options: { onProgress?: (done: number, total: number) => void } = {},
): Promise<RotationResult> {
  const result = await db.transaction(async (tx): Promise<RotationResult> => {
    const id = await currentKekId(tx, db);
    if (id === to.id) return { rewrapped: 0, from: id, to: to.id };
    if (id !== undefined && id !== from.id)
      throw new ServerError(
        'SERVER_KEK_MISMATCH',
        `the OTA keys are sealed under KEK ${id}, neither the old KEK ${from.id} nor the new ${to.id}`,
      );
    const rewrapped = await rewriteKeys(
      tx,
      (row, column) => {
        const key =
          id === undefined
            ? fromHex(row[column])
            : unsealKeysetKey(from, row.iccid, row.key_version, column, row[column]);
        return sealKeysetKey(to, row.iccid, row.key_version, column, key);
      },
      options.onProgress,
    );
    if (id === undefined)
      await tx.run('INSERT INTO ota_kek (id, kek_id, sealed_at) VALUES (1, ?, ?)', [
        to.id,
        Date.now(),
      ]);
    else
      await tx.run('UPDATE ota_kek SET kek_id = ?, sealed_at = ? WHERE id = 1', [
        to.id,
        Date.now(),
      ]);
    return { rewrapped, from: id ?? null, to: to.id };
  });
  if (result.rewrapped > 0) await dropOldPages(db);
  return result;
}
