// Regression tests for what a black-box attack on the servers found: a failed log write stopped
// a server, the data folder was world-readable, anonymous traffic drained a SIM's or a card's
// allowance (see card-app-http and ota tests), bad --db values silently became SQLite files,
// `sim create --json` did not feed `server sim`, and Node's own refusals were not JSON.
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveDatabase } from '../../src/server/store/open.js';
import { cli } from '../helpers/cli.js';
import { rawExchange } from './http-client.js';
import { spawnServer, type ServerChild } from './spawn.js';
import { startTestServer } from './fixtures.js';
import { testDatabase } from './stores.js';

const dir = mkdtempSync(join(tmpdir(), 'simvault-blackbox-'));
const mode = (path: string) => statSync(path).mode & 0o777;

async function stillServing(child: ServerChild): Promise<void> {
  for (const url of Object.values(child.urls)) {
    for (let i = 0; i < 20; i++) {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/no/such/endpoint`)).status).toBe(404);
    }
  }
  expect(child.process.exitCode).toBeNull();
}

async function stop(child: ServerChild): Promise<void> {
  child.process.kill('SIGTERM');
  expect(await child.exited).toEqual({ code: 0, signal: null });
}

describe('a failed log write never stops a server', () => {
  it('keeps serving with standard error on a full disk (/dev/full)', async () => {
    const full = openSync('/dev/full', 'w');
    try {
      const child = await spawnServer(['--data', join(dir, 'full')], { stderr: full });
      await stillServing(child);
      await stop(child);
    } finally {
      closeSync(full);
    }
  });

  it('keeps serving with standard error a closed pipe', async () => {
    const child = await spawnServer(['--data', join(dir, 'pipe')]);
    child.process.stderr!.destroy();
    await stillServing(child);
    await stop(child);
  });
});

describe('the data folder is private', () => {
  it('creates the folder 0700 and the registry, its WAL, keys, KEK and files 0600', async () => {
    const data = join(dir, 'private');
    const child = await spawnServer(['--data', data, '--quiet']);
    await stillServing(child);
    const app = join(dir, 'app.bin');
    writeFileSync(app, 'application bytes');
    const put = await cli(['server', 'put-file', 'app.bin', app, '--data', data, '--json']);
    expect(put.code, put.stderr).toBe(0);
    const { sha256 } = JSON.parse(put.stdout.toString()) as { sha256: string };
    expect(mode(data)).toBe(0o700);
    for (const f of [
      'registry.sqlite',
      'registry.sqlite-wal',
      'registry.sqlite-shm',
      'keys.json',
      'kek',
    ])
      expect([f, mode(join(data, f))]).toEqual([f, 0o600]);
    for (const d of ['files', 'files/objects', 'files/names'])
      expect([d, mode(join(data, d))]).toEqual([d, 0o700]);
    expect(mode(join(data, 'files', 'objects', sha256))).toBe(0o600);
    expect(mode(join(data, 'files', 'names', 'app.bin.json'))).toBe(0o600);
    await stop(child);
  });
});

describe('--db and --data are checked', () => {
  it('accepts postgres:// and postgresql:// in any case, and SQLite paths in existing folders', () => {
    expect(resolveDatabase({ dataDir: dir, db: 'PostgreS://u@db.example:5432/reg' })).toEqual({
      kind: 'postgres',
      url: 'postgres://u@db.example:5432/reg',
    });
    expect(resolveDatabase({ dataDir: dir, db: 'postgresql://db.example/reg' }).kind).toBe(
      'postgres',
    );
    expect(resolveDatabase({ dataDir: dir, db: join(dir, 'x.sqlite') })).toEqual({
      kind: 'sqlite',
      file: join(dir, 'x.sqlite'),
    });
    expect(resolveDatabase({ dataDir: join(dir, 'new') })).toEqual({
      kind: 'sqlite',
      file: join(dir, 'new', 'registry.sqlite'),
    });
  });

  it.each([
    ['mysql://x', /unknown database URL scheme 'mysql:'/],
    ['PostgreS:/db.example/reg', /not a PostgreSQL URL/],
    ['postgres:relative', /not a PostgreSQL URL/],
    ['sqlite://x', /unknown database URL scheme/],
    ['/nonexistent/dir/x.sqlite', /folder \/nonexistent\/dir of the SQLite file does not exist/],
  ])('refuses --db %s with a clear error and creates nothing', async (db, message) => {
    const data = join(dir, `refused-${Math.random().toString(36).slice(2)}`);
    for (const args of [
      ['server', '--db', db, '--data', data],
      ['server', 'report', '--db', db, '--data', data],
    ]) {
      const r = await cli(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/INVALID_ARGUMENT/);
      expect(r.stderr).toMatch(message);
    }
    expect(existsSync(data)).toBe(false);
    expect(existsSync(db)).toBe(false);
    expect(existsSync('/nonexistent')).toBe(false);
  });

  it('refuses a data folder whose parent does not exist', async () => {
    const r = await cli(['server', 'report', '--data', join(dir, 'no', 'such', 'data')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /INVALID_ARGUMENT: data folder .*: its parent folder .* does not exist/,
    );
    expect(existsSync(join(dir, 'no'))).toBe(false);
  });
});

describe('simvault sim create --json | simvault server sim', () => {
  it('provisions the SIM from the printed configuration as documented', async () => {
    const data = join(dir, 'pipeline');
    const created = await cli(['sim', 'create', join(dir, 'sim.json'), '--json']);
    expect(created.code, created.stderr).toBe(0);
    const config = join(dir, 'ota-sim.json');
    writeFileSync(config, created.stdout);
    const { iccid } = JSON.parse(created.stdout.toString()) as { iccid: string };
    const r = await cli(['server', 'sim', iccid, config, '--data', data, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.toString())).toMatchObject({ iccid, tar: 'b00010' });
    // The printed ICCID must be the one provisioned.
    const wrong = await cli(['server', 'sim', '89860000000000000001', config, '--data', data]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(
      `SERVER_BAD_REQUEST: iccid: the configuration is for SIM ${iccid}`,
    );
    expect(readFileSync(config, 'utf8')).toContain(iccid);
  });
});

describe("Node's own refusals answer in the JSON error shape", () => {
  const db = testDatabase('sqlite');
  afterAll(() => db.drop());

  it('answers a 20,000-character URL with 431 and a malformed request line with 400, as JSON', async () => {
    const store = await db.open();
    const server = await startTestServer(store);
    try {
      const long = await rawExchange(
        server.url,
        `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      );
      expect(long).toMatch(/^HTTP\/1\.1 431 /);
      expect(long).toMatch(/content-type: application\/json/i);
      expect(JSON.parse(long.slice(long.indexOf('\r\n\r\n') + 4))).toEqual({
        error: {
          code: 'SERVER_BAD_REQUEST',
          message: 'the request line and headers are too large',
        },
      });
      for (const garbage of [
        'GARBAGE\r\n\r\n',
        'GET / HTTP/9.9\r\n\r\n',
        'GET /\u0000 HTTP/1.1\r\n\r\n',
      ]) {
        const bad = await rawExchange(server.url, garbage);
        expect(bad).toMatch(/^HTTP\/1\.1 400 /);
        expect(JSON.parse(bad.slice(bad.indexOf('\r\n\r\n') + 4))).toMatchObject({
          error: { code: 'SERVER_BAD_REQUEST' },
        });
      }
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
      await store.close();
    }
  });
});
