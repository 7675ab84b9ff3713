// PC/SC test plumbing: whether pcscd with vsmartcard's vpcd is here (or why the tests skip), one
// test at a time per vpcd reader slot across processes, waiting for pcscd to see a card come or
// go, scriptor as an outside client, and a fake vpcd for the tests that need no pcscd.
import { execFile, spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SimvaultError } from '../../src/errors.js';
import { lockImage } from '../../src/node/image-lock.js';
import { listPcscReaders } from '../../src/node/pcsc-transport.js';
import { encodeVpcdFrame, VpcdFrameReader } from '../../src/node/vpcd-frames.js';

/** vpcd's two reader slots as Debian's vsmartcard-vpcd configures them. */
export const SIM_SLOT = { reader: 'Virtual PCD 00 00', host: '127.0.0.1', port: 35963 } as const;
export const CHIP_SLOT = { reader: 'Virtual PCD 00 01', host: '127.0.0.1', port: 35964 } as const;

function onPath(tool: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', `command -v ${tool}`], (e) => {
      resolve(e === null);
    });
  });
}

/**
 * Why the PC/SC tests cannot run here, or `undefined` when they can. With
 * SIMVAULT_REQUIRE_PCSC=1 (set by .ci/run) a missing precondition is an error, not a skip.
 */
export async function pcscUnavailable(): Promise<string | undefined> {
  let reason: string | undefined;
  try {
    const names = (await listPcscReaders()).map((r) => r.name);
    if (!names.includes(SIM_SLOT.reader) || !names.includes(CHIP_SLOT.reader))
      reason = `pcscd has no vpcd readers (install vsmartcard-vpcd, restart pcscd); readers: ${names.join(', ') || 'none'}`;
    else if (!(await onPath('scriptor')))
      reason = 'scriptor is not installed (apt-get install pcsc-tools)';
  } catch (e) {
    reason = e instanceof SimvaultError ? `${e.code}: ${e.message}` : String(e);
  }
  if (reason !== undefined && process.env.SIMVAULT_REQUIRE_PCSC === '1')
    throw new Error(`SIMVAULT_REQUIRE_PCSC=1 but PC/SC cannot be tested: ${reason}`);
  return reason;
}

/** Run `fn` holding the vpcd slot on `port`: test files run in parallel, a slot holds one card. */
export async function withSlot<T>(port: number, fn: () => Promise<T>): Promise<T> {
  const path = join(tmpdir(), `simvault-vpcd-slot-${port}`);
  const deadline = Date.now() + 120_000;
  let release: (() => Promise<void>) | undefined;
  while (release === undefined) {
    try {
      release = await lockImage(path);
    } catch (e) {
      if (!(e instanceof SimvaultError && e.code === 'DEVICE_BUSY') || Date.now() > deadline)
        throw e;
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    await release();
  }
}

/** Wait until pcscd sees a card in `reader` (or sees it empty, with `present` false). */
export async function waitForCard(reader: string, present = true, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = (await listPcscReaders()).find((x) => x.name === reader);
    if ((r?.atr !== undefined) === present) return;
    if (Date.now() > deadline)
      throw new Error(`${reader}: no card ${present ? 'inserted' : 'removed'} after ${ms} ms`);
    await sleep(50);
  }
}

/**
 * Send `commands` (hex, any spacing) to the card in `reader` with scriptor (pcsc-tools) in one
 * session; resolves to the responses in hex as scriptor printed them.
 */
export function scriptor(reader: string, commands: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('scriptor', ['-r', reader], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('latin1')));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`scriptor exited ${code}: ${err}${out}`));
        return;
      }
      // "< 6F 0B 84 … (a newline every 16 bytes) … 90 00 : Normal processing."
      const responses = [...out.matchAll(/^< ([0-9A-F \n]+?) : /gm)].map((m) =>
        m[1]!.replace(/\s/g, '').toLowerCase(),
      );
      resolve(responses);
    });
    // scriptor wants bytes separated by spaces (or none at all) on each line.
    const lines = commands.map((c) => c.replace(/\s/g, '').replace(/(..)/g, '$1 ').trim());
    child.stdin.end(`${lines.join('\n')}\n`);
  });
}

/** A stand-in for vpcd: a TCP server that speaks its framing, for tests without pcscd. */
export class FakeVpcd {
  private readonly server: Server;
  private socket: Socket | undefined;
  private waiting: ((s: Socket) => void)[] = [];
  private frames = new VpcdFrameReader();
  private replies: Uint8Array[] = [];
  private wanted: ((b: Uint8Array) => void)[] = [];

