/**
 * The servers' optional packages. `better-sqlite3`, `pg`, `hono` and `@hono/node-server` are
 * optional peer dependencies of simvault, so a handset vendor that never runs a server installs
 * none of them (no native build). Each is imported the first time a server needs it; a missing
 * one is a {@link MissingDriverError} naming the package to install, not a bare module error.
 *
 * @module
 */
import { ServerError } from './errors.js';

/**
 * The optional packages the servers load, with the version range simvault is tested against.
 *
 * @example
 * ```ts
 * import { SERVER_DRIVERS } from './drivers.js';
 * SERVER_DRIVERS.pg; // '^8.23.1'
 * ```
 */
export const SERVER_DRIVERS = {
  'better-sqlite3': '^12.11.1',
  pg: '^8.23.1',
  hono: '^4.13.19',
  '@hono/node-server': '^1.19.19',
} as const;

/**
 * The name of an optional server package.
 *
 * @example
 * ```ts
 * import type { ServerDriver } from './drivers.js';
 * const d: ServerDriver = 'better-sqlite3';
 * ```
 */
export type ServerDriver = keyof typeof SERVER_DRIVERS;

/**
 * A server was asked to start (or to open a database) without one of its optional packages.
 * The message says what to install.
 *
 * @example
 * ```ts
 * import { MissingDriverError } from './drivers.js';
 * const e = new MissingDriverError('pg', 'a PostgreSQL registry');
 * e.packageName; // 'pg'
 * e.code; // 'SERVER_DRIVER_MISSING'
 * ```
 */
export class MissingDriverError extends ServerError {
  /** The npm package to install. */
  readonly packageName: ServerDriver;

  /**
   * @param packageName - the missing package
   * @param purpose - what needed it, for the message
   * @param cause - the module loader's error
   */
  constructor(packageName: ServerDriver, purpose: string, cause?: unknown) {
    super(
      'SERVER_DRIVER_MISSING',
      `${purpose} needs the package ${packageName}, which is not installed: npm install ${packageName}@'${SERVER_DRIVERS[packageName]}'`,
      cause === undefined ? {} : { cause },
    );
    this.packageName = packageName;
  }
}

function isMissing(e: unknown, name: string): boolean {
  const err = e as { code?: unknown; message?: unknown } | null;
  if (err === null || typeof err !== 'object') return false;
  if (err.code !== 'ERR_MODULE_NOT_FOUND' && err.code !== 'MODULE_NOT_FOUND') return false;
  // Only the package itself: a missing file inside an installed package is another fault.
  return typeof err.message === 'string' && err.message.includes(`'${name}'`);
}

/**
 * Load an optional server package through `load` (a literal `import()` of it, so bundlers see
 * it), turning "not installed" into a {@link MissingDriverError}.
 *
 * @param name - the package
 * @param purpose - what needs it, e.g. `the SQLite registry`
 * @param load - `() => import('<name>')`
 *
 * @example
 * ```ts
 * import { importDriver } from './drivers.js';
 * const pg = await importDriver('pg', 'a PostgreSQL registry', () => import('pg'));
 * ```
 */
export async function importDriver<T>(
  name: ServerDriver,
  purpose: string,
  load: () => Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (e) {
    if (isMissing(e, name)) throw new MissingDriverError(name, purpose, e);
    throw e;
  }
}
