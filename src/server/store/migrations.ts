/**
 * Brings a database to the current schema: creates the migrations table, then applies every
 * migration not yet recorded there, each in its own transaction with its record. Idempotent and
 * safe when several processes start at once (they queue on the migration lock).
 *
 * @module
 */
import { ServerError } from '../errors.js';
import { MIGRATIONS, type Migration } from './schema.js';
import type { SqlDriver } from './sql.js';

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS simvault_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`;

/**
 * Apply the pending migrations; resolves to the schema version reached. Refuses a database whose
 * schema is newer than this code knows.
 *
 * @example
 * ```ts
 * import { migrate } from './migrations.js';
 * import { openSqliteDriver } from './sqlite.js';
 * const db = openSqliteDriver(':memory:');
 * await migrate(db); // 2
 * ```
 */
export async function migrate(
  db: SqlDriver,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number> {
  const latest = migrations.at(-1)?.version ?? 0;
  let version = 0;
  for (;;) {
    const applied = await db.transaction(async (tx) => {
      if (db.migrationLock !== undefined) await tx.get(db.migrationLock);
      await tx.exec(CREATE_TABLE);
      const row = await tx.get<{ v: number | null }>(
        'SELECT MAX(version) AS v FROM simvault_migrations',
      );
      const current = row?.v ?? 0;
      if (current > latest) {
        throw new ServerError(
          'SERVER_INTERNAL',
          `the database schema is version ${current}, newer than this server (${latest})`,
        );
      }
      const next = migrations.find((m) => m.version === current + 1);
      if (next === undefined) return current;
      await tx.exec(next.sql);
      await tx.run('INSERT INTO simvault_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
        next.version,
        next.name,
        Date.now(),
      ]);
      return next.version;
    });
    if (applied === version || applied === latest) return applied;
    version = applied;
  }
}
