// HTTP-level tests of the card application server on loopback, on SQLite and PostgreSQL.
import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../src/bytes.js';
import { encodeMessage, type SimvaultMessage } from '../../src/protocol/messages.js';
import { signRequest, type SigningKey } from '../../src/server/auth.js';
import { CardAppClient } from '../../src/server/card-app/client.js';
import type { RegistryStore } from '../../src/server/store/store.js';
import {
  ADS,
  ICCID,
  OPERATOR_KEY,
  OTA_KEY,
  OTHER_ICCID,
  TV,
  cidBytes,
  cidHex,
  cidKey,
  startTestServer,
  type TestServer,
} from './fixtures.js';
import { postFrom, streamedBody } from './http-client.js';
import { STORE_KINDS, testDatabase, type TestDatabase } from './stores.js';

const OCTETS = { 'content-type': 'application/octet-stream' };

async function errorOf(p: Promise<unknown>): Promise<{ code: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    return e as { code: string };
  }
  throw new Error('expected a failure');
}

describe.each(STORE_KINDS)('card application server over HTTP on %s', (kind) => {
  let db: TestDatabase;
  let store: RegistryStore;
  let server: TestServer;
  const extra: { close(): Promise<void> }[] = [];

  beforeEach(async () => {
    db = testDatabase(kind);
    store = await db.open();
    server = await startTestServer(store);
  });
  afterEach(async () => {
    for (const x of extra.splice(0).reverse()) await x.close();
    await server.close();
    await store.close();
    await db.drop();
  });

  /** Catalog: TV (downloadable) and ADS (preloaded), offer "basic" with both; cards 1..3. */
  async function provision() {
    const c = server.client;
    await c.defineApplication(TV);
    await c.defineApplication(ADS);
    await c.defineOffer('basic', [TV.aid, ADS.aid]);
    const csv = [
      'cid,state,stage,offer',
      `${cidHex(1)},issued,retail,basic`,
      `${cidHex(2)},blocked,retail,basic`,
      `${cidHex(3)},,,`,
    ].join('\n');
    expect(await c.importCards(csv, 'csv')).toEqual({ rows: 3, accepted: 3, rejected: [] });
  }

  /** POST raw bytes signed (or not) and return status and parsed body. */
  async function post(path: string, body: Uint8Array, headers: Record<string, string>) {
    const res = await fetch(`${server.url}${path}`, {
      method: 'POST',
      body: body as Uint8Array<ArrayBuffer>,
      headers,
    });
    const type = res.headers.get('content-type') ?? '';
    return {
      status: res.status,
      res,
      json: type.includes('json')
        ? ((await res.json()) as { error?: { code: string } })
        : undefined,
    };
  }
  const signed = (
    path: string,
    msg: SimvaultMessage | Uint8Array,
    key: SigningKey = OTA_KEY,
    opts?: { timestamp?: number; nonce?: string },
  ) => {
    const body = msg instanceof Uint8Array ? msg : encodeMessage(msg);
    return post(path, body, {
      ...OCTETS,
      ...signRequest(key, 'POST', `${server.url}${path}`, body, opts),
    });
  };

  it('answers GET /healthz and unknown routes with stable JSON', async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', server: 'card-app' });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const missing = await fetch(`${server.url}/v1/nothing`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'SERVER_NOT_FOUND' } });
  });

  it('verifies cards (302): known, unknown, blocked, and malformed input', async () => {
    await provision();
    const c = server.client;
    expect(await c.verifyCard(cidHex(1), ICCID)).toEqual({
      cid: cidKey(1),
      state: 'issued',
      stage: 'retail',
    });
    expect(await errorOf(c.verifyCard(cidHex(9)))).toMatchObject({
      code: 'SERVER_UNKNOWN_CARD',
      status: 404,
    });
    expect(await errorOf(c.verifyCard(cidHex(2)))).toMatchObject({
      code: 'SERVER_CARD_BLOCKED',
      status: 403,
    });
    await c.setLifecycle(cidHex(3), 'retired');
    expect(await errorOf(c.verifyCard(cidHex(3)))).toMatchObject({ code: 'SERVER_CARD_BLOCKED' });
    expect(await errorOf(c.verifyCard('zz'))).toMatchObject({ code: 'SERVER_BAD_REQUEST' });
    // A register whose CRC7 is wrong is not a card we can trust to be what it says.
    const badCrc = cidHex(1).slice(0, 30) + 'ff';
    expect(await errorOf(c.verifyCard(badCrc))).toMatchObject({ code: 'SERVER_BAD_REQUEST' });
    expect(await errorOf(c.verifyCard(cidHex(1), '12ab'))).toMatchObject({
      code: 'SERVER_BAD_REQUEST',
    });
    const notJson = await post('/v1/cards/verify', new TextEncoder().encode('{'), {
      'content-type': 'application/json',
    });
    expect(notJson).toMatchObject({ status: 400, json: { error: { code: 'SERVER_BAD_REQUEST' } } });
    const wrongType = await post('/v1/cards/verify', new TextEncoder().encode('{}'), {
      'content-type': 'text/plain',
    });
    expect(wrongType).toMatchObject({
      status: 400,
      json: { error: { code: 'SERVER_BAD_REQUEST' } },
    });
  });

  it('runs bind (308), launch (502), complete (505), delete (603) and unbind (403) end to end', async () => {
    await provision();
    const c = server.client;
    const cid = cidBytes(1);
    const bound = await c.bind(
      { type: 'bindRequest', transactionId: 7, cid, iccid: ICCID, imsi: '460001234567890' },
      'GoTone',
    );
    expect(bound.result).toBe('ok');
    expect(bound.transactionId).toBe(7);
    expect(bound.applications.map((a) => [toHex(a.aid), a.zone, a.resource?.url])).toEqual([
      [TV.aid, 'multimedia', TV.resource!.url],
      [ADS.aid, 'advertising', undefined],
    ]);
    // A retried bind from the same SIM answers ok again; another SIM is refused in the message.
    expect(
      (await c.bind({ type: 'bindRequest', transactionId: 8, cid, iccid: ICCID })).result,
    ).toBe('ok');
    expect(
      (await c.bind({ type: 'bindRequest', transactionId: 9, cid, iccid: OTHER_ICCID })).result,
    ).toBe('alreadyBound');
    const info = await c.cardInfo(cidHex(1));
    expect(info.card.state).toBe('active');
    expect(info.binding).toMatchObject({ iccid: ICCID, imsi: '460001234567890', brand: 'GoTone' });

    const aid = fromHex(TV.aid);
    const resource = await c.launch(
      { type: 'launchRequest', transactionId: 10, cid, aid, input: new Uint8Array([1]) },
      ICCID,
    );
    expect(resource).toMatchObject({
      type: 'downloadResourceInfo',
      transactionId: 10,
      zone: 'multimedia',
    });
    expect(resource.resource).toEqual({
      url: TV.resource!.url,
      digest: fromHex(TV.resource!.digest),
      size: TV.resource!.size,
    });
    await c.launch({ type: 'launchRequest', transactionId: 11, cid, aid }, ICCID);
    expect(
      await c.complete(
        {
          type: 'launchComplete',
          transactionId: 11,
          cid,
          aid,
          size: TV.resource!.size,
          digest: fromHex(TV.resource!.digest),
        },
        ICCID,
      ),
    ).toEqual({
      cid: cidKey(1),
      aid: TV.aid,
      status: 'stored',
    });
    expect((await c.cardInfo(cidHex(1))).files).toMatchObject([
      { aid: TV.aid, status: 'stored', downloads: 2, deletes: 0 },
    ]);
    // A file whose digest differs from the resource is recorded as failed.
    expect(
      await c.complete(
        {
          type: 'launchComplete',
          transactionId: 11,
          cid,
          aid,
          size: 1,
          digest: new Uint8Array(32),
        },
        ICCID,
      ),
    ).toMatchObject({ status: 'failed' });
    expect(
      await c.complete(
        { type: 'downloadComplete', transactionId: 11, cid, aid, result: 'ok' },
        ICCID,
      ),
    ).toMatchObject({ status: 'stored' });

    // Delete without a CID finds the one card of this SIM offered the application.
    const command = await c.delete({ type: 'deleteRequest', transactionId: 12, aid }, ICCID);
    expect(command).toEqual({ type: 'deleteCommand', transactionId: 12, cid, aid });
    const again = await c.delete(
      { type: 'deleteRequest', transactionId: 13, cid, aid: fromHex(ADS.aid) },
      ICCID,
    );
    expect(again.cid).toEqual(cid);
    expect(await c.downloadReport()).toEqual([
      { aid: TV.aid, name: TV.name, downloads: 2, stored: 0, deletes: 1 },
      { aid: ADS.aid, name: ADS.name, downloads: 0, stored: 0, deletes: 1 },
    ]);

    expect(
      (await c.unbind({ type: 'unbindRequest', transactionId: 14, cid }, OTHER_ICCID)).result,
    ).toBe('notBound');
    expect((await c.unbind({ type: 'unbindRequest', transactionId: 15, cid }, ICCID)).result).toBe(
      'ok',
    );
    expect(
      (await c.unbind({ type: 'unbindRequest', transactionId: 16, cid: cidBytes(9) }, ICCID))
        .result,
    ).toBe('unknownCard');
    expect(
      await errorOf(c.launch({ type: 'launchRequest', transactionId: 17, cid, aid }, ICCID)),
    ).toMatchObject({ code: 'SERVER_NOT_BOUND' });
    expect(
      (await c.bind({ type: 'bindRequest', transactionId: 18, cid, iccid: OTHER_ICCID })).result,
    ).toBe('ok');
  });

  it('answers refused binds in the bind response and refused launches and deletes with codes', async () => {
    await provision();
    const c = server.client;
    const bind = (n: number) =>
      c.bind({ type: 'bindRequest', transactionId: n, cid: cidBytes(n), iccid: ICCID });
    expect(await bind(9)).toMatchObject({ result: 'unknownCard', applications: [] });
    expect(await bind(2)).toMatchObject({ result: 'cardBlocked', applications: [] });
    expect((await bind(1)).result).toBe('ok');
    expect((await bind(3)).applications).toEqual([]);
    const launch = (n: number, aid: string) =>
      c.launch(
        { type: 'launchRequest', transactionId: 1, cid: cidBytes(n), aid: fromHex(aid) },
        ICCID,
      );
    expect(await errorOf(launch(9, TV.aid))).toMatchObject({ code: 'SERVER_UNKNOWN_CARD' });
    expect(await errorOf(launch(2, TV.aid))).toMatchObject({ code: 'SERVER_CARD_BLOCKED' });
    expect(await errorOf(launch(3, TV.aid))).toMatchObject({ code: 'SERVER_UNKNOWN_APP' });
    expect(await errorOf(launch(1, ADS.aid))).toMatchObject({ code: 'SERVER_UNKNOWN_APP' });
    expect(await errorOf(launch(1, 'a0000000879999'))).toMatchObject({
      code: 'SERVER_UNKNOWN_APP',
    });
    expect(
      await errorOf(
        c.launch(
          { type: 'launchRequest', transactionId: 1, cid: cidBytes(1), aid: fromHex(TV.aid) },
          OTHER_ICCID,
        ),
      ),
    ).toMatchObject({
      code: 'SERVER_NOT_BOUND',
    });
    const complete = c.complete(
      {
        type: 'downloadComplete',
        transactionId: 1,
        cid: cidBytes(1),
        aid: fromHex(TV.aid),
        result: 'ok',
      },
      ICCID,
    );
    expect(await errorOf(complete)).toMatchObject({ code: 'SERVER_UNKNOWN_APP' });
    const del = (iccid: string, n?: number) =>
      c.delete(
        {
          type: 'deleteRequest',
          transactionId: 1,
          aid: fromHex(TV.aid),
          ...(n ? { cid: cidBytes(n) } : {}),
        },
        iccid,
      );
    expect(await errorOf(del(OTHER_ICCID))).toMatchObject({ code: 'SERVER_UNKNOWN_APP' });
    expect(await errorOf(del(OTHER_ICCID, 1))).toMatchObject({ code: 'SERVER_NOT_BOUND' });
    // Two bound cards hold the application: the SIM must say which.
    await c.applyOffer('basic', [cidHex(3)]);
    expect(await errorOf(del(ICCID))).toMatchObject({ code: 'SERVER_BAD_REQUEST' });
    expect((await del(ICCID, 3)).cid).toEqual(cidBytes(3));
  });

  it('refuses unsigned, badly signed, stale, replayed and wrong-role requests with stable codes', async () => {
    await provision();
    const path = '/v1/sim/bind';
    const msg: SimvaultMessage = {
      type: 'bindRequest',
      transactionId: 1,
      cid: cidBytes(1),
      iccid: ICCID,
    };
    const body = encodeMessage(msg);
    expect(await post(path, body, OCTETS)).toMatchObject({
      status: 401,
      json: { error: { code: 'SERVER_UNAUTHENTICATED' } },
    });
    const stranger: SigningKey = {
      id: 'stranger',
      role: 'ota',
      secret: new Uint8Array(32).fill(7),
    };
    expect(await signed(path, msg, stranger)).toMatchObject({
      status: 401,
      json: { error: { code: 'SERVER_UNAUTHENTICATED' } },
    });
    const forged: SigningKey = { ...OTA_KEY, secret: new Uint8Array(32).fill(9) };
    expect(await signed(path, msg, forged)).toMatchObject({
      status: 401,
      json: { error: { code: 'SERVER_BAD_SIGNATURE' } },
    });
    // The signature covers the body and the query: change either and it no longer verifies.
    const headers = signRequest(OTA_KEY, 'POST', `${server.url}${path}`, body);
    const tampered = encodeMessage({ ...msg, iccid: OTHER_ICCID });
    expect(await post(path, tampered, { ...OCTETS, ...headers })).toMatchObject({
      status: 401,
      json: { error: { code: 'SERVER_BAD_SIGNATURE' } },
    });
    expect(await post(`${path}?brand=X`, body, { ...OCTETS, ...headers })).toMatchObject({
      json: { error: { code: 'SERVER_BAD_SIGNATURE' } },
    });
    expect(
      await post(path, body, { ...OCTETS, ...headers, 'x-simvault-nonce': 'short' }),
    ).toMatchObject({ json: { error: { code: 'SERVER_BAD_SIGNATURE' } } });
    const stale = await signed(path, msg, OTA_KEY, { timestamp: Date.now() - 10 * 60_000 });
    expect(stale).toMatchObject({ status: 401, json: { error: { code: 'SERVER_STALE_REQUEST' } } });
    const future = await signed(path, msg, OTA_KEY, { timestamp: Date.now() + 10 * 60_000 });
    expect(future).toMatchObject({
      status: 401,
      json: { error: { code: 'SERVER_STALE_REQUEST' } },
    });
    // The genuine request passes once; sent again it is a replay.
    expect((await post(path, body, { ...OCTETS, ...headers })).status).toBe(200);
    expect(await post(path, body, { ...OCTETS, ...headers })).toMatchObject({
      status: 401,
      json: { error: { code: 'SERVER_REPLAYED' } },
    });
    expect(await signed(path, msg, OPERATOR_KEY)).toMatchObject({
      status: 403,
      json: { error: { code: 'SERVER_FORBIDDEN' } },
    });
    const asOta = new CardAppClient({ baseUrl: server.url, operatorKey: { ...OTA_KEY } });
    expect(await errorOf(asOta.downloadReport())).toMatchObject({ code: 'SERVER_FORBIDDEN' });
    const anonymous = new CardAppClient({ baseUrl: server.url });
    expect(await errorOf(anonymous.importCards('cid\n', 'csv'))).toMatchObject({
      code: 'SERVER_UNAUTHENTICATED',
    });
    expect(
      await errorOf(
        anonymous.launch(
          { type: 'launchRequest', transactionId: 1, cid: cidBytes(1), aid: fromHex(TV.aid) },
          ICCID,
        ),
      ),
    ).toMatchObject({
      code: 'SERVER_UNAUTHENTICATED',
    });
  });

  it('refuses a request replayed to another server process on the same database', async () => {
    await provision();
    const other = await db.open();
    const second = await startTestServer(other);
    extra.push(other, second);
    const path = '/v1/sim/bind';
    const body = encodeMessage({
      type: 'bindRequest',
      transactionId: 1,
      cid: cidBytes(1),
      iccid: ICCID,
    });
    const headers = { ...OCTETS, ...signRequest(OTA_KEY, 'POST', `${server.url}${path}`, body) };
    expect((await post(path, body, headers)).status).toBe(200);
    const replay = await fetch(`${second.url}${path}`, {
      method: 'POST',
      body: body as Uint8Array<ArrayBuffer>,
      headers,
    });
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ error: { code: 'SERVER_REPLAYED' } });
  });

  it('reads a body sent in parts, and refuses one over the limit or cut short', async () => {
    await provision();
    const path = '/v1/sim/bind';
    const url = `${server.url}${path}`;
    const bindBody = (transactionId: number, n: number) =>
      encodeMessage({ type: 'bindRequest', transactionId, cid: cidBytes(n), iccid: ICCID });
    // Streamed without content-length, a few bytes per part: the signature and the message are
    // checked over the whole body, read once.
    const postStreamed = (bytes: Uint8Array, part: number) =>
      fetch(url, {
        method: 'POST',
        body: streamedBody(bytes, part),
        duplex: 'half',
        headers: { ...OCTETS, ...signRequest(OTA_KEY, 'POST', url, bytes) },
      } as RequestInit);
    const res = await postStreamed(bindBody(1, 1), 3);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-simvault-result')).toBe('ok');
    expect((await store.getBinding(cidKey(1)))?.iccid).toBe(ICCID);

    // Over the 4096-byte limit without content-length: refused, nothing bound.
    const big = new Uint8Array(5000);
    big.set(bindBody(2, 3));
    const over = await postStreamed(big, 1000);
    expect([over.status, await over.json()]).toEqual([
      400,
      { error: { code: 'SERVER_BAD_REQUEST', message: 'the request body exceeds 4096 bytes' } },
    ]);

    // Cut short: the client promises 200 bytes, sends 20 and hangs up. The server goes on.
    const { hostname, port } = new URL(server.url);
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host: hostname, port: Number(port) }, () => {
        socket.write(
          `POST ${path} HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/octet-stream\r\n` +
            'content-length: 200\r\n\r\n',
        );
        socket.write(bindBody(3, 3).subarray(0, 20), () => {
          setTimeout(() => socket.destroy(), 50);
        });
      });
      socket.on('error', reject);
      socket.on('close', () => {
        resolve();
      });
    });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(await store.getBinding(cidKey(3))).toBeUndefined();

    // JSON that is not UTF-8 is refused, not read with replacement characters.
    const notUtf8 = await fetch(`${server.url}/v1/cards/verify`, {
      method: 'POST',
      body: new Uint8Array([0x7b, 0x22, 0x63, 0x69, 0x64, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]),
      headers: { 'content-type': 'application/json' },
    });
    expect(notUtf8.status).toBe(400);
    expect(await notUtf8.json()).toMatchObject({ error: { code: 'SERVER_BAD_REQUEST' } });
  });

  it('validates every SIM message input', async () => {
    await provision();
    const launch: SimvaultMessage = {
      type: 'launchRequest',
      transactionId: 1,
      cid: cidBytes(1),
      aid: fromHex(TV.aid),
    };
    const code = (r: { json?: { error?: { code: string } } | undefined }) => r.json?.error?.code;
    expect(code(await signed('/v1/sim/launch', launch))).toBe('SERVER_BAD_REQUEST'); // no iccid
    expect(code(await signed('/v1/sim/launch?iccid=12x', launch))).toBe('SERVER_BAD_REQUEST');
    expect(code(await signed(`/v1/sim/launch?iccid=${ICCID}`, new Uint8Array([1, 2, 3])))).toBe(
      'SERVER_BAD_REQUEST',
    );
    expect(
      code(
        await signed(`/v1/sim/launch?iccid=${ICCID}`, {
          type: 'unbindRequest',
          transactionId: 1,
          cid: cidBytes(1),
        }),
      ),
    ).toBe('SERVER_BAD_REQUEST');
    const trailing = new Uint8Array([...encodeMessage(launch), 0]);
    expect(code(await signed(`/v1/sim/launch?iccid=${ICCID}`, trailing))).toBe(
      'SERVER_BAD_REQUEST',
    );
    const badCid = { ...launch, cid: fromHex(cidHex(1).slice(0, 30) + 'ff') };
    expect(code(await signed(`/v1/sim/launch?iccid=${ICCID}`, badCid))).toBe('SERVER_BAD_REQUEST');
    const big = new Uint8Array(10_000);
    expect(await signed(`/v1/sim/launch?iccid=${ICCID}`, big)).toMatchObject({
      status: 400,
      json: { error: { code: 'SERVER_BAD_REQUEST' } },
    });
    const body = encodeMessage(launch);
    const path = `/v1/sim/launch?iccid=${ICCID}`;
    const textType = await post(path, body, {
      'content-type': 'text/plain',
      ...signRequest(OTA_KEY, 'POST', `${server.url}${path}`, body),
    });
    expect(code(textType)).toBe('SERVER_BAD_REQUEST');
    const bind: SimvaultMessage = {
      type: 'bindRequest',
      transactionId: 1,
      cid: cidBytes(1),
      iccid: ICCID,
    };
    expect(code(await signed(`/v1/sim/bind?iccid=${OTHER_ICCID}`, bind))).toBe(
      'SERVER_BAD_REQUEST',
    );
    expect(code(await signed('/v1/sim/bind?brand=%00bad', bind))).toBe('SERVER_BAD_REQUEST');
    expect(
      code(
        await signed('/v1/sim/delete', {
          type: 'deleteRequest',
          transactionId: 1,
          aid: fromHex(TV.aid),
        }),
      ),
    ).toBe('SERVER_BAD_REQUEST');
    expect(
      code(await signed(`/v1/sim/delete?iccid=${ICCID}`, new Uint8Array([1, 9, 0, 0, 0, 0, 0]))),
    ).toBe('SERVER_BAD_REQUEST');
    // A delete that does not come through the OTA server (unsigned) is refused.
    const unsigned = await post(
      `/v1/sim/delete?iccid=${ICCID}`,
      encodeMessage({ type: 'deleteRequest', transactionId: 1, aid: fromHex(TV.aid) }),
      OCTETS,
    );
    expect(code(unsigned)).toBe('SERVER_UNAUTHENTICATED');
  });

  it('answers any byte string with a message or a 4xx JSON error, never a 500', async () => {
    await provision();
    await server.client.bind({
      type: 'bindRequest',
      transactionId: 1,
      cid: cidBytes(1),
      iccid: ICCID,
    });
    const valid = encodeMessage({
      type: 'deleteRequest',
      transactionId: 1,
      cid: cidBytes(1),
      aid: fromHex(TV.aid),
    });
    const mutated = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
        const b = valid.slice();
        b[i]! ^= x;
        return b;
      }),
      fc.nat(valid.length - 1).map((n) => valid.slice(0, n)),
    );
    const samples = fc.sample(mutated, { numRuns: 150, seed: 6 });
    const statuses = new Set<number>();
    for (const body of samples) {
      const r = await signed(`/v1/sim/delete?iccid=${ICCID}`, body);
      statuses.add(r.status);
      if (r.status !== 200) {
        expect(r.status).toBeLessThan(500);
        expect(r.json?.error?.code).toMatch(/^SERVER_/);
      }
    }
    expect(statuses.has(400)).toBe(true);
  });

  it('rate-limits anonymous verification per address and signed SIM traffic per CID and SIM, apart', async () => {
    await provision();
    const limited = await startTestServer(store, {
      rateLimit: { capacity: 3, refillPerSecond: 0.01 },
      anonymousRateLimit: { capacity: 3, refillPerSecond: 0.01 },
    });
    extra.push(limited);
    const c = limited.client;
    for (let i = 0; i < 3; i++) await c.verifyCard(cidHex(1), ICCID);
    const e = await errorOf(c.verifyCard(cidHex(3)));
    expect(e).toMatchObject({ code: 'SERVER_RATE_LIMITED', status: 429 });
    expect((e as { retryAfter?: number }).retryAfter).toBeGreaterThanOrEqual(1);
    // Another address is not affected: the limit is the caller's, not the card's.
    const other = await postFrom('127.0.0.2', `${limited.url}/v1/cards/verify`, {
      cid: cidHex(1),
      iccid: ICCID,
    });
    expect(other.status).toBe(200);
    // Anonymous traffic naming card 1 and the SIM drained nothing of theirs: signed binds pass,
    // until the SIM's own bucket is empty.
    const bind = (n: number) =>
      c.bind({ type: 'bindRequest', transactionId: n, cid: cidBytes(n), iccid: ICCID });
    expect((await bind(1)).result).toBe('ok');
    expect((await bind(10)).result).toBe('unknownCard');
    expect((await bind(11)).result).toBe('unknownCard');
    expect(await errorOf(bind(12))).toMatchObject({ code: 'SERVER_RATE_LIMITED' });
  });

  it('imports cards as CSV or JSON with a row-by-row report, and manages catalog, offers and lifecycle', async () => {
    const c = server.client;
    await c.defineApplication(TV);
    await c.defineOffer('tv', [TV.aid]);
    const json = JSON.stringify({
      cards: [
        { cid: cidHex(1), offer: 'tv' },
        { cid: cidKey(2), state: 'active', stage: 'sold' },
        { cid: 'nothex' },
        { cid: cidHex(4), state: 'lost' },
        { cid: cidHex(5), offer: 'radio' },
        { cid: cidHex(1) },
        42,
      ],
    });
    const report = await c.importCards(json, 'json');
    expect(report.rows).toBe(7);
    expect(report.accepted).toBe(2);
    expect(report.rejected.map((r) => [r.row, r.reason])).toEqual([
      [3, 'invalid'],
      [4, 'invalid'],
      [5, 'unknownOffer'],
      [6, 'duplicate'],
      [7, 'invalid'],
    ]);
    expect(report.rejected[1]!.message).toMatch(/^state:/);
    const csv = await c.importCards(
      `cid,stage\n${cidHex(1)},x\n"${cidHex(6)}","in ""shop"""\n${cidHex(7)}\n`,
      'csv',
    );
    expect(csv).toMatchObject({ rows: 3, accepted: 0 });
    expect(csv.rejected.map((r) => r.reason)).toEqual(['duplicate', 'invalid', 'invalid']);
    expect(await errorOf(c.importCards('state\nissued\n', 'csv'))).toMatchObject({
      code: 'SERVER_BAD_REQUEST',
    });
    expect(await errorOf(c.importCards('cid,colour\n', 'csv'))).toMatchObject({
      code: 'SERVER_BAD_REQUEST',
    });
    expect(await errorOf(c.importCards('{"cards": 1}', 'json'))).toMatchObject({
      code: 'SERVER_BAD_REQUEST',
    });

    expect((await c.cardInfo(cidHex(1))).applications.map((a) => a.aid)).toEqual([TV.aid]);
    expect(await c.setLifecycle(cidKey(2), 'blocked', 'stolen')).toMatchObject({
      state: 'blocked',
      stage: 'stolen',
    });
    expect(await errorOf(c.setLifecycle(cidHex(9), 'blocked'))).toMatchObject({
      code: 'SERVER_UNKNOWN_CARD',
    });
    expect(await errorOf(c.setLifecycle(cidHex(1), 'lost' as 'blocked'))).toMatchObject({
      code: 'SERVER_BAD_REQUEST',
    });
    expect(await errorOf(c.cardInfo(cidHex(9)))).toMatchObject({ code: 'SERVER_UNKNOWN_CARD' });
    expect(await errorOf(c.cardInfo('xyz'))).toMatchObject({ code: 'SERVER_BAD_REQUEST' });
    expect(await errorOf(c.defineApplication({ ...TV, zone: 'attic' as 'user' }))).toMatchObject({
      code: 'SERVER_BAD_REQUEST',
    });
    expect(await errorOf(c.defineApplication({ ...TV, name: '' }))).toMatchObject({
      code: 'SERVER_BAD_REQUEST',
    });
    expect(
      await errorOf(
        c.defineApplication({ ...TV, resource: { ...TV.resource!, url: 'has space' } }),
      ),
    ).toMatchObject({ code: 'SERVER_BAD_REQUEST' });
    expect(await errorOf(c.defineApplication({ ...TV, aid: 'a0' }))).toMatchObject({
      code: 'SERVER_BAD_REQUEST',
    });
    expect(await c.listApplications()).toEqual([TV]);
    expect(await errorOf(c.defineOffer('x', ['a0000000879999']))).toMatchObject({
      code: 'SERVER_UNKNOWN_APP',
    });
    expect(await errorOf(c.defineOffer('bad name', [TV.aid]))).toMatchObject({
      code: 'SERVER_BAD_REQUEST',
    });
    expect(await errorOf(c.applyOffer('radio', [cidHex(1)]))).toMatchObject({
      code: 'SERVER_UNKNOWN_OFFER',
    });
    expect(await c.applyOffer('tv', [cidKey(2), cidHex(9)])).toEqual({
      applied: 1,
      unknownCards: [cidKey(9)],
    });
  });

  it('makes one binding out of 20 concurrent binds through two server processes', async () => {
    await provision();
    const other = await db.open();
    const second = await startTestServer(other);
    extra.push(other, second);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? second : server).client.bind({
          type: 'bindRequest',
          transactionId: i,
          cid: cidBytes(1),
          iccid: `8986000000000000${String(i).padStart(4, '0')}`,
        }),
      ),
    );
    expect(results.filter((r) => r.result === 'ok')).toHaveLength(1);
    expect(results.filter((r) => r.result === 'alreadyBound')).toHaveLength(19);
    expect(await store.countBindings()).toBe(1);
  });
});

describe('request log', () => {
  it('writes one JSON line per request with time, method, path, status, ms and request id', async () => {
    const db = testDatabase('sqlite');
    const store = await db.open();
    const lines: Record<string, unknown>[] = [];
    const server = await startTestServer(store, {
      log: (level, msg, fields) => lines.push({ level, msg, ...fields }),
    });
    await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'req-1' } });
    await fetch(`${server.url}/v1/sim/bind`, { method: 'POST', body: 'x' });
    await server.close();
    await store.close();
    await db.drop();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 'info',
      msg: 'request',
      method: 'GET',
      path: '/healthz',
      status: 200,
      requestId: 'req-1',
    });
    expect(typeof lines[0]!['ms']).toBe('number');
    expect(lines[1]).toMatchObject({
      method: 'POST',
      path: '/v1/sim/bind',
      status: 401,
      code: 'SERVER_UNAUTHENTICATED',
    });
  });
});
