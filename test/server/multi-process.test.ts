/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access --
   The servers' JSON answers are read ad hoc here; expect() is what checks their shape. */
// Several processes behave as one: 3 OTA server processes and 2 card application server
// processes (the real CLI, `--only`, on loopback) share one PostgreSQL schema. The segments of
// one concatenated SMS spread over the OTA processes are relayed once; a handset waiting on one
// process hears an answer another queued (NOTIFY, not the re-check: that is set to 10 minutes);
// binds of one card over both card application servers give one binding; and `kill -9` of an OTA
// process under load loses no acknowledged request and uses no counter twice.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex } from '../../src/bytes.js';
import type { SimvaultMessage } from '../../src/protocol/messages.js';
import { CardAppClient } from '../../src/server/card-app/client.js';
import { loadOrCreateKeys } from '../../src/server/keys.js';
import type { QueuedPacket } from '../../src/server/ota/relay.js';
import { parseSimConfig } from '../../src/server/ota/sim-config.js';
import { openOtaStore, type OtaStore } from '../../src/server/ota/store.js';
import type { RegistryStore } from '../../src/server/store/store.js';
import { TV, cidBytes, cidHex, cidKey } from './fixtures.js';
import { SimulatedSim } from './ota/sim.js';
import { dbArgs, spawnServer, type ServerChild } from './spawn.js';
import { testDatabase } from './stores.js';

const TAR = fromHex('b00010');
const OCTETS = { 'content-type': 'application/octet-stream' };
/** Long enough that only a notification explains a handset hearing an answer within WOKEN_MS. */
const RECHECK_MS = 600_000;
const WOKEN_MS = 10_000;
const MESSAGES = 30;
const iccidOf = (n: number) => `8986${String(n).padStart(16, '0')}`;

interface Answer {
  status: number;
  json: any;
}
/** What these tests read of an accepted MO outcome. */
interface Relayed {
  counter: number;
  message: { transactionId: number };
  reply: QueuedPacket;
}

