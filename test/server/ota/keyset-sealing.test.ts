// The OTA keys at rest, on SQLite and PostgreSQL: provisioned through the operator API, no key
// appears in a dump of the database (the SQLite file and its log, or pg_dump) in hex, base64 or
// raw; a wrong KEK stops the store at open; a value moved to another row does not open; keys
// stored in the clear by OTA schema 1 are sealed on first open; a rotation is all or nothing.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { randomBytes, toHex } from '../../../src/bytes.js';
import { DEFAULT_KEK_FILE, readKekFile } from '../../../src/server/kek-file.js';
import { OtaAdminClient, type SimProvisioning } from '../../../src/server/ota/admin-client.js';
import { rotateOtaKek } from '../../../src/server/ota/kek-rotation.js';
import { rotateKek } from '../../../src/server/ota/keyset-sealing.js';
import { parseSimConfig } from '../../../src/server/ota/sim-config.js';
import { migrateOta } from '../../../src/server/ota/migrate.js';
import { OTA_MIGRATIONS } from '../../../src/server/ota/schema.js';
import { startOtaServer } from '../../../src/server/ota/start.js';
import { openOtaStore, type OtaStore } from '../../../src/server/ota/store.js';
import { kekFromBytes } from '../../../src/server/sealing.js';
import { openDriver, type StoreLocation } from '../../../src/server/store/open.js';
import { OPERATOR_KEY, OTA_KEY } from '../fixtures.js';
import { PG_URL, STORE_KINDS, eachTestDatabase, testDatabase } from '../stores.js';

/** `count` SIMs with three keysets each (AES-128, AES-256, 3DES-3key), every key random. */
function randomSims(count: number, first = 0): SimProvisioning[] {
  return Array.from({ length: count }, (_, i) => ({
    iccid: `8986001234${String(first + i).padStart(10, '0')}`,
    tar: 'b00010',
    keysets: [
      { version: 1, algorithm: 'aes', kic: toHex(randomBytes(16)), kid: toHex(randomBytes(16)) },
      { version: 2, algorithm: 'aes', kic: toHex(randomBytes(32)), kid: toHex(randomBytes(32)) },
      {
        version: 3,
        algorithm: '3des-3key',
        kic: toHex(randomBytes(24)),
        kid: toHex(randomBytes(24)),
      },
    ],
  }));
}

const keysOf = (sims: readonly SimProvisioning[]) =>
  sims.flatMap((s) => s.keysets.flatMap((k) => [k.kic, k.kid]));

/** Every way a key could be written: raw, hex in either case, base64 (with and without padding, URL-safe). */
function forms(hex: string): Buffer[] {
  const raw = Buffer.from(hex, 'hex');
  return [
    raw,
    Buffer.from(hex.toLowerCase()),
    Buffer.from(hex.toUpperCase()),
    Buffer.from(raw.toString('base64')),
    Buffer.from(raw.toString('base64url')),
  ];
}

/** The keys of `keys` found in `dump`, in any of their forms. */
function keysIn(dump: Buffer, keys: readonly string[]): string[] {
  return keys.filter((k) => forms(k).some((f) => dump.includes(f)));
}

