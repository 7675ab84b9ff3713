/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access --
   The servers' JSON answers are read ad hoc here; expect() is what checks their shape. */
// HTTP-level tests of the OTA server on loopback, relaying to a real card application server, on
// SQLite and PostgreSQL: MO relay, MT long-poll and event stream, replay and forgery refusals,
// PoRs and counter resynchronisation, RFM pushes, counters across restarts, and bad input.
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../src/bytes.js';
import type { SimvaultMessage } from '../../../src/protocol/messages.js';
import { signRequest, type SigningKey } from '../../../src/server/auth.js';
import { startOtaServer, type RunningOtaServer } from '../../../src/server/ota/start.js';
import type { RegistryStore } from '../../../src/server/store/store.js';
import {
  ADS,
  ICCID,
  OPERATOR_KEY,
  OTA_KEY,
  TV,
  cidBytes,
  cidHex,
  cidKey,
  startTestServer,
  type TestServer,
} from '../fixtures.js';
import { STORE_KINDS, testDatabase, type TestDatabase } from '../stores.js';
import { MO_SPI, SimulatedSim, type Received } from './sim.js';

const TAR = fromHex('b00010');
const OCTETS = { 'content-type': 'application/octet-stream' };
const FAST = { capacity: 10_000, refillPerSecond: 10_000 };

interface Answer {
  status: number;
  json: any;
  headers: Headers;
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    json: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text,
  };
}

