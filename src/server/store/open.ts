/**
 * Picks the registry database from a command line's `--db` and `--data`: PostgreSQL for a
 * `postgres://` URL, otherwise a SQLite file (`registry.sqlite` in the data folder by default).
 *
 * @module
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openSqlStore } from './sql-store.js';
import { openSqliteDriver, type SqliteOptions } from './sqlite.js';
import { isPostgresUrl, openPostgresDriver, type PostgresOptions } from './postgres.js';
import type { RegistryStore } from './store.js';

/**
 * Where the registry lives.
 *
 * @example
 * ```ts
 * import type { StoreLocation } from './open.js';
 * const at: StoreLocation = { dataDir: './simvault-data' };
 * const pg: StoreLocation = { dataDir: './simvault-data', db: 'postgres://postgres@127.0.0.1:5432/test', schema: 'simvault' };
 * ```
 */
export interface StoreLocation {
  /** The data folder; holds the SQLite file unless `db` says otherwise. */
  dataDir: string;
  /** A `postgres://` URL, or the path of a SQLite file. */
  db?: string;
  /** PostgreSQL schema (default `public`). */
  schema?: string;
  /** SQLite tuning. */
  sqlite?: SqliteOptions;
  /** PostgreSQL pool tuning. */
  postgres?: Omit<PostgresOptions, 'schema'>;
}

/**
 * The SQLite file a location resolves to, or `undefined` for PostgreSQL.
 *
 * @example
 * ```ts
 * import { sqlitePathOf } from './open.js';
 * sqlitePathOf({ dataDir: 'data' }); // 'data/registry.sqlite'
 * ```
 */
export function sqlitePathOf(at: StoreLocation): string | undefined {
  if (at.db !== undefined && isPostgresUrl(at.db)) return undefined;
  return at.db ?? join(at.dataDir, 'registry.sqlite');
}

/**
 * Open (and migrate) the registry store at a location.
 *
 * @example
 * ```ts
 * import { openStore } from './open.js';
 * const store = await openStore({ dataDir: './simvault-data' });
 * await store.close();
 * ```
 */
export async function openStore(at: StoreLocation): Promise<RegistryStore> {
  const file = sqlitePathOf(at);
  if (file === undefined) {
    return openSqlStore(
      await openPostgresDriver(at.db!, {
        ...at.postgres,
        ...(at.schema !== undefined ? { schema: at.schema } : {}),
      }),
    );
  }
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  return openSqlStore(openSqliteDriver(file, at.sqlite));
}