/** The database's bytes as an attacker with a copy gets them: the SQLite file and its log, or pg_dump of the schema. */
function dumpOf(location: StoreLocation): Buffer {
  if (location.db === undefined) {
    const file = join(location.dataDir, 'registry.sqlite');
    return Buffer.concat(
      [file, `${file}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)),
    );
  }
  const url = new URL(PG_URL);
  return execFileSync(
    'pg_dump',
    [
      '-h',
      url.hostname,
      '-p',
      url.port || '5432',
      '-U',
      url.username,
      '-n',
      location.schema!,
      url.pathname.slice(1),
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
}

async function keysetsOf(store: OtaStore, sims: readonly SimProvisioning[]): Promise<string[]> {
  const out: string[] = [];
  for (const s of sims)
    for (const k of (await store.getSim(s.iccid))!.keysets) out.push(toHex(k.kic), toHex(k.kid));
  return out;
}

describe.each(STORE_KINDS)('OTA keys at rest on %s', (kind) => {
  const database = eachTestDatabase(kind);

  it('a dump holds no provisioned key, while the server runs and after it stops', async () => {
    const db = database();
    const ota = await startOtaServer({
      store: db.location,
      keys: [OTA_KEY, OPERATOR_KEY],
      cardAppUrl: 'http://127.0.0.1:1',
      port: 0,
    });
    const admin = new OtaAdminClient({ baseUrl: ota.url, operatorKey: OPERATOR_KEY });
    const sims = randomSims(5);
    for (const sim of sims) await admin.putSim(sim);
    // Reprovisioning the first SIM replaces its keys: the old ones must not linger either.
    const replaced = randomSims(1);
    await admin.putSim(replaced[0]!);
    const keys = [...keysOf(sims), ...keysOf(replaced)];
    try {
      const running = dumpOf(db.location);
      // The dump is of the right database: it holds the SIMs and the sealed values.
      expect(running.includes(Buffer.from(sims[4]!.iccid))).toBe(true);
      expect(running.includes(Buffer.from(`01${ota.store.kekId}`))).toBe(true);
      expect(keysIn(running, keys)).toEqual([]);
      // The server still opens them where it needs them.
      const current = [replaced[0]!, ...sims.slice(1)];
      expect(await keysetsOf(ota.store, current)).toEqual(keysOf(current));
    } finally {
      await ota.close();
    }
    expect(keysIn(dumpOf(db.location), keys)).toEqual([]);
  });

  it('stops at open under another KEK, naming both identifiers and the source', async () => {
    const db = database();
    const store = await openOtaStore(db.location);
    const sealedUnder = store.kekId;
    await store.close();
    const other: StoreLocation = { ...db.location, kek: randomBytes(32) };
    await expect(openOtaStore(other)).rejects.toMatchObject({
      code: 'SERVER_KEK_MISMATCH',
      message: expect.stringMatching(
        new RegExp(`${sealedUnder}.*${kekFromBytes(other.kek as Uint8Array).id}.*option`),
      ) as unknown,
    });
  });

  it('refuses a sealed key copied to another row or column', async () => {
    const db = database();
    const store = await openOtaStore(db.location);
    const [a, b] = randomSims(2);
    for (const sim of [a!, b!]) {
      const { iccid, ...config } = sim;
      await store.putSim(parseSimConfig(iccid, config), 1);
    }
    await store.close();
    const driver = await openDriver(db.location);
    await driver.run(
      'UPDATE ota_keysets SET kic = (SELECT kic FROM ota_keysets WHERE iccid = ? AND key_version = 1) WHERE iccid = ? AND key_version = 1',
      [a!.iccid, b!.iccid],
    );
    await driver.run('UPDATE ota_keysets SET kid = kic WHERE iccid = ? AND key_version = 2', [
      a!.iccid,
    ]);
    await driver.close();
    const again = await openOtaStore(db.location);
    try {
      for (const sim of [a!, b!])
        await expect(again.getSim(sim.iccid)).rejects.toMatchObject({
          code: 'SERVER_SEALED_CORRUPT',
        });
    } finally {
      await again.close();
    }
  });

  it('seals the clear keys of an OTA schema 1 database on first open, leaving none in a dump', async () => {
    const db = database();
    const sims = randomSims(3);
    const driver = await openDriver(db.location);
    await migrateOta(driver, OTA_MIGRATIONS.slice(0, 1));
    for (const s of sims) {
      await driver.run(
        `INSERT INTO ota_sims (iccid, tar, msl_ciphering, msl_integrity, msl_counter, mt_spi, mt_kic, mt_kid, created_at, updated_at)
         VALUES (?, 'b00010', 1, 'cc', 'must-be-higher', '1629', 18, 18, 0, 0)`,
        [s.iccid],
      );
      for (const k of s.keysets)
        await driver.run(
          'INSERT INTO ota_keysets (iccid, key_version, algorithm, kic, kid) VALUES (?, ?, ?, ?, ?)',
          [s.iccid, k.version, k.algorithm ?? 'aes', k.kic, k.kid],
        );
    }
    await driver.close();
    expect(keysIn(dumpOf(db.location), keysOf(sims)).length).toBeGreaterThan(0);

    const store = await openOtaStore(db.location);
    try {
      expect(await store.schemaVersion()).toBe(OTA_MIGRATIONS.at(-1)!.version);
      expect(await keysetsOf(store, sims)).toEqual(keysOf(sims));
      expect(keysIn(dumpOf(db.location), keysOf(sims))).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('rotates all or nothing: a failure mid-way leaves every key under the old KEK', async () => {
    const db = database();
    const store = await openOtaStore(db.location);
    // 200 SIMs of 3 keysets: two batches, so the failure comes after rows were rewritten.
    const sims = randomSims(200);
    await Promise.all(
      sims.map(({ iccid, ...config }) => store.putSim(parseSimConfig(iccid, config), 1)),
    );
    const oldId = store.kekId;
    await store.close();
    const next = join(db.location.dataDir, 'next.kek');

    let batches = 0;
    await expect(
      rotateOtaKek(db.location, {
        next: { file: next },
        onProgress: (done, total) => {
          batches++;
          expect(done).toBeLessThan(total);
          throw new Error('injected failure after a batch');
        },
      }),
    ).rejects.toThrow('injected failure');
    expect(batches).toBe(1);
    const newKek = { ...db.location, kek: { file: next } };
    await expect(openOtaStore(newKek)).rejects.toMatchObject({ code: 'SERVER_KEK_MISMATCH' });
    const stillOld = await openOtaStore(db.location);
    expect(stillOld.kekId).toBe(oldId);
    expect(await keysetsOf(stillOld, sims)).toEqual(keysOf(sims));
    await stillOld.close();

    const done = await rotateOtaKek(db.location, { next: { file: next } });
    expect(done).toMatchObject({ rewrapped: 600, from: oldId, source: next });
    expect(done.to).not.toBe(oldId);
    // Run again: nothing left to do.
    expect(await rotateOtaKek(db.location, { next: { file: next } })).toMatchObject({
      rewrapped: 0,
      from: done.to,
    });
    await expect(openOtaStore(db.location)).rejects.toMatchObject({
      code: 'SERVER_KEK_MISMATCH',
    });
    const rotated = await openOtaStore(newKek);
    expect(rotated.kekId).toBe(done.to);
    expect(await keysetsOf(rotated, sims)).toEqual(keysOf(sims));
    await rotated.close();
  });
});

describe('the default KEK file (SQLite)', () => {
  const database = eachTestDatabase('sqlite');

  it('is created 0600 on first open, and the same file is used after', async () => {
    const db = database();
    const store = await openOtaStore(db.location);
    const file = join(db.location.dataDir, DEFAULT_KEK_FILE);
    expect(readFileSync(file, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(kekFromBytes(await readKekFile(file)).id).toBe(store.kekId);
    await store.close();
    const again = await openOtaStore(db.location);
    expect(again.kekId).toBe(store.kekId);
    await again.close();
  });

  it('SIMVAULT_KEK overrides it (hex or base64)', async () => {
    const db = database();
    const bytes = randomBytes(32);
    const store = await openOtaStore(db.location, {
      SIMVAULT_KEK: Buffer.from(bytes).toString('base64'),
    });
    expect(store.kekId).toBe(kekFromBytes(bytes).id);
    expect(existsSync(join(db.location.dataDir, DEFAULT_KEK_FILE))).toBe(false);
    await store.close();
    const again = await openOtaStore(db.location, { SIMVAULT_KEK: toHex(bytes) });
    await again.close();
  });

  it('rotates in place: kek.next is written, the database rewrapped, kek.next renamed over kek', async () => {
    const db = database();
    const store = await openOtaStore(db.location);
    const sims = randomSims(2);
    for (const { iccid, ...config } of sims) await store.putSim(parseSimConfig(iccid, config), 1);
    const oldId = store.kekId;
    await store.close();
    const r = await rotateOtaKek(db.location);
    expect(r).toMatchObject({ rewrapped: 6, from: oldId });
    const file = join(db.location.dataDir, DEFAULT_KEK_FILE);
    expect(existsSync(`${file}.next`)).toBe(false);
    expect(kekFromBytes(await readKekFile(file)).id).toBe(r.to);
    const after = await openOtaStore(db.location);
    expect(await keysetsOf(after, sims)).toEqual(keysOf(sims));
    await after.close();
  });

  it('finishes a rotation cut between the commit and the rename at the next open', async () => {
    const db = database();
    const store = await openOtaStore(db.location);
    const sims = randomSims(1);
    await store.putSim(parseSimConfig(sims[0]!.iccid, sims[0]), 1);
    const oldKek = kekFromBytes(await readKekFile(join(db.location.dataDir, DEFAULT_KEK_FILE)));
    await store.close();
    // The state a crash after the commit leaves: kek (old), kek.next (new), database under the new.
    const nextBytes = randomBytes(32);
    const file = join(db.location.dataDir, DEFAULT_KEK_FILE);
    writeFileSync(`${file}.next`, toHex(nextBytes), { mode: 0o600 });
    const driver = await openDriver(db.location);
    await rotateKek(driver, oldKek, kekFromBytes(nextBytes));
    await driver.close();

    const reopened = await openOtaStore(db.location);
    expect(reopened.kekId).toBe(kekFromBytes(nextBytes).id);
    expect(await keysetsOf(reopened, sims)).toEqual(keysOf(sims));
    await reopened.close();
    expect(existsSync(`${file}.next`)).toBe(false);
    expect(await readKekFile(file)).toEqual(nextBytes);
  });
});

describe('PostgreSQL needs its KEK given', () => {
  it('is SERVER_KEK_MISSING without --kek-file or SIMVAULT_KEK', async () => {
    const db = testDatabase('postgres');
    try {
      const location: StoreLocation = { ...db.location };
      delete location.kek;
      await expect(openOtaStore(location, {})).rejects.toMatchObject({
        code: 'SERVER_KEK_MISSING',
        message: expect.stringContaining('SIMVAULT_KEK') as unknown,
      });
      await expect(
        openOtaStore({ ...location, kek: { file: join(location.dataDir, 'absent.kek') } }),
      ).rejects.toMatchObject({ code: 'SERVER_KEK_MISSING' });
    } finally {
      await db.drop();
    }
  });
});