  private constructor(server: Server) {
    this.server = server;
    server.on('connection', (socket) => {
      this.socket = socket;
      this.frames = new VpcdFrameReader();
      socket.on('data', (chunk: Buffer) => {
        // The card only ever answers with APDU-sized messages here; control replies do not exist.
        for (const m of this.frames.push(chunk)) {
          const bytes = m.kind === 'apdu' ? m.apdu : Uint8Array.of(m.code);
          const next = this.wanted.shift();
          if (next) next(bytes);
          else this.replies.push(bytes);
        }
      });
      for (const w of this.waiting.splice(0)) w(socket);
    });
  }

  static async start(): Promise<FakeVpcd> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new FakeVpcd(server);
  }

  get port(): number {
    const a = this.server.address();
    if (a === null || typeof a === 'string') throw new Error('not listening');
    return a.port;
  }

  /** The card's connection, once it has connected. */
  connection(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Send raw bytes (to split or join frames as a test likes). */
  async raw(bytes: Uint8Array): Promise<void> {
    (await this.connection()).write(bytes);
  }

  /** Send a control code (no answer expected). */
  async control(code: number): Promise<void> {
    await this.raw(encodeVpcdFrame(Uint8Array.of(code)));
  }

  /** The card's next message. */
  reply(): Promise<Uint8Array> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => this.wanted.push(resolve));
  }

  /** Send a command APDU (or the ATR request) and wait for the card's answer. */
  async ask(payload: Uint8Array): Promise<Uint8Array> {
    await this.raw(encodeVpcdFrame(payload));
    return this.reply();
  }

  /** Drop the card's connection (as vpcd does when pcscd stops). */
  drop(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }
}

const ROOT = new URL('../../', import.meta.url).pathname;

/** A `simvault … serve` child process, once it said its card is in the reader. */
export interface ServeChild {
  /** Everything it printed on standard error so far. */
  stderr(): string;
  /** SIGTERM it; resolves to its exit code and standard output. */
  stop(): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Start `simvault ARGS` (a serve command) as a child process and wait for its ready line. */
export function serveChild(args: string[]): Promise<ServeChild> {
  return new Promise((resolve, reject) => {
    // Straight `node --import tsx`: a signal reaches the CLI itself, not a wrapper.
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const exited = new Promise<number | null>((done) => child.on('exit', done));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('is in the vpcd reader'))
        resolve({
          stderr: () => err,
          async stop() {
            child.kill('SIGTERM');
            const code = await exited;
            return { code, stdout: out, stderr: err };
          },
        });
    });
    void exited.then((code) => {
      reject(new Error(`simvault ${args.join(' ')} exited ${code}: ${err}`));
    });
  });
}

/**
 * Serve the state file `path` with `simvault KIND serve` into `slot`'s reader, send `commands`
 * there with scriptor, take the card out again; resolves to scriptor's responses.
 */
export async function scriptorThroughServe(
  kind: 'sim' | 'chip',
  path: string,
  slot: typeof SIM_SLOT | typeof CHIP_SLOT,
  commands: string[],
): Promise<string[]> {
  const card = await serveCard(kind, slot, path);
  let responses: string[];
  try {
    responses = await scriptor(slot.reader, commands);
  } catch (e) {
    await card.remove().catch(() => undefined);
    throw e;
  }
  await card.remove();
  return responses;
}

/** A card that `simvault KIND serve` holds in a vpcd reader from a child process. */
export interface ServedCard {
  /** SIGTERM the serve command (which saves its state file) and wait until pcscd sees no card. */
  remove(): Promise<void>;
}

/**
 * Put the card of the state file `path` into `slot`'s reader, served by `simvault KIND serve` in a
 * child process, and wait until pcscd sees it. The card lives in another process on purpose: the
 * PC/SC binding's disconnect, status and list calls block their thread until pcscd answers, and
 * pcscd may be waiting on the card at that moment (vpcd polls it for its ATR several times a
 * second), so a card served from the client's own thread can deadlock it.
 */
export async function serveCard(
  kind: 'sim' | 'chip',
  slot: typeof SIM_SLOT | typeof CHIP_SLOT,
  path: string,
): Promise<ServedCard> {
  await waitForCard(slot.reader, false);
  const child = await serveChild([
    kind,
    'serve',
    path,
    '--vpcd',
    `${slot.host}:${slot.port}`,
    '--quiet',
  ]);
  let stopped: Promise<void> | undefined;
  const remove = (): Promise<void> =>
    (stopped ??= (async () => {
      const end = await child.stop();
      if (end.code !== 0)
        throw new Error(`simvault ${kind} serve exited ${end.code}: ${end.stderr}`);
      await waitForCard(slot.reader, false);
    })());
  try {
    await waitForCard(slot.reader);
  } catch (e) {
    await remove().catch(() => undefined);
    throw e;
  }
  return { remove };
}
