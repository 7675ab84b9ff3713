// The key-encryption key from the command line: `simvault server` and `server sim` with the KEK
// from a file, SIMVAULT_KEK or DATA/kek, a wrong or missing KEK stopping them at start, and
// `server rotate-kek` as a real child process killed with SIGKILL in the middle of its
// transaction: the database still opens, under the old KEK or the new one, with every key.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes, toHex } from '../../src/bytes.js';
import { parseSimConfig } from '../../src/server/ota/sim-config.js';
import { openOtaStore, type OtaStore } from '../../src/server/ota/store.js';
import { kekFromBytes } from '../../src/server/sealing.js';
import type { StoreLocation } from '../../src/server/store/open.js';
import { cli, jsonOf } from '../helpers/cli.js';
import { ROOT, dbArgs, spawnServer } from './spawn.js';
import {
  STORE_KINDS,
  TEST_KEK,
  eachTestDatabase,
  testDatabase,
  type TestDatabase,
} from './stores.js';

const keyset = (version: number) => ({
  version,
  algorithm: 'aes' as const,
  kic: toHex(randomBytes(16)),
  kid: toHex(randomBytes(16)),
});
const iccidOf = (i: number) => `8986001234${String(i).padStart(10, '0')}`;

async function provision(location: StoreLocation, count: number): Promise<Map<string, string[]>> {
  const store = await openOtaStore(location);
  const keys = new Map<string, string[]>();
  try {
    for (let i = 0; i < count; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, count - i) }, (_, j) => {
          const iccid = iccidOf(i + j);
          const keysets = [keyset(1), keyset(2)];
          keys.set(
            iccid,
            keysets.flatMap((k) => [k.kic, k.kid]),
          );
          return store.putSim(parseSimConfig(iccid, { tar: 'b00010', keysets }), 1);
        }),
      );
    }
  } finally {
    await store.close();
  }
  return keys;
}

async function expectKeys(store: OtaStore, keys: Map<string, string[]>): Promise<void> {
  for (const [iccid, expected] of keys) {
    const sim = (await store.getSim(iccid))!;
    expect(sim.keysets.flatMap((k) => [toHex(k.kic), toHex(k.kid)])).toEqual(expected);
  }
}

/** Open the store under whichever of `locations` it opens with; exactly one must. */
async function openUnderOne(
  locations: StoreLocation[],
): Promise<{ store: OtaStore; which: number }> {
  const opened: { store: OtaStore; which: number }[] = [];
  for (const [which, location] of locations.entries()) {
    try {
      opened.push({ store: await openOtaStore(location, {}), which });
    } catch (e) {
      expect(e).toMatchObject({ code: 'SERVER_KEK_MISMATCH' });
    }
  }
  expect(opened.length).toBe(1);
  return opened[0]!;
}

/** `simvault server rotate-kek ARGS` as a child process, SIGKILLed at its first progress line. */
async function rotateAndKill(args: string[]): Promise<string> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'server', 'rotate-kek', ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SIMVAULT_KEK: '' } },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.includes('rewrapped ')) child.kill('SIGKILL');
  });
  const { code, signal } = await new Promise<{ code: number | null; signal: string | null }>(
    (resolve) =>
      child.once('exit', (c, s) => {
        resolve({ code: c, signal: s });
      }),
  );
  // Killed mid-rotation, or (if it raced ahead) finished cleanly: never failed.
  expect(signal === 'SIGKILL' || code === 0, stderr).toBe(true);
  return stderr;
}

describe.each(STORE_KINDS)('server rotate-kek killed mid-way on %s', (kind) => {
  const database = eachTestDatabase(kind);

  it('leaves a database that opens under the old or the new KEK; running it again finishes', async () => {
    const db = database();
    // 600 SIMs of two keysets: three batches of rows, the kill comes at the end of the first.
    const keys = await provision(db.location, 600);
    const newFile = join(db.location.dataDir, 'new.kek');
    if (kind === 'sqlite') {
      // The default DATA/kek: the rotation stages DATA/kek.next and renames it over DATA/kek.
      await rotateAndKill(dbArgs(db));
      const store = await openOtaStore(db.location, {});
      await expectKeys(store, keys);
      await store.close();
      const again = await cli(['server', 'rotate-kek', ...dbArgs(db), '--json']);
      expect(again.code, again.stderr).toBe(0);
      expect(existsSync(join(db.location.dataDir, 'kek.next'))).toBe(false);
    } else {
      const args = [...dbArgs(db), '--new-kek-file', newFile];
      await rotateAndKill(args);
      const { store } = await openUnderOne([
        db.location,
        { ...db.location, kek: { file: newFile } },
      ]);
      await expectKeys(store, keys);
      await store.close();
      const again = await cli(['server', 'rotate-kek', ...args, '--json']);
      expect(again.code, again.stderr).toBe(0);
      expect(jsonOf(again)).toMatchObject({ source: newFile });
    }
    const newLocation: StoreLocation =
      kind === 'sqlite' ? db.location : { ...db.location, kek: { file: newFile } };
    const rotated = await openOtaStore(newLocation, {});
    await expectKeys(rotated, keys);
    await rotated.close();
  });
});

describe('the KEK on the command line', () => {
  let db: TestDatabase;
  let pgArgs: string[];

  beforeEach(() => {
    db = testDatabase('postgres');
    const { dataDir, db: url, schema } = db.location;
    pgArgs = ['--data', dataDir, '--db', url!, '--pg-schema', schema!];
    writeFileSync(
      join(dataDir, 'sim.json'),
      JSON.stringify({ tar: 'b00010', keysets: [keyset(1)] }),
    );
  });
  afterEach(async () => {
    await db.drop();
  });

  it('server sim on PostgreSQL needs --kek-file or SIMVAULT_KEK, and refuses another KEK', async () => {
    const config = join(db.location.dataDir, 'sim.json');
    const missing = await cli(['server', 'sim', iccidOf(1), config, ...pgArgs]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('SERVER_KEK_MISSING');

    const ok = await cli(['server', 'sim', iccidOf(1), config, ...dbArgs(db)]);
    expect(ok.code, ok.stderr).toBe(0);

    const otherFile = join(db.location.dataDir, 'other.kek');
    const other = randomBytes(32);
    writeFileSync(otherFile, toHex(other));
    const wrong = await cli([
      'server',
      'sim',
      iccidOf(2),
      config,
      ...pgArgs,
      '--kek-file',
      otherFile,
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('SERVER_KEK_MISMATCH');
    expect(wrong.stderr).toContain(kekFromBytes(other).id);
  });

  it('simvault server stops at start under another KEK, and runs with SIMVAULT_KEK', async () => {
    const store = await openOtaStore(db.location);
    await store.close();
    await expect(
      spawnServer([...pgArgs, '--quiet'], {
        env: { ...process.env, SIMVAULT_KEK: toHex(randomBytes(32)) },
      }),
    ).rejects.toThrow('SERVER_KEK_MISMATCH');
    const right = await spawnServer([...pgArgs, '--quiet'], {
      env: { ...process.env, SIMVAULT_KEK: Buffer.from(TEST_KEK).toString('base64') },
    });
    right.process.kill('SIGTERM');
    expect((await right.exited).code).toBe(0);
  });
});