describe('3 OTA and 2 card application server processes on one PostgreSQL schema', () => {
  const db = testDatabase('postgres');
  const cardApps: ServerChild[] = [];
  const otas: ServerChild[] = [];
  let client: CardAppClient;
  let clients: CardAppClient[];
  let ota: OtaStore;
  let registry: RegistryStore;
  const sims = new Map<number, SimulatedSim>();

  // Every test request comes from one loopback address: no limit may get in the way.
  const common = () => [
    ...dbArgs(db),
    '--quiet',
    '--rate-limit',
    '1000000/1000000',
    '--anonymous-rate-limit',
    '1000000/1000000',
  ];

  beforeAll(async () => {
    // Created once, before the processes that share it start.
    const keys = await loadOrCreateKeys(join(db.location.dataDir, 'keys.json'));
    cardApps.push(
      ...(await Promise.all(
        [0, 1].map(() =>
          spawnServer([...common(), '--only', 'card-app'], { expect: ['card-app'] }),
        ),
      )),
    );
    otas.push(
      ...(await Promise.all(
        [0, 1, 2].map((i) =>
          spawnServer(
            [
              ...common(),
              '--only',
              'ota',
              '--card-app-url',
              cardApps[i % 2]!.urls['card-app']!,
              '--mt-recheck',
              String(RECHECK_MS),
            ],
            { expect: ['ota'] },
          ),
        ),
      )),
    );
    clients = cardApps.map(
      (c) =>
        new CardAppClient({
          baseUrl: c.urls['card-app']!,
          otaKey: keys.find((k) => k.role === 'ota')!,
          operatorKey: keys.find((k) => k.role === 'operator')!,
        }),
    );
    client = clients[0]!;
    await client.defineApplication(TV);
    await client.defineOffer('tv', [TV.aid]);
    await client.importCards(
      JSON.stringify(Array.from({ length: 20 }, (_, i) => ({ cid: cidHex(i), offer: 'tv' }))),
      'json',
    );
    ota = await openOtaStore(db.location);
    registry = await db.open();
    // SIM n holds card n, bound through the first OTA process.
    for (let n = 0; n < 15; n++) {
      const sim = new SimulatedSim({ iccid: iccidOf(n), tar: TAR });
      sims.set(n, sim);
      await ota.putSim(parseSimConfig(sim.iccid, sim.config()), Date.now());
      const bound = await post(0, sim, sim.mo(bind(n))[0]!);
      expect(bound.json.reply.type).toBe('bindResponse');
    }
  }, 120_000);

  afterAll(async () => {
    for (const child of [...otas, ...cardApps]) {
      if (child.process.exitCode === null && child.process.signalCode === null) {
        child.process.kill('SIGTERM');
        await child.exited;
      }
    }
    await ota.close();
    await registry.close();
    await db.drop();
  });

  const bind = (n: number): SimvaultMessage => ({
    type: 'bindRequest',
    transactionId: n,
    cid: cidBytes(n),
    iccid: iccidOf(n),
  });
  const launch = (n: number, tx: number, input?: Uint8Array): SimvaultMessage => ({
    type: 'launchRequest',
    transactionId: tx,
    cid: cidBytes(n),
    aid: fromHex(TV.aid),
    ...(input ? { input } : {}),
  });

  async function post(process: number, sim: SimulatedSim, tpdu: Uint8Array): Promise<Answer> {
    const res = await fetch(`${otas[process]!.urls['ota']!}/v1/sms/mo?iccid=${sim.iccid}`, {
      method: 'POST',
      headers: OCTETS,
      body: tpdu as Uint8Array<ArrayBuffer>,
    });
    return { status: res.status, json: await res.json() };
  }

  const downloads = async (n: number) => (await registry.fileRecords(cidKey(n)))[0]?.downloads ?? 0;

  it('relays once a concatenated SMS whose segments reach all three OTA processes', async () => {
    const sim = sims.get(1)!;
    for (let round = 0; round < 5; round++) {
      const before = await ota.lastMoCounter(sim.iccid, 1);
      const tpdus = sim.mo(launch(1, round, new Uint8Array(250).fill(round)));
      expect(tpdus).toHaveLength(3);
      // Every segment to every process, all at once: nine posts, one relay.
      const answers = await Promise.all(
        tpdus.flatMap((t, i) => [0, 1, 2].map((p) => post((i + p) % 3, sim, t))),
      );
      const relayed = answers.filter((a) => a.status === 200);
      expect(relayed).toHaveLength(1);
      expect(relayed[0]!.json).toMatchObject({
        status: 'accepted',
        counter: before + 1,
        message: { type: 'launchRequest', transactionId: round },
        reply: { type: 'downloadResourceInfo' },
      });
      expect(answers.filter((a) => a.status === 202)).toHaveLength(8);
      expect(await ota.lastMoCounter(sim.iccid, 1)).toBe(before + 1);
      expect(await downloads(1)).toBe(round + 1);
    }
  });

  it('wakes a long-poll on one process and an event stream on another with an answer queued through a third', async () => {
    const sim = sims.get(2)!;
    const after = await ota.lastSeq(sim.iccid);
    const base = (p: number) => `${otas[p]!.urls['ota']!}/v1/sms/mt`;
    // Reads of the queue are signed with the SIM's handset credential, as a handset's are.
    const read = (url: string) =>
      fetch(url, { headers: sim.handsetHeaders(url), signal: AbortSignal.timeout(WOKEN_MS) });
    const longPoll = read(`${base(1)}?iccid=${sim.iccid}&after=${after}&wait=60`).then(
      (r) => r.json() as Promise<{ messages: { seq: number; tpdu: string }[] }>,
    );
    const stream = await read(`${base(2)}/stream?iccid=${sim.iccid}&after=${after}`);
    expect(stream.status).toBe(200);
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('event: ready')) text += (await reader.read()).value ?? '';
    // Both are parked: the long-poll's first read and the stream's found nothing.
    await new Promise((r) => setTimeout(r, 300));
    const queued = await post(0, sim, sim.mo(launch(2, 7))[0]!);
    expect(queued.status).toBe(200);
    const { seqs } = (queued.json as Relayed).reply;
    const polled = await longPoll;
    expect(polled.messages.map((m) => m.seq)).toEqual(seqs);
    const heard = () => [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    while (heard().length < seqs.length) text += (await reader.read()).value ?? '';
    await reader.cancel();
    expect(heard()).toEqual(seqs);
    const got = polled.messages.map((m) => sim.deliver(m.tpdu)).at(-1);
    expect(got?.kind === 'command' && got.message.type).toBe('downloadResourceInfo');
  });

  it('binds one card once when both card application servers are asked at once', async () => {
    const card = 19;
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        clients[i % 2]!.bind({
          type: 'bindRequest',
          transactionId: i,
          cid: cidBytes(card),
          iccid: iccidOf(100 + i),
        }),
      ),
    );
    const ok = answers.flatMap((a, i) => (a.result === 'ok' ? [i] : []));
    expect(ok).toHaveLength(1);
    expect(answers.filter((a) => a.result === 'alreadyBound')).toHaveLength(11);
    expect((await registry.getBinding(cidKey(card)))?.iccid).toBe(iccidOf(100 + ok[0]!));
  });

  it('loses no acknowledged request and uses no counter twice when an OTA process is killed under load', async () => {
    const load = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14].map((n) => sims.get(n)!);
    const before = new Map(
      await Promise.all(load.map(async (_, i) => [i, await downloads(i + 3)] as const)),
    );
    const live = new Set([0, 1, 2]);
    let acknowledged = 0;
    let killed: ServerChild['exited'] | undefined;
    const accepted: { sim: SimulatedSim; json: Relayed }[] = [];
    const held: { sim: SimulatedSim; tpdu: Uint8Array }[] = [];
    let launches = 0;
    let lost = 0;
    let refused = 0;
    /** Post to `first`, or (as a handset whose server went away) to the next live process. */
    const deliver = async (sim: SimulatedSim, tpdu: Uint8Array, first: number) => {
      for (let k = 0; k < 3; k++) {
        const p = (first + k) % 3;
        if (!live.has(p)) continue;
        const answer = post(p, sim, tpdu);
        // Once 60 posts were acknowledged, the next one to the third process is cut in flight.
        if (p === 2 && acknowledged >= 60 && killed === undefined) {
          killed = otas[2]!.exited;
          setTimeout(() => {
            live.delete(2);
            otas[2]!.process.kill('SIGKILL');
          }, 15);
        }
        let a: Answer;
        try {
          a = await answer;
        } catch {
          lost++;
          continue;
        }
        if (a.status === 409) refused++;
        if (a.status === 200 || a.status === 202) acknowledged++;
        return a;
      }
      return undefined;
    };
    await Promise.all(
      load.map(async (sim, i) => {
        const n = i + 3;
        for (let m = 0; m < MESSAGES; m++) {
          // Every fourth message is concatenated, its two segments to two processes; each
          // message has a reference of its own, as a SIM's would.
          const message = launch(n, m, m % 4 === 3 ? new Uint8Array(200).fill(m) : undefined);
          const tpdus = sim.submitTpdus(sim.packet(message), 'command', m);
          launches++;
          for (const [j, tpdu] of tpdus.entries()) {
            const a = await deliver(sim, tpdu, (m + j) % 3);
            if (a?.status === 202) held.push({ sim, tpdu });
            if (a?.status === 200) accepted.push({ sim, json: a.json as Relayed });
          }
        }
      }),
    );
    expect(await killed).toMatchObject({ signal: 'SIGKILL' });
    expect(accepted.length).toBeGreaterThan(60);

    // Every acknowledged launch is in the database: its counter accepted, its answer queued.
    for (const { sim, json } of accepted) {
      expect(await ota.lastMoCounter(sim.iccid, 1)).toBeGreaterThanOrEqual(json.counter);
      const sent = await ota.findSent(sim.iccid, json.reply.counter);
      expect(sent).toMatchObject({
        messageType: 'downloadResourceInfo',
        transactionId: json.message.transactionId,
      });
      const queue = await ota.fetchMt(sim.iccid, json.reply.seqs[0]! - 1, 10, Date.now());
      expect(queue.slice(0, json.reply.seqs.length).map((r) => r.counter)).toEqual(
        json.reply.seqs.map(() => json.reply.counter),
      );
    }
    // ... and every acknowledged segment is held: sent again, it is known.
    for (const { sim, tpdu } of held) {
      const again = await post(0, sim, tpdu);
      expect([again.status, again.json.duplicate]).toEqual([202, true]);
    }
    for (const [i, sim] of load.entries()) {
      const mine = accepted.filter((a) => a.sim === sim);
      // No MO counter accepted twice, no MT counter used for two packets.
      const mo = mine.map((a) => a.json.counter);
      expect(new Set(mo).size).toBe(mo.length);
      const queue = await ota.fetchMt(sim.iccid, 0, 1000, Date.now());
      const packets = new Map<number, number[]>();
      for (const r of queue) packets.set(r.counter, [...(packets.get(r.counter) ?? []), r.part]);
      for (const parts of packets.values()) expect(parts).toEqual(parts.map((_, k) => k + 1));
      for (const a of mine) expect(packets.has(a.json.reply.counter)).toBe(true);
      // The registry counted every acknowledged launch, and none that was never sent.
      const counted = (await downloads(i + 3)) - before.get(i)!;
      expect(counted).toBeGreaterThanOrEqual(mine.length);
      expect(counted).toBeLessThanOrEqual(MESSAGES);
    }
    console.log(
      `kill -9 under load: ${accepted.length}/${launches} launches acknowledged, ${held.length} segments held (202), ` +
        `${lost} posts cut by the kill and sent again elsewhere, ${refused} of them refused as replays`,
    );
  }, 120_000);
});
