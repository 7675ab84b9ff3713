// `npm run bench -- server`: the card application server over loopback HTTP, on SQLite and on
// PostgreSQL. Binds (signed bind request → bind response, one new binding each) and launches
// (signed launch request → download resource info, one counter increment each) per second with
// p50/p99 latency, beside GET /healthz of the same server measured in the same run with the same
// concurrency: `ratio` = flow req/s ÷ healthz req/s. Request counts are bounded (2000 per row,
// 300 with --quick); PostgreSQL is skipped (with a log line) when it is not reachable.
// The OTA store's reassembly of concatenated MO SMS (two segments per message, each its own
// transaction, as two processes would hold them) is measured beside queuing a two-segment packet
// for a SIM on the same database: `ratio` = messages reassembled/s ÷ packets queued/s.
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromHex } from '../src/bytes.js';
import { encodeCid } from '../src/protocol/cid.js';
import { encodeMessage } from '../src/protocol/messages.js';
import { signRequest, type SigningKey } from '../src/server/auth.js';
import { createCardAppApp } from '../src/server/card-app/http.js';
import { CardAppService } from '../src/server/card-app/service.js';
import { listen } from '../src/server/listen.js';
import { parseSimConfig } from '../src/server/ota/sim-config.js';
import { openOtaStore } from '../src/server/ota/store.js';
import { dropPostgresSchema } from '../src/server/store/postgres.js';
import { openStore, type StoreLocation } from '../src/server/store/open.js';
import type { BenchOptions, BenchRow, BenchSubject } from './row.js';

const PG_URL = process.env['SIMVAULT_BENCH_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const CONCURRENCY = 16;
const AID = 'a0000000871001';
const OTA: SigningKey = { id: 'ota', role: 'ota', secret: new Uint8Array(randomBytes(32)) };

const cid = (n: number) =>
  encodeCid({
    mid: 3,
    oid: 'SD',
    pnm: 'BENCH',
    prv: { major: 1, minor: 0 },
    psn: n,
    mdt: { year: 2024, month: 6 },
    crc: 'valid',
  });
const iccid = (n: number) => `8986${String(n).padStart(16, '0')}`;

interface Run {
  perSecond: number;
  p50: number;
  p99: number;
}

/** Run `count` requests, `CONCURRENCY` in flight; each must answer 200. */
function drive(count: number, request: (i: number) => Promise<Response>): Promise<Run> {
  return driveTasks(count, async (i) => {
    const res = await request(i);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`request ${i} answered ${res.status}`);
  });
}

/** Run `count` tasks, `CONCURRENCY` at a time. */
async function driveTasks(count: number, task: (i: number) => Promise<void>): Promise<Run> {
  const latencies = new Float64Array(count);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const t0 = performance.now();
      await task(i);
      latencies[i] = performance.now() - t0;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort();
  const at = (q: number) => latencies[Math.min(count - 1, Math.floor(q * count))]!;
  return { perSecond: count / seconds, p50: at(0.5), p99: at(0.99) };
}

