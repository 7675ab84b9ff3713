/**
 * The small SQL surface the registry needs from a database, so one store implementation and one
 * schema serve both SQLite and PostgreSQL. Statements are written once with `?` placeholders in
 * the SQL both databases share (`ON CONFLICT`, `RETURNING`, `BIGINT`); each driver adapts the
 * placeholders and the value types.
 *
 * @module
 */

/**
 * A parameter value: every column of the schema is text or an integer.
 *
 * @example
 * ```ts
 * import type { SqlValue } from './sql.js';
 * const params: SqlValue[] = ['03534453', 1, null];
 * ```
 */
export type SqlValue = string | number | null;

/**
 * Runs statements on one connection (or one transaction).
 *
 * @example
 * ```ts
 * import type { SqlExecutor } from './sql.js';
 * async function count(db: SqlExecutor): Promise<number> {
 *   const row = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM cards');
 *   return row?.n ?? 0;
 * }
 * ```
 */
export interface SqlExecutor {
  /** Every row of a query. */
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** The first row of a query, or `undefined`. */
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** Run a statement; resolves to the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /** Run several `;`-separated statements without parameters (schema changes). */
  exec(sql: string): Promise<void>;
}

/**
 * A database connection (pool) with transactions.
 *
 * @example
 * ```ts
 * import type { SqlDriver } from './sql.js';
 * async function move(db: SqlDriver): Promise<void> {
 *   await db.transaction(async (tx) => {
 *     await tx.run("UPDATE cards SET state = 'active' WHERE cid = ?", ['0353']);
 *   });
 * }
 * ```
 */
export interface SqlDriver extends SqlExecutor {
  /** Which database this is. */
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Run `fn` in one write transaction: committed when it resolves, rolled back when it throws.
   * Statements inside must use the `tx` executor.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /**
   * A statement that, run first in a transaction, keeps every other process out of the schema
   * migration until that transaction ends (SQLite's write transaction already does).
   */
  readonly migrationLock: string | undefined;
  /**
   * Notifications between the processes sharing the database (PostgreSQL `LISTEN/NOTIFY`),
   * scoped to the driver's schema; undefined where there is no other process to tell (SQLite).
   */
  readonly notifications?: SqlNotifications;
  /** Release the connection(s). */
  close(): Promise<void>;
}

/**
 * Tell the other processes on the database that something happened, after it committed.
 *
 * @example
 * ```ts
 * import type { SqlDriver } from './sql.js';
 * async function queued(db: SqlDriver, iccid: string): Promise<void> {
 *   await db.transaction(async (tx) => {
 *     await tx.run('UPDATE ota_sims SET mt_seq = mt_seq + 1 WHERE iccid = ?', [iccid]);
 *     await db.notifications?.notify(tx, 'simvault_mt', iccid);
 *   });
 * }
 * ```
 */
export interface SqlNotifications {
  /**
   * Within the transaction of `tx`: send `payload` on `channel`. Listeners hear it only once the
   * transaction commits, and not at all when it rolls back.
   */
  notify(tx: SqlExecutor, channel: string, payload: string): Promise<void>;
  /**
   * Hold a connection of its own listening on `channel`; resolves once it listens. A lost
   * connection is reopened with growing delays; notifications sent meanwhile are lost, so
   * `onReconnect` is called once it listens again.
   */
  listen(
    channel: string,
    onPayload: (payload: string) => void,
    events?: {
      /** Listening again after a lost connection. */
      onReconnect?: () => void;
      /** The connection was lost, or a reconnection failed. */
      onError?: (error: unknown) => void;
    },
  ): Promise<SqlListener>;
}

/**
 * A listening connection.
 *
 * @example
 * ```ts
 * import type { SqlListener } from './sql.js';
 * async function stop(l: SqlListener) {
 *   await l.close();
 * }
 * ```
 */
export interface SqlListener {
  /** Stop listening and close the connection (no more reconnections). */
  close(): Promise<void>;
}

/**
 * `count` rows of `columns` placeholders each, for a multi-row `INSERT ... VALUES`.
 *
 * @example
 * ```ts
 * import { valuesPlaceholders } from './sql.js';
 * valuesPlaceholders(2, 3); // '(?,?,?),(?,?,?)'
 * ```
 */
export function valuesPlaceholders(count: number, columns: number): string {
  const one = `(${new Array<string>(columns).fill('?').join(',')})`;
  return new Array<string>(count).fill(one).join(',');
}
