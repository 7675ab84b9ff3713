// The servers' optional packages: each is loaded when a server starts or a store opens, and a
// missing one is a MissingDriverError naming it. The missing package is simulated through the
// loader seam (the import fails as Node's does), never by touching node_modules; the packed
// tarball is checked without them by scripts/check-light-install.mjs.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MissingDriverError,
  SERVER_DRIVERS,
  loadDriver,
  setDriverImporter,
  type ServerDriver,
} from '../../src/server/drivers.js';
import { startCardAppServer } from '../../src/server/card-app/start.js';
import { startOtaServer } from '../../src/server/ota/start.js';
import { openStore } from '../../src/server/store/open.js';
import { OPERATOR_KEY, OTA_KEY } from './fixtures.js';
import { PG_URL } from './stores.js';

/** The error Node's ESM loader throws for a package that is not installed. */
function notInstalled(name: string): Error {
  return Object.assign(
    new Error(`Cannot find package '${name}' imported from /app/node_modules/simvault/dist/x.js`),
    { code: 'ERR_MODULE_NOT_FOUND' },
  );
}

/** Imports behave as if `missing` were not installed; the others load for real. */
function without(...missing: ServerDriver[]): void {
  setDriverImporter((name, real) =>
    missing.includes(name) ? Promise.reject(notInstalled(name)) : real(),
  );
}

const dirs: string[] = [];
function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'simvault-drivers-'));
  dirs.push(d);
  return d;
}

afterEach(() => {
  setDriverImporter(undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function refusal(p: Promise<unknown>): Promise<MissingDriverError> {
  const e: unknown = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(MissingDriverError);
  return e as MissingDriverError;
}

describe('optional server packages', () => {
  it('a SQLite registry without better-sqlite3 names the package and the command to install it', async () => {
    without('better-sqlite3');
    const e = await refusal(
      startCardAppServer({ store: { dataDir: dataDir() }, keys: [OTA_KEY], port: 0 }),
    );
    expect(e.code).toBe('SERVER_DRIVER_MISSING');
    expect(e.packageName).toBe('better-sqlite3');
    expect(e.message).toContain(`npm install better-sqlite3@'${SERVER_DRIVERS['better-sqlite3']}'`);
    expect((e.cause as Error).message).toContain("Cannot find package 'better-sqlite3'");
  });

  it('a PostgreSQL registry without pg names pg before any connection is tried', async () => {
    without('pg');
    const e = await refusal(
      openStore({ dataDir: dataDir(), db: 'postgres://nobody@127.0.0.1:1/none' }),
    );
    expect(e.packageName).toBe('pg');
    expect(e.message).toMatch(/^a PostgreSQL registry needs the package pg/);
  });

  it('a server without hono names hono and leaves no store open behind it', async () => {
    without('hono');
    const dir = dataDir();
    const e = await refusal(startCardAppServer({ store: { dataDir: dir }, keys: [OTA_KEY] }));
    expect(e.packageName).toBe('hono');
    expect(e.message).toContain('the card application server needs the package hono');
    // The registry the failed start opened was closed: a second start on it works.
    setDriverImporter(undefined);
    const server = await startCardAppServer({ store: { dataDir: dir }, keys: [OTA_KEY] });
    await server.close();
  });

  it('the OTA server without @hono/node-server names it', async () => {
    without('@hono/node-server');
    const e = await refusal(
      startOtaServer({
        store: { dataDir: dataDir() },
        keys: [OTA_KEY, OPERATOR_KEY],
        cardAppUrl: 'http://127.0.0.1:1',
      }),
    );
    expect(e.packageName).toBe('@hono/node-server');
  });

  it('a require() of a missing subpath counts as the package missing (the CJS build)', async () => {
    setDriverImporter(() =>
      Promise.reject(
        Object.assign(new Error("Cannot find module 'hono/body-limit'\nRequire stack: ..."), {
          code: 'MODULE_NOT_FOUND',
        }),
      ),
    );
    expect((await refusal(loadDriver('hono', 'an app'))).packageName).toBe('hono');
  });

  it('other load failures pass through unchanged', async () => {
    const broken = Object.assign(
      new Error("Cannot find module '/app/node_modules/pg/lib/missing.js' imported from ..."),
      { code: 'ERR_MODULE_NOT_FOUND' },
    );
    setDriverImporter(() => Promise.reject(broken));
    await expect(loadDriver('pg', 'a PostgreSQL registry')).rejects.toBe(broken);
    const native = new Error('The module was compiled against a different Node.js version');
    setDriverImporter(() => Promise.reject(native));
    await expect(loadDriver('better-sqlite3', 'a SQLite registry')).rejects.toBe(native);
  });

  it('each installed package loads as the servers use it', async () => {
    const Sqlite = await loadDriver('better-sqlite3', 'a test');
    const db = new Sqlite(':memory:');
    expect(db.prepare('SELECT 1 + 1 AS n').get()).toEqual({ n: 2 });
    db.close();
    const pg = await loadDriver('pg', 'a test');
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    expect((await client.query('SELECT 2 AS n')).rows).toEqual([{ n: 2 }]);
    await client.end();
    const hono = await loadDriver('hono', 'a test');
    const res = await new hono.Hono().get('/', (c) => c.text('hi')).request('/');
    expect(await res.text()).toBe('hi');
    expect(typeof (await loadDriver('@hono/node-server', 'a test')).serve).toBe('function');
  });

  it('the ranges in the error messages are the peer dependency ranges of package.json', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    expect(pkg.peerDependencies).toEqual(SERVER_DRIVERS);
    for (const name of Object.keys(SERVER_DRIVERS)) {
      expect(pkg.peerDependenciesMeta[name]).toEqual({ optional: true });
      expect(pkg.dependencies[name]).toBeUndefined();
      // Installed in the repository itself, at the version the range starts from.
      expect(`^${pkg.devDependencies[name]}`).toBe(SERVER_DRIVERS[name as ServerDriver]);
    }
  });
});