/** Run `fn` on an empty database of `kind` (a fresh folder, a fresh PostgreSQL schema), then remove it. */
async function atFreshLocation<T>(
  kind: 'sqlite' | 'postgres',
  fn: (location: StoreLocation) => Promise<T>,
): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), 'simvault-bench-'));
  const schema = `simvault_bench_${randomBytes(4).toString('hex')}`;
  const location: StoreLocation = kind === 'sqlite' ? { dataDir } : { dataDir, db: PG_URL, schema };
  try {
    return await fn(location);
  } finally {
    if (kind === 'postgres') await dropPostgresSchema(PG_URL, schema);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function benchStore(
  kind: 'sqlite' | 'postgres',
  count: number,
  opts: BenchOptions,
): Promise<BenchRow[]> {
  return atFreshLocation(kind, async (location) => {
    const store = await openStore(location);
    const service = new CardAppService(store);
    const app = await createCardAppApp(service, {
      keys: [OTA],
      rateLimit: { capacity: 1e9, refillPerSecond: 1e9 },
    });
    const server = await listen(app.fetch, { port: 0 });
    try {
      await service.defineApplication({
        aid: AID,
        name: 'Bench TV',
        zone: 'multimedia',
        size: 1 << 20,
        version: '1.0',
        resource: { url: 'https://ota.example/bench.bin', digest: 'ab'.repeat(32), size: 1 << 20 },
      });
      await service.defineOffer('bench', [AID]);
      await store.importCards(
        Array.from({ length: count }, (_, i) => ({
          cid: toHexKey(cid(i)),
          state: 'issued' as const,
          stage: 'bench',
          offer: 'bench',
        })),
        Date.now(),
      );
      const post = (path: string, body: Uint8Array) =>
        fetch(`${server.url}${path}`, {
          method: 'POST',
          body: body as Uint8Array<ArrayBuffer>,
          headers: {
            'content-type': 'application/octet-stream',
            ...signRequest(OTA, 'POST', `${server.url}${path}`, body),
          },
        });
      const healthz = () => drive(count, () => fetch(`${server.url}/healthz`));
      // Warm-up: connections, statement caches, JIT.
      await drive(Math.min(200, count), () => fetch(`${server.url}/healthz`));

      const h1 = await healthz();
      const binds = await drive(count, (i) =>
        post(
          '/v1/sim/bind',
          encodeMessage({ type: 'bindRequest', transactionId: i, cid: cid(i), iccid: iccid(i) }),
        ),
      );
      const launches = await drive(count, (i) =>
        post(
          `/v1/sim/launch?iccid=${iccid(i)}`,
          encodeMessage({
            type: 'launchRequest',
            transactionId: i,
            cid: cid(i),
            aid: fromHex(AID),
          }),
        ),
      );
      const h2 = await healthz();
      if ((await store.countBindings()) !== count) throw new Error('a bind was lost');
      const healthzPerSecond = (h1.perSecond + h2.perSecond) / 2;
      const row = (flow: string, r: Run): BenchRow => ({
        name: `server ${flow} ${kind}`,
        requests: count,
        concurrency: CONCURRENCY,
        reqPerSecond: Math.round(r.perSecond),
        p50ms: r.p50,
        p99ms: r.p99,
        healthzReqPerSecond: Math.round(healthzPerSecond),
        ratio: r.perSecond / healthzPerSecond,
      });
      const rows = [
        row('bind', binds),
        row('launch', launches),
        row('healthz', { ...h2, perSecond: healthzPerSecond }),
      ];
      for (const r of rows)
        opts.log(
          `${r.name}: ${r['reqPerSecond']} req/s, p50 ${Number(r['p50ms']).toFixed(2)} ms, p99 ${Number(r['p99ms']).toFixed(2)} ms`,
        );
      return rows;
    } finally {
      await server.close();
      await store.close();
    }
  });
}

async function benchReassembly(
  kind: 'sqlite' | 'postgres',
  count: number,
  opts: BenchOptions,
): Promise<BenchRow[]> {
  return atFreshLocation(kind, async (location) => {
    const store = await openOtaStore(location);
    try {
      const sims = 16;
      for (let n = 0; n < sims; n++) {
        await store.putSim(
          parseSimConfig(iccid(n), {
            tar: 'b00010',
            keysets: [{ version: 1, kic: '00'.repeat(16), kid: '11'.repeat(16) }],
          }),
          Date.now(),
        );
      }
      const limits = { timeoutMs: 120_000, maxMessagesPerSim: 32 };
      const body = 'ab'.repeat(130);
      const segment = (i: number, seq: number) => {
        const ref = Math.floor(i / sims) % 256;
        const head = [5, 0, 3, ref, 2, seq].map((b) => b.toString(16).padStart(2, '0')).join('');
        return { message: `8:${ref}:2`, total: 2, seq, userData: head + body };
      };
      const item = (part: number) => ({
        tpdu: body,
        kind: 'command' as const,
        keyVersion: 1,
        counter: 1,
        part,
        parts: 2,
      });
      const queued = await driveTasks(count, async (i) => {
        await store.enqueue(iccid(i % sims), [item(1), item(2)], null, Date.now(), 60_000);
      });
      const reassembled = await driveTasks(count, async (i) => {
        const now = Date.now();
        await store.holdMoSegment(iccid(i % sims), segment(i, 2), now, limits);
        const done = await store.holdMoSegment(iccid(i % sims), segment(i, 1), now, limits);
        if (done.status !== 'complete') throw new Error(`message ${i}: ${done.status}`);
      });
      const row = (flow: string, r: Run): BenchRow => ({
        name: `ota ${flow} ${kind}`,
        requests: count,
        concurrency: CONCURRENCY,
        reqPerSecond: Math.round(r.perSecond),
        p50ms: r.p50,
        p99ms: r.p99,
        ratio: r.perSecond / queued.perSecond,
      });
      const rows = [row('reassemble 2 segments', reassembled), row('queue 2 segments', queued)];
      for (const r of rows)
        opts.log(`${r.name}: ${r['reqPerSecond']}/s, ratio ${Number(r['ratio']).toFixed(2)}`);
      return rows;
    } finally {
      await store.close();
    }
  });
}

function toHexKey(register: Uint8Array): string {
  return Buffer.from(register.subarray(0, 15)).toString('hex');
}

const subject: BenchSubject = {
  name: 'server',
  async run(opts) {
    const count = opts.flags.has('quick') ? 300 : 2000;
    const rows = await benchStore('sqlite', count, opts);
    rows.push(...(await benchReassembly('sqlite', count, opts)));
    try {
      rows.push(...(await benchStore('postgres', count, opts)));
      rows.push(...(await benchReassembly('postgres', count, opts)));
    } catch (e) {
      const err = e as { code?: string; message?: string };
      if (err.code !== 'ECONNREFUSED' && !/ECONNREFUSED|connect/.test(err.message ?? '')) throw e;
      opts.log(`postgres not reachable at ${PG_URL}: skipped (${err.message ?? err.code})`);
    }
    return rows;
  },
};
export default subject;
