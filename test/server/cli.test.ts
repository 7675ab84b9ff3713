// `simvault server import-cards | define-app | offer | lifecycle | report`, in-process, on a
// SQLite data folder and (for the --db switch) on PostgreSQL.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { openStore } from '../../src/server/store/open.js';
import { TV, cidHex, cidKey } from './fixtures.js';
import { testDatabase } from './stores.js';

const dir = mkdtempSync(join(tmpdir(), 'simvault-server-cli-'));
const data = join(dir, 'data');
const at = ['--data', data];

describe('simvault server provisioning commands', () => {
  it('define-app hashes the file into the download resource, or takes --digest and --resource-size', async () => {
    const file = join(dir, 'tv.bin');
    const bytes = randomBytes(3000);
    writeFileSync(file, bytes);
    const r = await cli([
      'server',
      'define-app',
      '--aid',
      TV.aid,
      '--name',
      TV.name,
      '--zone',
      'multimedia',
      '--size',
      '2621440',
      '--app-version',
      '2.1',
      '--url',
      TV.resource!.url,
      '--file',
      file,
      '--json',
      ...at,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.toString())).toMatchObject({
      aid: TV.aid,
      resource: { digest: createHash('sha256').update(bytes).digest('hex'), size: 3000 },
    });
    const ads = await cli([
      'server',
      'define-app',
      '--aid',
      'a000000087300001',
      '--name',
      'Ads',
      '--zone',
      'advertising',
      '--size',
      '40960',
      '--app-version',
      '1.0',
      ...at,
    ]);
    expect(ads.code, ads.stderr).toBe(0);
    expect(ads.stdout.toString()).toContain('preloaded');
    const withDigest = await cli([
      'server',
      'define-app',
      '--aid',
      'a000000087300002',
      '--name',
      'G',
      '--zone',
      'user',
      '--size',
      '1',
      '--app-version',
      '1',
      '--url',
      'https://x.example/g',
      '--digest',
      'cd'.repeat(32),
      '--resource-size',
      '9',
      ...at,
    ]);
    expect(withDigest.code, withDigest.stderr).toBe(0);
  });

  it('define-app refuses missing and bad options', async () => {
    expect((await cli(['server', 'define-app', '--name', 'x', ...at])).code).toBe(2);
    expect(
      (
        await cli([
          'server',
          'define-app',
          '--aid',
          TV.aid,
          '--name',
          'x',
          '--zone',
          'user',
          '--size',
          '1',
          '--app-version',
          '1',
          '--url',
          'https://x',
          ...at,
        ])
      ).code,
    ).toBe(2);
    const zone = await cli([
      'server',
      'define-app',
      '--aid',
      TV.aid,
      '--name',
      'x',
      '--zone',
      'attic',
      '--size',
      '1',
      '--app-version',
      '1',
      ...at,
    ]);
    expect(zone.code).toBe(1);
    expect(zone.stderr).toContain('SERVER_BAD_REQUEST');
  });

  it('offer defines an offer and gives it to cards; import-cards reports rejected rows', async () => {
    const offer = await cli(['server', 'offer', 'basic', TV.aid, 'a000000087300001', ...at]);
    expect(offer.code, offer.stderr).toBe(0);
    expect(offer.stdout.toString()).toBe(`offer basic: ${TV.aid}, a000000087300001\n`);
    const unknownApp = await cli(['server', 'offer', 'x', 'a0000000879999', ...at]);
    expect(unknownApp.code).toBe(1);
    expect(unknownApp.stderr).toContain('SERVER_UNKNOWN_APP');

    const csv = join(dir, 'cards.csv');
    writeFileSync(
      csv,
      `cid,state,stage,offer\n${cidHex(1)},issued,retail,basic\n${cidHex(2)},,,\nnot-a-cid,,,\n${cidHex(3)},,,radio\n`,
    );
    const r = await cli(['server', 'import-cards', csv, ...at]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString()).toMatch(
      /^rows 4, accepted 2, rejected 2\n {2}row 3: invalid: cid: .*\n {2}row 4: unknownOffer: offer radio is not defined\n$/,
    );
    const strict = await cli(['server', 'import-cards', csv, '--strict', '--json', ...at]);
    expect(strict.code).toBe(1);
    expect(JSON.parse(strict.stdout.toString())).toMatchObject({ rows: 4, accepted: 0 });

    const json = join(dir, 'cards.json');
    writeFileSync(json, JSON.stringify([{ cid: cidHex(4), offer: 'basic' }]));
    expect((await cli(['server', 'import-cards', json, ...at])).stdout.toString()).toBe(
      'rows 1, accepted 1, rejected 0\n',
    );

    const apply = await cli([
      'server',
      'offer',
      'basic',
      TV.aid,
      '--apply',
      cidHex(2),
      '--apply',
      cidHex(9),
      ...at,
    ]);
    expect(apply.code).toBe(1);
    expect(apply.stdout.toString()).toContain(`given to 1 card(s), unknown: ${cidKey(9)}`);
    const store = await openStore({ dataDir: data });
    expect((await store.customizedApplications(cidKey(2))).map((a) => a.aid)).toEqual([TV.aid]);
    await store.close();

    expect((await cli(['server', 'import-cards', ...at])).code).toBe(2);
    expect((await cli(['server', 'import-cards', csv, '--format', 'xml', ...at])).code).toBe(2);
    const missing = await cli(['server', 'import-cards', join(dir, 'nope.csv'), ...at]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('ENOENT');
  });

  it('lifecycle changes state and stage; report lists downloads per application', async () => {
    const r = await cli([
      'server',
      'lifecycle',
      cidHex(1),
      'blocked',
      '--stage',
      'reported stolen',
      ...at,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString()).toBe(`${cidKey(1)} blocked (reported stolen)\n`);
    const unknown = await cli(['server', 'lifecycle', cidHex(9), 'active', ...at]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('SERVER_UNKNOWN_CARD');
    expect((await cli(['server', 'lifecycle', cidHex(1), 'lost', ...at])).stderr).toContain(
      'SERVER_BAD_REQUEST',
    );
    expect((await cli(['server', 'lifecycle', cidHex(1), ...at])).code).toBe(2);

    const report = await cli(['server', 'report', '--json', ...at]);
    expect(report.code, report.stderr).toBe(0);
    expect(JSON.parse(report.stdout.toString())).toEqual(
      expect.arrayContaining([{ aid: TV.aid, name: TV.name, downloads: 0, stored: 0, deletes: 0 }]),
    );
    expect((await cli(['server', 'report', ...at])).stdout.toString()).toMatch(
      /^aid +downloads +stored +deletes +name\n/,
    );
  });

  it('server refuses bad options with usage errors', async () => {
    expect((await cli(['server', '--port', '70000', ...at])).code).toBe(2);
    expect((await cli(['server', '--rate-limit', 'fast', ...at])).code).toBe(2);
    const anonymous = await cli(['server', '--anonymous-rate-limit', '0/1', ...at]);
    expect(anonymous.code).toBe(2);
    expect(anonymous.stderr).toContain('--anonymous-rate-limit must be BURST/PER_SECOND');
    expect((await cli(['server', 'extra', ...at])).code).toBe(2);
    expect((await cli(['server', '--only', 'sms-centre', ...at])).code).toBe(2);
    expect((await cli(['server', '--card-app-url', 'ftp://x', ...at])).code).toBe(2);
    expect((await cli(['server', '--mt-recheck', '0', ...at])).code).toBe(2);
    const alone = await cli(['server', '--only', 'ota', ...at]);
    expect([alone.code, alone.stderr]).toEqual([2, expect.stringContaining('--card-app-url')]);
    expect((await cli(['server', '--help'])).stdout.toString()).toContain('Usage: simvault server');
  });
});

describe('simvault server import-cards --db postgres://', () => {
  const db = testDatabase('postgres');
  afterAll(() => db.drop());

  it('imports into the PostgreSQL schema named by --pg-schema', async () => {
    const csv = join(dir, 'pg.csv');
    writeFileSync(csv, `cid\n${cidHex(1)}\n${cidHex(2)}\n`);
    const r = await cli([
      'server',
      'import-cards',
      csv,
      '--db',
      db.location.db!,
      '--pg-schema',
      db.location.schema!,
      '--data',
      db.location.dataDir,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const store = await db.open();
    expect(store.kind).toBe('postgres');
    expect(await store.countCards()).toBe(2);
    await store.close();
  });
});
