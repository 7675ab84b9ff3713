// A world for the handset tests: both operator servers on loopback (port 0, SQLite in a temp
// folder), a provisioned card, application and SIM, a blank in-memory card, and a handset whose
// fetch records (and can tamper with) every request.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryDevice } from '../../src/card/index.js';
import { toHex } from '../../src/bytes.js';
import {
  provisionDemo,
  provisionSim,
  startOperator,
  type DemoWorld,
  type Operator,
} from '../../src/cli/commands/demo.js';
import { encodeCid } from '../../src/protocol/cid.js';
import { encodeSpi, type Spi } from '../../src/protocol/secured-packet.js';
import {
  Handset,
  type FetchLike,
  type HandsetEvent,
  type HandsetOptions,
} from '../../src/handset/index.js';
import { personalizeSim, SimCard, type PersonalizeOptions } from '../../src/sim/index.js';

export interface Recorded {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array;
  status: number;
  json?: unknown;
}

export interface World {
  dir: string;
  op: Operator;
  world: DemoWorld;
  sim: SimCard;
  device: MemoryDevice;
  phone: Handset;
  events: HandsetEvent[];
  requests: Recorded[];
  /** Replace how requests go out (default: the global fetch). */
  intercept: { fetch?: FetchLike };
  close(): Promise<void>;
}

export async function makeWorld(
  options: Partial<HandsetOptions> & { fileBytes?: number; unbindRule?: 'mask' | 'delete' } = {},
): Promise<World> {
  const { fileBytes, unbindRule, ...handsetOptions } = options;
  const dir = await mkdtemp(join(tmpdir(), 'simvault-handset-'));
  const op = await startOperator(dir);
  const world = await provisionDemo(op, {
    fileBytes: fileBytes ?? 300 * 1024,
    ...(unbindRule ? { unbindRule } : {}),
  });
  const sim = new SimCard(world.simState);
  const device = new MemoryDevice(16 << 20);
  const events: HandsetEvent[] = [];
  const requests: Recorded[] = [];
  const intercept: { fetch?: FetchLike } = {};
  const recording: FetchLike = async (input, init = {}) => {
    const url = new URL(String(input));
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    const body = init.body instanceof ArrayBuffer ? new Uint8Array(init.body.slice(0)) : undefined;
    const res = await (intercept.fetch ?? ((i, o) => fetch(i, o)))(input, init);
    const entry: Recorded = {
      method: init.method ?? 'GET',
      path: `${url.pathname}${url.search}`,
      headers,
      status: res.status,
      ...(body ? { body } : {}),
    };
    requests.push(entry);
    if (res.headers.get('content-type')?.includes('json')) {
      const copy = res.clone();
      entry.json = await copy.json();
    }
    return res;
  };
  const phone = new Handset({
    sim,
    iccid: world.iccid,
    otaUrl: op.otaUrl,
    cardAppUrl: op.cardAppUrl,
    card: { device, cid: world.cid },
    fetch: recording,
    onEvent: (e) => events.push(e),
    pollWaitSeconds: 1,
    timeoutMs: 10_000,
    checkpointBytes: 64 * 1024,
    format: { fill: 'zero' },
    ...handsetOptions,
  });
  return {
    dir,
    op,
    world,
    sim,
    device,
    phone,
    events,
    requests,
    intercept,
    async close() {
      await phone.removeCard().catch(() => undefined);
      await op.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Register one more active card (offered the demo application) and return its CID. */
export async function addCard(op: Operator, psn: number): Promise<Uint8Array> {
  const cid = encodeCid({
    mid: 0x03,
    oid: 'SD',
    pnm: 'SU16G',
    prv: { major: 8, minor: 0 },
    psn,
    mdt: { year: 2024, month: 5 },
    crc: 'valid',
  });
  await op.cardApp.importCards(
    JSON.stringify([{ cid: toHex(cid), state: 'active', stage: 'sold', offer: 'demo' }]),
    'json',
  );
  return cid;
}

/** One more phone on the same servers: a SIM of its own (provisioned), a blank card device. */
export async function addPhone(
  w: World,
  options: {
    iccid: string;
    sim?: Partial<PersonalizeOptions>;
    handset?: Partial<HandsetOptions>;
    /** The SPI the OTA server secures its packets to this SIM with. */
    mtSpi?: Spi;
  },
): Promise<{ sim: SimCard; phone: Handset; events: HandsetEvent[] }> {
  const { state, ota } = personalizeSim({ iccid: options.iccid, ...options.sim });
  if (options.mtSpi) ota.mt.spi = toHex(encodeSpi(options.mtSpi));
  await provisionSim(w.op, ota);
  const sim = new SimCard(state);
  const events: HandsetEvent[] = [];
  const phone = new Handset({
    sim,
    iccid: options.iccid,
    otaUrl: w.op.otaUrl,
    cardAppUrl: w.op.cardAppUrl,
    card: { device: new MemoryDevice(16 << 20), cid: w.world.cid },
    onEvent: (e) => events.push(e),
    pollWaitSeconds: 1,
    timeoutMs: 10_000,
    format: { fill: 'zero' },
    ...options.handset,
  });
  return { sim, phone, events };
}

/** A JSON response, as the servers answer. */
export function jsonResponse(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

/** The network holds every SMS for the SIM: MT polls answer "nothing yet" until {@link releaseMt}. */
export function holdMt(w: World): void {
  w.intercept.fetch = (input, init) => {
    const url = new URL(String(input));
    if (url.pathname === '/v1/sms/mt')
      return Promise.resolve(
        jsonResponse({ messages: [], next: Number(url.searchParams.get('after')) }),
      );
    return fetch(input, init);
  };
}

/** The network delivers again. */
export function releaseMt(w: World): void {
  delete w.intercept.fetch;
}

/** A response whose body breaks off (a network error) after `limit` bytes. */
export function cutAfter(res: Response, limit: number): Response {
  const reader = res.body!.getReader();
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        controller.close();
        return;
      }
      const room = limit - sent;
      if (value.length >= room) {
        if (room > 0) controller.enqueue(value.subarray(0, room));
        sent = limit;
        await reader.cancel();
        controller.error(new TypeError('terminated: connection reset by peer'));
        return;
      }
      sent += value.length;
      controller.enqueue(value);
    },
  });
  return new Response(body, { status: res.status, headers: res.headers });
}
