// The OTA server's operator client over real HTTP on loopback: every call signed with the
// operator key, typed answers, and the server's refusals as typed errors with their codes.
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArgumentError, IoError } from '../../../src/errors.js';
import { ServerError } from '../../../src/server/errors.js';
import { OtaAdminClient } from '../../../src/server/ota/admin-client.js';
import { OtaError } from '../../../src/server/ota/errors.js';
import { startOtaServer, type RunningOtaServer } from '../../../src/server/ota/start.js';
import type { RegistryStore } from '../../../src/server/store/store.js';
import {
  ICCID,
  OPERATOR_KEY,
  OTA_KEY,
  cidHex,
  startTestServer,
  type TestServer,
} from '../fixtures.js';
import { testDatabase, type TestDatabase } from '../stores.js';

const SIM = {
  iccid: ICCID,
  msisdn: '8613800000001',
  tar: 'b00010',
  keysets: [
    {
      version: 1,
      algorithm: 'aes' as const,
      kic: randomBytes(16).toString('hex'),
      kid: randomBytes(16).toString('hex'),
    },
  ],
};

let db: TestDatabase;
let registry: RegistryStore;
let cardApp: TestServer;
let ota: RunningOtaServer;
let admin: OtaAdminClient;

beforeEach(async () => {
  db = testDatabase('sqlite');
  registry = await db.open();
  cardApp = await startTestServer(registry);
  ota = await startOtaServer({
    store: db.location,
    keys: [OTA_KEY, OPERATOR_KEY],
    cardAppUrl: cardApp.url,
    port: 0,
  });
  admin = new OtaAdminClient({ baseUrl: `${ota.url}/`, operatorKey: OPERATOR_KEY });
});

afterEach(async () => {
  await ota.close();
  await cardApp.close();
  await registry.close();
  await db.drop();
});

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

describe('OtaAdminClient', () => {
  it('provisions a SIM, reports it with its counters, updates it and forgets it', async () => {
    const first = await admin.putSim(SIM);
    expect(first.created).toBe(true);
    expect(first.sim).toMatchObject({
      iccid: ICCID,
      msisdn: '8613800000001',
      tar: 'b00010',
      keysets: [{ version: 1, algorithm: 'aes' }],
      mt: { spi: '1629', keyVersion: 1 },
    });
    expect(JSON.stringify(first.sim)).not.toContain(SIM.keysets[0]!.kic);
    const again = await admin.putSim({ ...SIM, brand: 'acme' });
    expect(again).toMatchObject({ created: false, sim: { brand: 'acme' } });
    const status = await admin.getSim(ICCID);
    expect(status).toMatchObject({ iccid: ICCID, brand: 'acme', lastSeq: 0 });
    expect(Array.isArray(status.counters)).toBe(true);
    await admin.deleteSim(ICCID);
    const gone = await rejection(admin.getSim(ICCID));
    expect(gone).toBeInstanceOf(OtaError);
    expect(gone).toMatchObject({ code: 'OTA_UNKNOWN_SIM', status: 404 });
    expect(await rejection(admin.deleteSim(ICCID))).toMatchObject({ code: 'OTA_UNKNOWN_SIM' });
  });

  it('pushes a SIM Toolkit list as a queued secured packet', async () => {
    await admin.putSim(SIM);
    const cards = [
      {
        cid: cidHex(1),
        applications: [{ aid: 'a0000000871001', name: 'Mobile TV', zone: 'multimedia' as const }],
      },
    ];
    const first = await admin.pushStkList(ICCID, cards);
    expect(first).toMatchObject({ type: 'stkListUpdate', listVersion: 1, transactionId: 1 });
    expect(first.seqs.length).toBeGreaterThan(0);
    const second = await admin.pushStkList(ICCID, cards, 77);
    expect(second).toMatchObject({ listVersion: 2, transactionId: 77 });
    expect((await admin.getSim(ICCID)).lastSeq).toBe(second.seqs.at(-1));
    const bad = await rejection(admin.pushStkList(ICCID, [{ cid: 'zz', applications: [] }]));
    expect(bad).toBeInstanceOf(ServerError);
    expect(bad).toMatchObject({ code: 'SERVER_BAD_REQUEST' });
    expect((bad as Error).message).toContain('cards[0].cid');
  });

  it('uploads, lists and deletes application files; the returned URL serves the bytes', async () => {
    const bytes = new Uint8Array(randomBytes(70_000));
    const file = await admin.uploadFile('tv-2.1.bin', bytes);
    expect(file).toMatchObject({
      name: 'tv-2.1.bin',
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      contentType: 'application/octet-stream',
      path: '/v1/files/tv-2.1.bin',
      url: `${ota.url}/v1/files/tv-2.1.bin`,
    });
    const served = new Uint8Array(await (await fetch(file.url)).arrayBuffer());
    expect(served).toEqual(bytes);
    await admin.uploadFile('offers.json', new TextEncoder().encode('[]'), 'application/json');
    expect((await admin.listFiles()).map((f) => [f.name, f.contentType]).sort()).toEqual([
      ['offers.json', 'application/json'],
      ['tv-2.1.bin', 'application/octet-stream'],
    ]);
    await admin.deleteFile('tv-2.1.bin');
    expect(await rejection(admin.deleteFile('tv-2.1.bin'))).toMatchObject({
      code: 'OTA_UNKNOWN_FILE',
    });
    expect(await rejection(admin.uploadFile('../escape', bytes))).toMatchObject({
      code: 'SERVER_BAD_REQUEST',
    });
  });

  it('a refused provisioning keeps the server code and message', async () => {
    const e = await rejection(admin.putSim({ ...SIM, tar: 'b0001' }));
    expect(e).toBeInstanceOf(ServerError);
    expect(e).toMatchObject({ code: 'SERVER_BAD_REQUEST', status: 400 });
    expect((e as Error).message).toMatch(/tar/);
  });

  it('a key the server does not know, or a wrong secret, is refused with the auth codes', async () => {
    const stranger = new OtaAdminClient({
      baseUrl: ota.url,
      operatorKey: { id: 'stranger', role: 'operator', secret: new Uint8Array(32) },
    });
    expect(await rejection(stranger.listFiles())).toMatchObject({
      code: 'SERVER_UNAUTHENTICATED',
    });
    const forged = new OtaAdminClient({
      baseUrl: ota.url,
      operatorKey: { ...OPERATOR_KEY, secret: new Uint8Array(32) },
    });
    expect(await rejection(forged.listFiles())).toMatchObject({ code: 'SERVER_BAD_SIGNATURE' });
  });

  it('takes only an operator key', () => {
    expect(() => new OtaAdminClient({ baseUrl: ota.url, operatorKey: OTA_KEY })).toThrow(
      ArgumentError,
    );
  });

  it('a server that cannot be reached is IO_UNREACHABLE naming the address', async () => {
    const url = ota.url;
    await ota.close();
    const e = await rejection(
      new OtaAdminClient({ baseUrl: url, operatorKey: OPERATOR_KEY }).listFiles(),
    );
    expect(e).toBeInstanceOf(IoError);
    expect(e).toMatchObject({ code: 'IO_UNREACHABLE', path: url, errno: 'ECONNREFUSED' });
    expect((e as Error).message).toContain(`GET /v1/admin/files: ${url} unreachable`);
  });
});