describe.each(STORE_KINDS)('OTA server on %s', (kind) => {
  let db: TestDatabase;
  let registry: RegistryStore;
  let cardApp: TestServer;
  let ota: RunningOtaServer;
  let sim: SimulatedSim;

  const start = (extra: Partial<Parameters<typeof startOtaServer>[0]> = {}) =>
    startOtaServer({
      store: db.location,
      keys: [OTA_KEY, OPERATOR_KEY],
      cardAppUrl: cardApp.url,
      rateLimit: FAST,
      pollIntervalMs: 100,
      ...extra,
    });

  beforeEach(async () => {
    db = testDatabase(kind);
    registry = await db.open();
    cardApp = await startTestServer(registry);
    ota = await start();
    sim = new SimulatedSim({ iccid: ICCID, tar: TAR });
    await cardApp.client.defineApplication(TV);
    await cardApp.client.defineApplication(ADS);
    await cardApp.client.defineOffer('basic', [TV.aid, ADS.aid]);
    await cardApp.client.importCards(
      JSON.stringify([
        { cid: cidHex(1), offer: 'basic' },
        { cid: cidHex(2), offer: 'basic' },
      ]),
      'json',
    );
    expect(
      (await operator('PUT', `/v1/admin/sims/${ICCID}`, sim.config({ msisdn: '8613800000001' })))
        .status,
    ).toBe(201);
  });
  afterEach(async () => {
    await ota.close();
    await cardApp.close();
    await registry.close();
    await db.drop();
  });

  async function operator(
    method: string,
    path: string,
    value?: unknown,
    key: SigningKey = OPERATOR_KEY,
  ): Promise<Answer> {
    const body =
      value === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(value));
    const url = `${ota.url}${path}`;
    const headers: Record<string, string> = { ...signRequest(key, method, url, body) };
    if (value !== undefined) headers['content-type'] = 'application/json';
    return answer(
      await fetch(url, {
        method,
        headers,
        ...(value !== undefined ? { body: body } : {}),
      }),
    );
  }

  const postMo = async (
    tpdu: Uint8Array,
    query = `iccid=${ICCID}`,
    headers: Record<string, string> = OCTETS,
  ) =>
    answer(
      await fetch(`${ota.url}/v1/sms/mo?${query}`, {
        method: 'POST',
        headers,
        body: tpdu as Uint8Array<ArrayBuffer>,
      }),
    );

  /** Send every segment; the last answer. */
  async function sendAll(tpdus: Uint8Array[]): Promise<Answer> {
    let last: Answer | undefined;
    for (const t of tpdus) last = await postMo(t);
    return last!;
  }

  /** A read of the SIM's queue, signed with its handset credential as a handset would. */
  const mtGet = (query: string, init: RequestInit = {}, reader: SimulatedSim = sim) => {
    const url = `${ota.url}/v1/sms/mt${query}`;
    return fetch(url, { ...init, headers: reader.handsetHeaders(url) });
  };

  const fetchMt = async (after: number, wait = 0) =>
    answer(await mtGet(`?iccid=${ICCID}&after=${after}&wait=${wait}`));

  /** Fetch and open every complete packet queued after `after`. */
  async function receive(
    after = 0,
    o: { checkCounter?: boolean } = {},
  ): Promise<{ got: Received[]; next: number }> {
    const r = await fetchMt(after, 0);
    expect(r.status).toBe(200);
    const got: Received[] = [];
    for (const m of r.json.messages) {
      const x = sim.deliver(m.tpdu, o);
      if (x) got.push(x);
    }
    return { got, next: r.json.next };
  }

  const bind = (tx = 1, cid = cidBytes(1)): SimvaultMessage => ({
    type: 'bindRequest',
    transactionId: tx,
    cid,
    iccid: ICCID,
  });

  it('relays a bind request to the card application server and queues the secured bind response (long-poll)', async () => {
    // The handset is already waiting when the SIM's request arrives.
    const polling = fetchMt(0, 10);
    const a = await sendAll(sim.mo(bind(7)));
    expect(a.status).toBe(200);
    expect(a.json).toMatchObject({
      status: 'accepted',
      kind: 'command',
      counter: 1,
      keyVersion: 1,
      message: { type: 'bindRequest', transactionId: 7 },
    });
    expect(a.json.reply).toMatchObject({ type: 'bindResponse', transactionId: 7, counter: 1 });
    const poll = await polling;
    expect(poll.status).toBe(200);
    expect(poll.json.messages.length).toBeGreaterThan(0);
    const all = [...poll.json.messages];
    // The poll may have woken on the first segments; fetch the rest.
    const rest = await fetchMt(poll.json.next);
    all.push(...rest.json.messages);
    expect(all.map((m: { seq: number }) => m.seq)).toEqual(a.json.reply.seqs);
    let got: Received | undefined;
    for (const m of all) got = sim.deliver(m.tpdu) ?? got;
    expect(got?.kind).toBe('command');
    if (got?.kind !== 'command') return;
    expect(toHex(got.packet.tar)).toBe('b00010');
    expect(got.packet.spi).toMatchObject({
      ciphered: true,
      integrity: 'cc',
      counter: 'must-be-higher',
    });
    const reply = got.message;
    expect(reply.type).toBe('bindResponse');
    if (reply.type !== 'bindResponse') return;
    expect(reply.result).toBe('ok');
    expect(reply.applications.map((x) => toHex(x.aid))).toEqual([TV.aid, ADS.aid]);
    // The binding is in the registry, for this SIM.
    expect((await registry.getBinding(toHex(cidBytes(1)).slice(0, 30)))?.iccid).toBe(ICCID);
  });

  it('reassembles a concatenated MO message sent out of order and relays a launch request', async () => {
    await sendAll(sim.mo(bind(1)));
    const { next } = await receive(0);
    const launch: SimvaultMessage = {
      type: 'launchRequest',
      transactionId: 2,
      cid: cidBytes(1),
      aid: fromHex(TV.aid),
      input: new Uint8Array(200).fill(7),
    };
    const tpdus = sim.mo(launch);
    expect(tpdus.length).toBe(2);
    const first = await postMo(tpdus[1]!);
    expect(first.status).toBe(202);
    expect(first.json).toMatchObject({
      status: 'incomplete',
      received: 1,
      total: 2,
      duplicate: false,
    });
    const second = await postMo(tpdus[0]!);
    expect(second.status).toBe(200);
    expect(second.json.reply.type).toBe('downloadResourceInfo');
    // A segment the network delivers twice is recognised, not relayed again.
    const repeat = await postMo(tpdus[1]!);
    expect([repeat.status, repeat.json.duplicate]).toEqual([202, true]);
    const { got } = await receive(next);
    const info = got.at(-1);
    expect(
      info?.kind === 'command' &&
        info.message.type === 'downloadResourceInfo' &&
        info.message.resource.url,
    ).toBe(TV.resource!.url);
  });

  it('refuses a replayed MO packet with counter-low and relays it only once', async () => {
    const tpdus = sim.mo(bind(1));
    expect((await sendAll(tpdus)).status).toBe(200);
    const again = await sendAll(tpdus);
    expect(again.status).toBe(409);
    expect(again.json.error).toMatchObject({ code: 'OTA_REPLAYED', porStatus: 'counter-low' });
    // An old counter with fresh content is refused just the same.
    const older = await sendAll(sim.mo(bind(2), { counter: 1 }));
    expect(older.json.error.code).toBe('OTA_REPLAYED');
    const { got } = await receive(0);
    expect(got.filter((g) => g.kind === 'command')).toHaveLength(1);
    // The next counter goes through.
    expect((await sendAll(sim.mo(bind(3)))).status).toBe(200);
  });

  it('carries a whole launch: resource info, the file from the OTA server, launch and download complete', async () => {
    const content = new Uint8Array(randomBytes(20_000));
    const sha = createHash('sha256').update(content).digest('hex');
    const uploadUrl = `${ota.url}/v1/admin/files/game.bin?sha256=${sha}`;
    const up = await fetch(uploadUrl, {
      method: 'PUT',
      headers: signRequest(OPERATOR_KEY, 'PUT', uploadUrl),
      body: content,
    });
    expect(up.status).toBe(201);
    const game = {
      aid: 'a0000000872001',
      name: 'Game',
      zone: 'user' as const,
      size: 40_000,
      version: '1.0',
      resource: { url: `${ota.url}/v1/files/game.bin`, digest: sha, size: content.length },
    };
    await cardApp.client.defineApplication(game);
    await cardApp.client.defineOffer('games', [game.aid]);
    await cardApp.client.applyOffer('games', [cidKey(2)]);

    await sendAll(sim.mo(bind(1, cidBytes(2))));
    let r = await receive(0);
    const launched = await sendAll(
      sim.mo({ type: 'launchRequest', transactionId: 2, cid: cidBytes(2), aid: fromHex(game.aid) }),
    );
    expect(launched.json.reply.type).toBe('downloadResourceInfo');
    r = await receive(r.next);
    const info = r.got[0];
    if (info?.kind !== 'command' || info.message.type !== 'downloadResourceInfo')
      throw new Error('expected download resource info');
    const resource = info.message.resource;
    // The handset fetches the file where the resource says, and checks it against the digest.
    const file = new Uint8Array(await (await fetch(resource.url)).arrayBuffer());
    expect(toHex(new Uint8Array(createHash('sha256').update(file).digest()))).toBe(
      toHex(resource.digest),
    );
    const stored = await sendAll(
      sim.mo({
        type: 'launchComplete',
        transactionId: 2,
        cid: cidBytes(2),
        aid: fromHex(game.aid),
        size: file.length,
        digest: resource.digest,
      }),
    );
    expect(stored.json).toMatchObject({
      status: 'accepted',
      reply: null,
      outcome: { status: 'stored', aid: game.aid },
    });
    const done = await sendAll(
      sim.mo({
        type: 'downloadComplete',
        transactionId: 2,
        cid: cidBytes(2),
        result: 'ok',
        aid: fromHex(game.aid),
      }),
    );
    expect(done.json.outcome.status).toBe('stored');
    // A launch the card application server refuses keeps its stable code.
    const refused = await sendAll(
      sim.mo({ type: 'launchRequest', transactionId: 3, cid: cidBytes(2), aid: fromHex(TV.aid) }),
    );
    expect([refused.status, refused.json.error.code]).toEqual([404, 'SERVER_UNKNOWN_APP']);
  });

  it('reports an unreachable card application server as OTA_UPSTREAM, and logs structured lines', async () => {
    await ota.close();
    const entries: Record<string, unknown>[] = [];
    ota = await start({
      cardAppUrl: 'http://127.0.0.1:9',
      log: (level, msg, fields) => entries.push({ level, msg, ...fields }),
    });
    const r = await sendAll(sim.mo(bind(1)));
    expect([r.status, r.json.error.code]).toEqual([502, 'OTA_UPSTREAM']);
    expect(entries).toContainEqual(
      expect.objectContaining({
        level: 'error',
        msg: 'card application server failed',
        iccid: ICCID,
      }),
    );
    expect(entries).toContainEqual(
      expect.objectContaining({
        msg: 'request',
        server: 'ota',
        path: '/v1/sms/mo',
        status: 502,
        code: 'OTA_UPSTREAM',
      }),
    );
    // A wrong shared secret is the OTA server's fault too, not the handset's.
    await ota.close();
    ota = await start({ keys: [{ ...OTA_KEY, secret: new Uint8Array(32).fill(1) }, OPERATOR_KEY] });
    const unsigned = await sendAll(sim.mo(bind(2)));
    expect([unsigned.status, unsigned.json.error.code]).toEqual([502, 'OTA_UPSTREAM']);
  });

  it('relays one packet once when it arrives many times at once', async () => {
    const [tpdu] = sim.mo(bind(1));
    const answers = await Promise.all(Array.from({ length: 6 }, () => postMo(tpdu!)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
    const { got } = await receive(0);
    expect(got).toHaveLength(1);
  });

  it('answers a replay with a counter-low PoR carrying the accepted counter when the SIM asks for PoRs', async () => {
    const spi = { ...MO_SPI, porRequest: 'always' as const };
    const tpdus = sim.mo(bind(1), { spi, counter: 5 });
    const ok = await sendAll(tpdus);
    expect(ok.json.por).toMatchObject({ type: 'por', counter: 5 });
    const refused = await sendAll(tpdus);
    expect(refused.json.error.porStatus).toBe('counter-low');
    const { got } = await receive(0);
    const pors = got.flatMap((g) => (g.kind === 'por' ? [g.por] : []));
    expect(pors.map((p) => p.status)).toEqual(['ok', 'counter-low']);
    expect(toHex(pors[1]!.data)).toBe('0000000005');
  });

  it('refuses a forged checksum without moving the counter', async () => {
    const packet = sim.packet(bind(1));
    const forged = packet.slice();
    forged[forged.length - 1]! ^= 0x01;
    const r = await sendAll(sim.submitTpdus(forged));
    expect(r.status).toBe(401);
    expect(r.json.error).toMatchObject({ code: 'OTA_BAD_CHECKSUM', porStatus: 'checksum-failed' });
    // A packet from someone with other keys: the same.
    const other = new SimulatedSim({ iccid: ICCID, tar: TAR, kid: new Uint8Array(16).fill(9) });
    expect((await sendAll(other.mo(bind(1)))).json.error.code).toBe('OTA_BAD_CHECKSUM');
    // Nothing was queued, and the genuine counter 1 is still fresh.
    expect((await fetchMt(0)).json.messages).toEqual([]);
    expect((await sendAll(sim.mo(bind(1), { counter: 1 }))).status).toBe(200);
  });

  it('refuses packets below the minimum security level or to another TAR', async () => {
    const clear = await sendAll(sim.mo(bind(1), { spi: { ...MO_SPI, ciphered: false } }));
    expect(clear.status).toBe(403);
    expect(clear.json.error).toMatchObject({
      code: 'OTA_INSUFFICIENT_SECURITY',
      porStatus: 'insufficient-security-level',
    });
    const noCounter = await sendAll(sim.mo(bind(1), { spi: { ...MO_SPI, counter: 'none' } }));
    expect(noCounter.json.error.code).toBe('OTA_INSUFFICIENT_SECURITY');
    const tar = await sendAll(sim.mo(bind(1), { tar: fromHex('b00099') }));
    expect(tar.status).toBe(404);
    expect(tar.json.error).toMatchObject({ code: 'OTA_UNKNOWN_TAR', porStatus: 'tar-unknown' });
  });

  it('refuses messages a SIM may not send and bind requests naming another SIM', async () => {
    const stk: SimvaultMessage = {
      type: 'stkListUpdate',
      transactionId: 1,
      cards: [],
      listVersion: 9,
    };
    expect((await sendAll(sim.mo(stk))).json.error.code).toBe('OTA_BAD_MESSAGE');
    const foreign: SimvaultMessage = {
      type: 'bindRequest',
      transactionId: 1,
      cid: cidBytes(1),
      iccid: '89860000000000000001',
    };
    expect((await sendAll(sim.mo(foreign))).json.error.code).toBe('OTA_BAD_MESSAGE');
    expect((await sendAll(sim.mo(new Uint8Array([0xff, 0x00])))).json.error.code).toBe(
      'OTA_BAD_MESSAGE',
    );
  });

  it('answers bad handset input with typed JSON errors', async () => {
    const tpdu = sim.mo(bind(1))[0]!;
    const cases: [Promise<Answer>, number, string][] = [
      [postMo(tpdu, `iccid=${ICCID}`, { 'content-type': 'text/plain' }), 400, 'SERVER_BAD_REQUEST'],
      [postMo(tpdu, 'iccid=12ab'), 400, 'SERVER_BAD_REQUEST'],
      [postMo(tpdu, ''), 400, 'SERVER_BAD_REQUEST'],
      [postMo(tpdu, `iccid=${ICCID}&msisdn=8613800000001`), 400, 'SERVER_BAD_REQUEST'],
      [postMo(tpdu, 'iccid=89860000000000000001'), 404, 'OTA_UNKNOWN_SIM'],
      [postMo(tpdu, 'msisdn=8613800000009'), 404, 'OTA_UNKNOWN_SIM'],
      [postMo(new Uint8Array([0x01, 0x02, 0x03])), 400, 'OTA_BAD_SMS'],
      [postMo(new Uint8Array(0)), 400, 'SERVER_BAD_REQUEST'],
      [postMo(new Uint8Array(2000)), 400, 'SERVER_BAD_REQUEST'],
      // An SMS-SUBMIT without a user data header is no secured packet.
      [postMo(fromHex('0100038121f37ff6020102')), 400, 'OTA_BAD_SMS'],
      // 7-bit text.
      [postMo(fromHex('4100038121f37f00050270000102')), 400, 'OTA_BAD_SMS'],
      [answer(await mtGet(`?iccid=${ICCID}&wait=999`)), 400, 'SERVER_BAD_REQUEST'],
      [answer(await mtGet(`?iccid=${ICCID}&after=-1`)), 400, 'SERVER_BAD_REQUEST'],
      [
        answer(await fetch(`${ota.url}/v1/sms/mt?iccid=89860000000000000001`)),
        401,
        'SERVER_UNAUTHENTICATED',
      ],
      [answer(await fetch(`${ota.url}/v1/nowhere`)), 404, 'SERVER_NOT_FOUND'],
    ];
    expect((await answer(await fetch(`${ota.url}/healthz`))).json).toEqual({
      status: 'ok',
      server: 'ota',
    });
    for (const [p, status, code] of cases) {
      const r = await p;
      expect([r.status, r.json.error?.code]).toEqual([status, code]);
      expect(typeof r.json.error.message).toBe('string');
    }
    // The MSISDN names the SIM just as well.
    expect((await postMo(tpdu, 'msisdn=8613800000001')).status).toBe(200);
  });

  it('guards the operator endpoints with signatures', async () => {
    const unsigned = await answer(await fetch(`${ota.url}/v1/admin/sims/${ICCID}`));
    expect([unsigned.status, unsigned.json.error.code]).toEqual([401, 'SERVER_UNAUTHENTICATED']);
    const wrongRole = await operator('GET', `/v1/admin/sims/${ICCID}`, undefined, OTA_KEY);
    expect([wrongRole.status, wrongRole.json.error.code]).toEqual([403, 'SERVER_FORBIDDEN']);
    const url = `${ota.url}/v1/admin/sims/${ICCID}`;
    const headers = signRequest(OPERATOR_KEY, 'GET', url);
    expect((await fetch(url, { headers })).status).toBe(200);
    const replayed = await answer(await fetch(url, { headers }));
    expect([replayed.status, replayed.json.error.code]).toEqual([401, 'SERVER_REPLAYED']);
    const badConfig = await operator('PUT', `/v1/admin/sims/${ICCID}`, {
      tar: 'b000',
      keysets: [],
    });
    expect([badConfig.status, badConfig.json.error.code]).toEqual([400, 'SERVER_BAD_REQUEST']);
    const shortKey = await operator('PUT', `/v1/admin/sims/${ICCID}`, {
      tar: 'b00010',
      keysets: [{ version: 1, kic: '00', kid: '00' }],
    });
    expect(shortKey.json.error.message).toMatch(/keysets\[0\]\.kic/);
    const info = await operator('GET', `/v1/admin/sims/${ICCID}`);
    expect(info.json).toMatchObject({
      iccid: ICCID,
      tar: 'b00010',
      mt: { spi: '1629', kic: '12' },
      keysets: [{ version: 1, algorithm: 'aes' }],
    });
    expect(JSON.stringify(info.json)).not.toContain(toHex(sim.kic));
  });

  it('rate-limits MO posts per address and queue reads per SIM', async () => {
    await ota.close();
    const SLOW = { capacity: 2, refillPerSecond: 0.01 };
    ota = await start({ rateLimit: SLOW, anonymousRateLimit: SLOW });
    const tpdu = new Uint8Array([1, 2, 3]);
    await postMo(tpdu);
    await postMo(tpdu);
    const limited = await postMo(tpdu);
    expect([limited.status, limited.json.error.code]).toEqual([429, 'SERVER_RATE_LIMITED']);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // The SIM's own bucket is untouched by those posts; its handset's reads draw on it.
    expect((await fetchMt(0)).status).toBe(200);
    expect((await fetchMt(0)).status).toBe(200);
    expect((await fetchMt(0)).status).toBe(429);
  });

  it('keeps rate limits per process: two processes allow twice the burst', async () => {
    await ota.close();
    const SLOW = { capacity: 2, refillPerSecond: 0.01 };
    ota = await start({ rateLimit: SLOW, anonymousRateLimit: SLOW });
    const second = await start({ rateLimit: SLOW, anonymousRateLimit: SLOW });
    try {
      const statuses = async (url: string) => {
        const out: number[] = [];
        for (let i = 0; i < 3; i++) {
          const res = await fetch(`${url}/v1/sms/mo?iccid=${ICCID}`, {
            method: 'POST',
            headers: OCTETS,
            body: new Uint8Array([1, 2, 3]),
          });
          out.push(res.status);
        }
        return out;
      };
      expect(await statuses(ota.url)).toEqual([400, 400, 429]);
      expect(await statuses(second.url)).toEqual([400, 400, 429]);
    } finally {
      await second.close();
    }
  });

  it("lets only the SIM's handset read its queue, and tells strangers nothing", async () => {
    await sendAll(sim.mo(bind(1)));
    expect((await fetchMt(0)).json.messages.length).toBeGreaterThan(0);
    const url = (query: string) => `${ota.url}/v1/sms/mt${query}`;
    const other = new SimulatedSim({ iccid: '89860000000000000001', tar: TAR });
    const forged = new SimulatedSim({ iccid: ICCID, tar: TAR, kid: new Uint8Array(16) });
    const refusals = [
      // Unsigned, for a SIM that exists and one that does not.
      await fetch(url(`?iccid=${ICCID}`)),
      await fetch(url('?iccid=89860000000000000001')),
      // Signed by a SIM that is not provisioned, asking for itself and for ours.
      await mtGet('?iccid=89860000000000000001', {}, other),
      await fetch(url(`?iccid=${ICCID}`), {
        headers: other.handsetHeaders(url(`?iccid=${ICCID}`)),
      }),
      // A credential from the wrong keys, a key version the SIM has no keyset for.
      await mtGet(`?iccid=${ICCID}`, {}, forged),
      await mtGet(
        `?iccid=${ICCID}`,
        {},
        new SimulatedSim({ iccid: ICCID, tar: TAR, keyVersion: 2 }),
      ),
      // By MSISDN: unknown, and known without the credential.
      await fetch(url('?msisdn=8613800000009')),
      await fetch(url('?msisdn=8613800000001')),
      await fetch(url(`/stream?iccid=${ICCID}`)),
    ];
    const bodies = await Promise.all(refusals.map(answer));
    for (const b of bodies) {
      expect(b.status).toBe(401);
      expect(b.json).toEqual(bodies[0]!.json);
    }
    expect(bodies[0]!.json.error.code).toBe('SERVER_UNAUTHENTICATED');
    expect(JSON.stringify(bodies.map((b): unknown => b.json))).not.toContain(ICCID);
    // A signed read cannot be replayed.
    const signed = url(`?iccid=${ICCID}`);
    const headers = sim.handsetHeaders(signed);
    expect((await fetch(signed, { headers })).status).toBe(200);
    expect((await answer(await fetch(signed, { headers }))).json.error.code).toBe(
      'SERVER_REPLAYED',
    );
    // By MSISDN with the credential.
    const byMsisdn = await mtGet('?msisdn=8613800000001');
    expect((await answer(byMsisdn)).json.iccid).toBe(ICCID);
  });

  it('keeps anonymous traffic from locking a SIM out of its queue', async () => {
    await ota.close();
    const SLOW = { capacity: 5, refillPerSecond: 0.01 };
    ota = await start({ rateLimit: SLOW, anonymousRateLimit: SLOW });
    // A stranger hammers the SIM's queue and MO endpoint until its own address is refused...
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      statuses.push((await fetch(`${ota.url}/v1/sms/mt?iccid=${ICCID}`)).status);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5).every((s) => s === 429)).toBe(true);
    // ...while the SIM's handset still reads it: every token of the SIM's bucket is its own.
    for (let i = 0; i < 5; i++) expect((await fetchMt(0)).status).toBe(200);
  });

  it('verifies PoRs, drops acknowledged packets from the queue and resynchronises on counter-low', async () => {
    await sendAll(sim.mo(bind(1)));
    const first = await receive(0);
    const cmd = first.got[0];
    if (cmd?.kind !== 'command') throw new Error('expected the bind response');
    const ok = await sendAll(sim.por(cmd.packet, 'ok'));
    expect(ok.json).toMatchObject({
      status: 'accepted',
      kind: 'por',
      counter: 1,
      porStatus: 'ok',
      resyncedCounter: null,
    });
    expect((await fetchMt(0)).json.messages).toEqual([]);

    // The SIM claims to be at counter 40 when the next response arrives.
    await sendAll(sim.mo(bind(2)));
    const second = await receive(0);
    const cmd2 = second.got[0];
    if (cmd2?.kind !== 'command') throw new Error('expected the second bind response');
    expect(Number(cmd2.packet.counter)).toBe(2);
    const low = await sendAll(sim.por(cmd2.packet, 'counter-low', fromHex('0000000028')));
    expect(low.json).toMatchObject({ kind: 'por', porStatus: 'counter-low', resyncedCounter: 40 });
    expect(low.json.resent).toMatchObject({ type: 'bindResponse', transactionId: 2, counter: 41 });
    sim.lastMt = 40;
    const third = await receive(second.next);
    expect(
      third.got.map((g) =>
        g.kind === 'command' ? [Number(g.packet.counter), g.message.type] : g.kind,
      ),
    ).toEqual([[41, 'bindResponse']]);
    const counters = (await operator('GET', `/v1/admin/sims/${ICCID}`)).json.counters;
    expect(counters).toEqual([
      { keyVersion: 1, direction: 'mo', value: 2 },
      { keyVersion: 1, direction: 'mt', value: 41 },
    ]);

    // A PoR for nothing sent, and a forged one, are refused.
    const stray = await sendAll(sim.por({ ...cmd2.packet, counter: 999n }, 'ok'));
    expect(stray.json.error.code).toBe('OTA_UNKNOWN_POR');
    const forged = sim.por(cmd2.packet, 'ok');
    const bytes = forged[0]!.slice();
    bytes[bytes.length - 1]! ^= 1;
    expect((await postMo(bytes)).json.error.code).toBe('OTA_BAD_CHECKSUM');
  });

  it('refuses a replayed PoR: a captured "counter low" cannot make the server resend again', async () => {
    await sendAll(sim.mo(bind(1)));
    const first = await receive(0);
    const cmd = first.got[0];
    if (cmd?.kind !== 'command') throw new Error('expected the bind response');
    const low = sim.por(cmd.packet, 'counter-low', fromHex('0000000028'));
    expect((await sendAll(low)).json).toMatchObject({
      kind: 'por',
      porStatus: 'counter-low',
      resent: { counter: 41 },
    });
    const queued = (await fetchMt(0)).json.messages.length;
    for (let i = 0; i < 3; i++)
      expect((await sendAll(low)).json.error).toMatchObject({
        code: 'OTA_REPLAYED',
        porStatus: 'counter-low',
      });
    expect((await fetchMt(0)).json.messages.length).toBe(queued);
    const ok = sim.por(cmd.packet, 'ok');
    expect((await sendAll(ok)).json.error.code).toBe('OTA_REPLAYED');
  });

  it('pushes STK list updates (RFM) over the event stream, with growing list versions', async () => {
    const events = new AbortController();
    const res = await mtGet(`/stream?iccid=${ICCID}`, { signal: events.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const cards = [
      {
        cid: cidHex(1),
        applications: [{ aid: TV.aid, name: TV.name, zone: 'multimedia', state: 'active' }],
      },
    ];
    const push = await operator('POST', `/v1/admin/sims/${ICCID}/stk-list`, { cards });
    expect(push.status).toBe(202);
    expect(push.json).toMatchObject({ type: 'stkListUpdate', listVersion: 1, counter: 1 });
    const second = await operator('POST', `/v1/admin/sims/${ICCID}/stk-list`, { cards: [] });
    expect(second.json.listVersion).toBe(2);

    let buffer = '';
    const updates: SimvaultMessage[] = [];
    while (updates.length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        if (!block.includes('event: sms')) continue;
        const data = JSON.parse(
          block
            .split('\n')
            .find((l) => l.startsWith('data: '))!
            .slice(6),
        );
        expect(block).toContain(`id: ${data.seq}`);
        const got = sim.deliver(data.tpdu);
        if (got?.kind === 'command') updates.push(got.message);
      }
    }
    events.abort();
    expect(
      updates.map((u) => u.type === 'stkListUpdate' && [u.listVersion, u.cards.length]),
    ).toEqual([
      [1, 1],
      [2, 0],
    ]);
    const u = updates[0]!;
    expect(u.type === 'stkListUpdate' && toHex(u.cards[0]!.applications[0]!.aid)).toBe(TV.aid);
    const bad = await operator('POST', `/v1/admin/sims/${ICCID}/stk-list`, {
      cards: [{ cid: 'zz' }],
    });
    expect([bad.status, bad.json.error.code]).toEqual([400, 'SERVER_BAD_REQUEST']);
    const unknown = await operator('POST', '/v1/admin/sims/89860000000000000001/stk-list', {
      cards: [],
    });
    expect(unknown.json.error.code).toBe('OTA_UNKNOWN_SIM');
  });

  it('keeps counters and the queue across a restart', async () => {
    await sendAll(sim.mo(bind(1)));
    const replay = sim.mo(bind(2));
    await sendAll(replay);
    const before = await receive(0);
    expect(before.got.map((g) => g.kind === 'command' && Number(g.packet.counter))).toEqual([1, 2]);

    await ota.close();
    ota = await start();
    // The queue survived: a handset that lost its place gets the packets again...
    expect((await fetchMt(0)).json.messages.length).toBeGreaterThan(0);
    // ...the MO counter too: the old packet is still a replay...
    expect((await sendAll(replay)).json.error.code).toBe('OTA_REPLAYED');
    // ...and the next packet to the SIM carries a counter never used before.
    await sendAll(sim.mo(bind(3)));
    const after = await receive(before.next);
    expect(after.got.map((g) => g.kind === 'command' && Number(g.packet.counter))).toEqual([3]);
  });

  it('ends long-polls and event streams when the server stops', async () => {
    const poll = fetchMt(0, 30);
    const stream = await mtGet(`/stream?iccid=${ICCID}`);
    const drained = stream.text();
    await new Promise((r) => setTimeout(r, 150));
    const t0 = Date.now();
    await ota.close();
    expect((await poll).json.messages).toEqual([]);
    expect(await drained).toContain('event: ready');
    expect(Date.now() - t0).toBeLessThan(5000);
    ota = await start();
  });
});
