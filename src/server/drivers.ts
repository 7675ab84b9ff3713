/**
 * The servers' optional packages. `better-sqlite3`, `pg`, `hono` and `@hono/node-server` are
 * optional peer dependencies of simvault, so a handset vendor that never runs a server installs
 * none of them (no native build). Each is imported the first time a server needs it; a missing
 * one is a {@link MissingDriverError} naming the package to install, not a bare module error.
 *
 * @module
 */
import type { Hono } from 'hono';
import type { HTTPException } from 'hono/http-exception';
import type { streamSSE } from 'hono/streaming';
import type BetterSqlite3 from 'better-sqlite3';
import type Pg from 'pg';
import type { serve } from '@hono/node-server';
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
  /** The SQLite registry (a native module, built by node-gyp where no prebuilt binary fits). */
  'better-sqlite3': '^12.11.1',
  /** The PostgreSQL registry. */
  pg: '^8.23.1',
  /** Both servers' HTTP apps. */
  hono: '^4.13.19',
  /** Both servers' listener on Node. */
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
   * Create the error for one missing package.
   *
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

/**
 * The parts of hono the servers build their apps from.
 *
 * @example
 * ```ts
 * import { loadDriver } from './drivers.js';
 * const { Hono } = await loadDriver('hono', 'an HTTP app');
 * const app = new Hono().get('/', (c) => c.text('hi'));
 * ```
 */
export interface HonoKit {
  /** The app class. */
  Hono: typeof Hono;
  /** The error class hono throws for client faults. */
  HTTPException: typeof HTTPException;
  /** Server-sent events. */
  streamSSE: typeof streamSSE;
}

/**
 * What each optional package resolves to once loaded.
 *
 * @example
 * ```ts
 * import type { DriverModules } from './drivers.js';
 * type Sqlite = DriverModules['better-sqlite3'];
 * ```
 */
export interface DriverModules {
  /** The SQLite database class. */
  'better-sqlite3': typeof BetterSqlite3;
  /** The PostgreSQL client. */
  pg: typeof Pg;
  /** The app framework. */
  hono: HonoKit;
  /** The Node HTTP adapter. */
  '@hono/node-server': { serve: typeof serve };
}

// Literal import() calls, one per package, so bundlers and tsup keep them as lazy imports of
// the package (never inlined into an entry that does not start a server).
const IMPORTS: { [K in ServerDriver]: () => Promise<DriverModules[K]> } = {
  // A CommonJS `export =` module: Node's ESM loader hands it over as the default export, which
  // its type declarations do not say.
  'better-sqlite3': async () =>
    ((await import('better-sqlite3')) as unknown as { default: typeof BetterSqlite3 }).default,
  pg: async () => (await import('pg')).default,
  hono: async () => {
    const [{ Hono }, { HTTPException }, { streamSSE }] = await Promise.all([
      import('hono'),
      import('hono/http-exception'),
      import('hono/streaming'),
    ]);
    return { Hono, HTTPException, streamSSE };
  },
  '@hono/node-server': async () => {
    const { serve } = await import('@hono/node-server');
    return { serve };
  },
};

/**
 * How a package is imported: the real `import()` unless a test simulates an environment where
 * it is missing.
 */
type Importer = <K extends ServerDriver>(
  name: K,
  real: () => Promise<DriverModules[K]>,
) => Promise<DriverModules[K]>;

let importer: Importer = (_name, real) => real();

/**
 * Replace how optional packages are imported (tests simulate a missing package with it, without
 * touching node_modules); `undefined` restores the real `import()`.
 *
 * @internal
 */
export function setDriverImporter(replacement: Importer | undefined): void {
  importer = replacement ?? ((_name, real) => real());
}

/**
 * Load one optional server package, turning "not installed" into a {@link MissingDriverError}
 * that names it. Modules are cached by the runtime, so calling this on every start is cheap.
 *
 * @param name - the package
 * @param purpose - what needs it, for the message (e.g. `a SQLite registry`)
 *
 * @example
 * ```ts
 * import { loadDriver } from './drivers.js';
 * const Database = await loadDriver('better-sqlite3', 'a SQLite registry');
 * const db = new Database(':memory:');
 * ```
 */
export async function loadDriver<K extends ServerDriver>(
  name: K,
  purpose: string,
): Promise<DriverModules[K]> {
  try {
    return await importer(name, IMPORTS[name]);
  } catch (e) {
    if (isMissing(e, name)) throw new MissingDriverError(name, purpose, e);
    throw e;
  }
}

function isMissing(e: unknown, name: string): boolean {
  const err = e as { code?: unknown; message?: unknown } | null;
  if (err === null || typeof err !== 'object') return false;
  if (err.code !== 'ERR_MODULE_NOT_FOUND' && err.code !== 'MODULE_NOT_FOUND') return false;
  // Only the package itself (or a subpath of it, as require() names it): a missing file inside
  // an installed package is another fault.
  return (
    typeof err.message === 'string' &&
    (err.message.includes(`'${name}'`) || err.message.includes(`'${name}/`))
  );
}
