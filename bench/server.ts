// `npm run bench -- server`: the card application server over loopback HTTP, on SQLite and on
// PostgreSQL. Binds (signed bind request → bind response, one new binding each) and launches
// (signed launch request → download resource info, one counter increment each) per second with
// p50/p99 latency and the server's CPU time per request, beside GET /healthz of the same server
// measured in the same run with the same concurrency: `ratio` = flow req/s ÷ healthz req/s. On
// PostgreSQL the binds are also measured against 2 server processes on the same database:
// `ratio` of that row = 2-process bind req/s ÷ 1-process bind req/s of the same run.
//
// The servers run in child processes (bench/server-child.ts), every request is signed before the
// clock starts and sent with node:http, and the flows are measured in interleaved slices: the
// load generator spends little of the machine's cores, and a change of background load during the
// run weighs on every flow alike. Request counts are bounded (2000 per row, 300 with --quick);
// PostgreSQL is skipped (with a log line) when it is not reachable.
//
// The OTA store's reassembly of concatenated MO SMS (two segments per message, each its own
// transaction, as two processes would hold them) is measured beside queuing a two-segment packet
// for a SIM on the same database: `ratio` = messages reassembled/s ÷ packets queued/s.
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromHex, toHex } from '../src/bytes.js';
import { encodeCid } from '../src/protocol/cid.js';
import { encodeMessage } from '../src/protocol/messages.js';
import { signRequest, type SigningKey } from '../src/server/auth.js';
import { CardAppService } from '../src/server/card-app/service.js';
import { dropPostgresSchema } from '../src/server/store/postgres.js';
import { parseSimConfig } from '../src/server/ota/sim-config.js';
import { openOtaStore } from '../src/server/ota/store.js';
import { openStore, type StoreLocation } from '../src/server/store/open.js';
import type { BenchOptions, BenchRow } from './row.js';
import type { BenchSubject } from './row.js';

const PG_URL = process.env['SIMVAULT_BENCH_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const CONCURRENCY = 16;
const SLICES = 4;
const WARM_UP = 100;
// Extra node flags of the server processes, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile.
const NODE_ARGS = (process.env['SIMVAULT_BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
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
  /** Server CPU time per request (all its processes), µs. */
  cpuUs: number;
  perSecond: number;
  p50: number;
  p99: number;
}

/** A request ready to send: everything, signature included, computed before the clock starts. */
interface Prepared {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: Uint8Array;
}

// node:http with keep-alive rather than fetch: the load generator shares the 2 cores with the
// servers (and PostgreSQL), so it should spend as little of them as it can.
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

/** Send one prepared request; resolves to its status once the whole answer arrived. */
function send({ url, method, headers, body }: Prepared): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => {
        resolve(res.statusCode ?? 0);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Run every prepared request, `CONCURRENCY` in flight, each must answer 200: latencies, seconds. */
async function drive(
  requests: readonly Prepared[],
): Promise<{ latencies: number[]; seconds: number }> {
  const count = requests.length;
  const latencies = new Array<number>(count);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const t0 = performance.now();
      const status = await send(requests[i]!);
      latencies[i] = performance.now() - t0;
      if (status !== 200) throw new Error(`${requests[i]!.url} answered ${status}`);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { latencies, seconds: (performance.now() - start) / 1000 };
}

/**
 * Run several flows in turns of `SLICES` slices each (healthz, bind, ..., healthz, bind, ...), so
 * that a change in the machine's load during the run weighs on every flow alike and their ratio
 * stays meaningful. A flow's slice may depend on the slices of the flows before it in the turn.
 */
async function driveInterleaved(
  servers: readonly ServerProcess[],
  flows: readonly (readonly Prepared[])[],
): Promise<Run[]> {
  const totals = flows.map(() => ({ latencies: [] as number[], seconds: 0, cpu: 0 }));
  const cpu = async () => (await Promise.all(servers.map((s) => s.cpu()))).reduce((a, b) => a + b);
  for (let s = 0; s < SLICES; s++) {
    for (const [f, requests] of flows.entries()) {
      const size = Math.ceil(requests.length / SLICES);
      const cpu0 = await cpu();
      const { latencies, seconds } = await drive(requests.slice(s * size, (s + 1) * size));
      totals[f]!.cpu += (await cpu()) - cpu0;
      totals[f]!.latencies.push(...latencies);
      totals[f]!.seconds += seconds;
    }
  }
  return totals.map(({ latencies, seconds, cpu }) => {
    const sorted = Float64Array.from(latencies).sort();
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    return {
      perSecond: sorted.length / seconds,
      p50: at(0.5),
      p99: at(0.99),
      cpuUs: cpu / sorted.length,
    };
  });
}

/** `count` requests spread round-robin over the servers. */
function prepare(
  servers: readonly string[],
  count: number,
  make: (base: string, i: number) => Prepared,
): Prepared[] {
  return Array.from({ length: count }, (_, i) => make(servers[i % servers.length]!, i));
}

const healthz = (base: string): Prepared => ({
  url: `${base}/healthz`,
  method: 'GET',
  headers: {},
});

function signedPost(base: string, path: string, body: Uint8Array): Prepared {
  return {
    url: `${base}${path}`,
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      ...signRequest(OTA, 'POST', `${base}${path}`, body),
    },
  };
}

const bindOf = (first: number) => (base: string, i: number) =>
  signedPost(
    base,
    '/v1/sim/bind',
    encodeMessage({
      type: 'bindRequest',
      transactionId: i & 0xffff,
      cid: cid(first + i),
      iccid: iccid(first + i),
    }),
  );

const launchOf = (first: number) => (base: string, i: number) =>
  signedPost(
    base,
    `/v1/sim/launch?iccid=${iccid(first + i)}`,
    encodeMessage({
      type: 'launchRequest',
      transactionId: i & 0xffff,
      cid: cid(first + i),
      aid: fromHex(AID),
    }),
  );

interface ServerProcess {
  url: string;
  /** The process's CPU time so far, µs. */
  cpu(): Promise<number>;
  stop(): Promise<void>;
}

/** Start one card application server process (bench/server-child.ts) on `location`. */
async function startServerProcess(location: StoreLocation): Promise<ServerProcess> {
  const arg = JSON.stringify({ location, secret: toHex(OTA.secret) });
  const child: ChildProcess = spawn(
    process.execPath,
    [...NODE_ARGS, '--import', 'tsx', join(import.meta.dirname, 'server-child.ts'), arg],
    { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
  );
  const exited = new Promise<number | null>((done) => child.once('exit', done));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = /^(http:\/\/\S+)$/m.exec(out);
      if (line) resolve(line[1]!);
    });
    void exited.then((code) => {
      reject(new Error(`bench server exited (${code}) before listening`));
    });
  });
  return {
    url,
    cpu: () =>
      new Promise<number>((resolve) => {
        child.once('message', (us) => {
          resolve(us as number);
        });
        child.send('cpu');
      }),
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Start `n` server processes on one registry; all stopped if one fails to start. */
async function startServers(location: StoreLocation, n: number): Promise<ServerProcess[]> {
  const started = await Promise.allSettled(
    Array.from({ length: n }, () => startServerProcess(location)),
  );
  const ok = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(ok.map((s) => s.stop()));
    throw failed.reason;
  }
  return ok;
}

