// A world for the handset tests: both operator servers on loopback (port 0, SQLite in a temp
// folder), a provisioned card, application and SIM, a blank in-memory card, and a handset whose
// fetch records (and can tamper with) every request.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryDevice } from '../../src/card/index.js';
import {
  provisionDemo,
  startOperator,
  type DemoWorld,
  type Operator,
} from '../../src/cli/commands/demo.js';
import {
  Handset,
  type FetchLike,
  type HandsetEvent,
  type HandsetOptions,
} from '../../src/handset/index.js';
import { SimCard } from '../../src/sim/index.js';

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
  const dir = await mkdtemp(join(tmpdir(), 'simvault-handset-'));
  const op = await startOperator(dir);
  const world = await provisionDemo(op, {
    fileBytes: options.fileBytes ?? 300 * 1024,
    ...(options.unbindRule ? { unbindRule: options.unbindRule } : {}),
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
  const { fileBytes: _f, unbindRule: _u, ...handsetOptions } = options;
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
