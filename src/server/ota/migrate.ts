/**
 * Brings a database to the current OTA schema. Same discipline as the registry's migrations, with
 * its own record table (`ota_migrations`) so the two table sets version independently in one
 * database: each migration in its own transaction with its record, behind the driver's migration
 * lock so several processes starting at once queue instead of racing.
 *
 * @module
 */
import { ServerError } from '../errors.js';
import type { Migration } from '../store/schema.js';
import type { SqlDriver } from '../store/sql.js';
import { OTA_MIGRATIONS } from './schema.js';

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS ota_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`;

/**
 * Apply the pending OTA migrations; resolves to the OTA schema version reached. Refuses a
 * database whose OTA schema is newer than this code knows.
 *
 * @example
 * ```ts
 * import { migrateOta } from './migrate.js';
 * import { openSqliteDriver } from '../store/sqlite.js';
 * const db = openSqliteDriver(':memory:');
 * await migrateOta(db); // 1
 * ```
 */
export async function migrateOta(
  db: SqlDriver,
  migrations: readonly Migration[] = OTA_MIGRATIONS,
): Promise<number> {
  const latest = migrations.at(-1)?.version ?? 0;
  for (;;) {
    const step = await db.transaction(async (tx) => {
      if (db.migrationLock !== undefined) await tx.get(db.migrationLock);
      await tx.exec(CREATE_TABLE);
      const row = await tx.get<{ v: number | null }>(
        'SELECT MAX(version) AS v FROM ota_migrations',
      );
      const current = row?.v ?? 0;
      if (current > latest) {
        throw new ServerError(
          'SERVER_INTERNAL',
          `the OTA schema is version ${current}, newer than this server (${latest})`,
        );
      }
      const next = migrations.find((m) => m.version === current + 1);
      if (next === undefined) return { version: current, done: true };
      await tx.exec(next.sql);
      await tx.run('INSERT INTO ota_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
        next.version,
        next.name,
        Date.now(),
      ]);
      return { version: next.version, done: next.version === latest };
    });
    if (step.done) return step.version;
  }
}