async function benchStore(
  kind: 'sqlite' | 'postgres',
  count: number,
  opts: BenchOptions,
): Promise<BenchRow[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'simvault-bench-'));
  const schema = `simvault_bench_${randomBytes(4).toString('hex')}`;
  const location: StoreLocation = kind === 'sqlite' ? { dataDir } : { dataDir, db: PG_URL, schema };
  const store = await openStore(location);
  // Cards: the warm-up's, the binds', and on PostgreSQL the 2-process binds'.
  const pg = kind === 'postgres';
  const cards = WARM_UP * 2 + count * (pg ? 2 : 1);
  const first = WARM_UP * 2;
  try {
    const service = new CardAppService(store);
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
      Array.from({ length: cards }, (_, i) => ({
        cid: toHex(cid(i).subarray(0, 15)),
        state: 'issued' as const,
        stage: 'bench',
        offer: 'bench',
      })),
      Date.now(),
    );

    // The 1-process flows use the first server; the 2-process binds of PostgreSQL both.
    const servers = await startServers(location, pg ? 2 : 1);
    let runs: Run[];
    try {
      const one = [servers[0]!.url];
      const all = servers.map((s) => s.url);
      // Warm-up of every process: connections, statement caches, JIT.
      await drive(prepare(all, WARM_UP, healthz));
      await drive(prepare(all, WARM_UP * 2, bindOf(0)));
      runs = await driveInterleaved(servers, [
        prepare(one, count, healthz),
        prepare(one, count, bindOf(first)),
        prepare(one, count, launchOf(first)),
        ...(pg ? [prepare(all, count, bindOf(first + count))] : []),
      ]);
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
    const [health, binds, launches, binds2] = runs as [Run, Run, Run, Run | undefined];

    const row = (flow: string, r: Run, baseline = health.perSecond): BenchRow => ({
      name: `server ${flow} ${kind}`,
      requests: count,
      concurrency: CONCURRENCY,
      reqPerSecond: Math.round(r.perSecond),
      p50ms: r.p50,
      p99ms: r.p99,
      serverCpuUs: Math.round(r.cpuUs),
      healthzReqPerSecond: Math.round(health.perSecond),
      ratio: r.perSecond / baseline,
    });
    const rows = [row('bind', binds), row('launch', launches), row('healthz', health)];
    // Against the 1-process binds of the same run, not against /healthz.
    if (binds2) rows.push(row('bind 2 processes vs 1', binds2, binds.perSecond));
    if ((await store.countBindings()) !== cards) throw new Error('a bind was lost');

    for (const r of rows)
      opts.log(
        `${r.name}: ${r['reqPerSecond']} req/s, p50 ${Number(r['p50ms']).toFixed(2)} ms, p99 ${Number(r['p99ms']).toFixed(2)} ms, ratio ${Number(r['ratio']).toFixed(3)}`,
      );
    return rows;
  } finally {
    await store.close();
    if (kind === 'postgres') await dropPostgresSchema(PG_URL, schema);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Run `count` tasks, `CONCURRENCY` at a time: rate and latencies (no server CPU: in-process). */
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
  return { perSecond: count / seconds, p50: at(0.5), p99: at(0.99), cpuUs: 0 };
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

async function benchReassembly(
  kind: 'sqlite' | 'postgres',
  count: number,
  opts: BenchOptions,
): Promise<BenchRow[]> {
  return atFreshLocation(kind, async (location) => {
    const store = await openOtaStore({ ...location, kek: new Uint8Array(randomBytes(32)) });
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

const subject: BenchSubject = {
  name: 'server',
  async run(opts) {
    const count = opts.flags.has('quick') ? 300 : 2000;
    try {
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
    } finally {
      agent.destroy();
    }
  },
};
export default subject;
