/**
 * Picks the registry database from a command line's `--db` and `--data`: PostgreSQL for a
 * `postgres://` (or `postgresql://`) URL, otherwise a SQLite file (`registry.sqlite` in the data
 * folder by default). Anything else that looks like a URL is refused, as is a SQLite file whose
 * folder does not exist: a typo must not silently become a new empty database somewhere.
 *
 * The data folder is created (one level, mode 0700) when the default SQLite file lives in it;
 * the SQLite file is created mode 0600 (SQLite gives its `-wal` and `-shm` files the same mode).
 * The database drivers are loaded only when a database of their kind is opened.
 *
 * @module
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ArgumentError } from '../../errors.js';
import { openSqlStore } from './sql-store.js';
import type { SqlDriver } from './sql.js';
import { openSqliteDriver, type SqliteOptions } from './sqlite.js';
import { openPostgresDriver, type PostgresOptions } from './postgres.js';
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
  /** A `postgres://` URL, or the path of a SQLite file (its folder must exist). */
  db?: string;
  /** PostgreSQL schema (default `public`). */
  schema?: string;
  /** SQLite tuning. */
  sqlite?: SqliteOptions;
  /** PostgreSQL pool tuning. */
  postgres?: Omit<PostgresOptions, 'schema'>;
  /**
   * The key-encryption key that seals the OTA server's keys (32 bytes), or its key file. Default:
   * `SIMVAULT_KEK`, else for SQLite `kek` in the data folder (created); PostgreSQL needs one.
   */
  kek?:
    | Uint8Array
    | {
        /** The key file: 64 hex digits, base64 or 32 raw bytes; a missing one is `SERVER_KEK_MISSING`. */
        file: string;
      };
}

/**
 * A location resolved to one database: a PostgreSQL URL (scheme in lower case) or a SQLite file.
 *
 * @example
 * ```ts
 * import type { ResolvedDatabase } from './open.js';
 * const d: ResolvedDatabase = { kind: 'sqlite', file: 'simvault-data/registry.sqlite' };
 * ```
 */
export type ResolvedDatabase =
  | {
      /** PostgreSQL. */ kind: 'postgres';
      /** The connection URL. */ url: string;
    }
  | {
      /** SQLite. */ kind: 'sqlite';
      /** The database file, or `:memory:`. */ file: string;
    };

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]+):/;

/**
 * Resolve where the registry lives, refusing an unknown URL scheme (`mysql://…`), a malformed
 * PostgreSQL URL (`postgres:/…`) and a SQLite file in a folder that does not exist, each with an
 * {@link ArgumentError} saying what was wrong. The default SQLite file's data folder need not
 * exist yet (it is created when the store opens) but its parent must.
 *
 * @example
 * ```ts
 * import { resolveDatabase } from './open.js';
 * resolveDatabase({ dataDir: 'data', db: 'PostgreSQL://db.example/reg' }); // { kind: 'postgres', url: 'postgresql://db.example/reg' }
 * resolveDatabase({ dataDir: 'data' }); // { kind: 'sqlite', file: 'data/registry.sqlite' }
 * ```
 */
export function resolveDatabase(at: StoreLocation): ResolvedDatabase {
  const db = at.db;
  if (db === undefined) {
    const parent = dirname(at.dataDir);
    if (!existsSync(at.dataDir) && !existsSync(parent))
      throw new ArgumentError(
        `data folder ${at.dataDir}: its parent folder ${parent} does not exist`,
      );
    return { kind: 'sqlite', file: join(at.dataDir, 'registry.sqlite') };
  }
  if (db === ':memory:') return { kind: 'sqlite', file: db };
  const scheme = SCHEME.exec(db)?.[1];
  if (scheme !== undefined) {
    const lower = scheme.toLowerCase();
    if (lower !== 'postgres' && lower !== 'postgresql')
      throw new ArgumentError(
        `--db: unknown database URL scheme '${scheme}:'; give postgres://user@host:port/database or the path of a SQLite file`,
      );
    const url = `${lower}${db.slice(scheme.length)}`;
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!url.startsWith(`${lower}://`) || parsed === undefined || parsed.host === '')
      throw new ArgumentError(
        `--db: '${db}' is not a PostgreSQL URL; expected postgres://user@host:port/database`,
      );
    return { kind: 'postgres', url };
  }
  const folder = dirname(db);
  if (!existsSync(folder))
    throw new ArgumentError(`--db: the folder ${folder} of the SQLite file does not exist`);
  if (!statSync(folder).isDirectory()) throw new ArgumentError(`--db: ${folder} is not a folder`);
  return { kind: 'sqlite', file: db };
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
  const d = resolveDatabase(at);
  return d.kind === 'sqlite' ? d.file : undefined;
}

/**
 * Create a data folder (one level, mode 0700) unless it exists; its parent must exist.
 *
 * @example
 * ```ts
 * import { prepareDataDir } from './open.js';
 * prepareDataDir('./simvault-data');
 * ```
 */
export function prepareDataDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && statSync(dir).isDirectory()) return;
    if (code === 'ENOENT')
      throw new ArgumentError(
        `data folder ${dir}: its parent folder ${dirname(dir)} does not exist`,
      );
    if (code === 'EEXIST') throw new ArgumentError(`data folder ${dir}: not a folder`);
    throw e;
  }
}

/** Create the SQLite file mode 0600 (or tighten one readable by others) before SQLite opens it. */
function privateFile(file: string): void {
  closeSync(openSync(file, 'a', 0o600));
  const mode = statSync(file).mode;
  if ((mode & 0o077) !== 0) {
    try {
      chmodSync(file, mode & 0o700);
    } catch {
      // Not ours to change (another owner): SQLite still opens it; the keys in it are sealed.
    }
  }
}

/**
 * Open a driver for a location: create the data folder and the SQLite file privately, or
 * connect to PostgreSQL, loading the driver package on first use.
 *
 * @example
 * ```ts
 * import { openDriver } from './open.js';
 * const db = await openDriver({ dataDir: './simvault-data' });
 * await db.close();
 * ```
 */
export async function openDriver(at: StoreLocation): Promise<SqlDriver> {
  const resolved = resolveDatabase(at);
  if (resolved.kind === 'postgres') {
    return openPostgresDriver(resolved.url, {
      ...at.postgres,
      ...(at.schema !== undefined ? { schema: at.schema } : {}),
    });
  }
  if (resolved.file !== ':memory:') {
    if (at.db === undefined) prepareDataDir(at.dataDir);
    privateFile(resolved.file);
  }
  return openSqliteDriver(resolved.file, at.sqlite);
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
  return openSqlStore(await openDriver(at));
}
