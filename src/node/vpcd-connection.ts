/**
 * An emulated card put into vsmartcard's virtual reader: a TCP client of vpcd (the pcscd driver
 * of the Debian package `vsmartcard-vpcd`, which listens on port 35963 for its first reader
 * slot, 35964 for the second). While connected, the card is in the reader for every PC/SC
 * program (`pcsc_scan`, `scriptor`, `opensc-tool`, pySim, {@link PcscTransport}); when the
 * connection ends, it is removed.
 *
 * @module
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ArgumentError, SimvaultError } from '../errors.js';
import type { ApduTransport } from '../sim/transport.js';
import { encodeVpcdFrame, VPCD_CONTROL, VpcdFrameReader, type VpcdMessage } from './vpcd-frames.js';

/** The port vpcd listens on for its first reader slot (`0x8C7B`, vsmartcard's default). */
export const VPCD_DEFAULT_PORT = 0x8c7b;

/**
 * A card that can be put into a reader: its ATR, and what powering it up gives — a session
 * whose RAM (selected application, verified PIN) lives until the next power-down or reset,
 * while its persistent memory lives on in the card.
 *
 * @example
 * ```ts
 * import type { VirtualCard } from 'simvault/node';
 * import { SecureChip, personalizeChip } from 'simvault/sim';
 * const chip = new SecureChip(personalizeChip({ pin: '1234' }));
 * const card: VirtualCard = {
 *   atr: new Uint8Array([0x3b, 0x00]),
 *   powerUp: () => { chip.reset(); return chip; },
 * };
 * ```
 */
export interface VirtualCard {
  /** The ATR (ISO 7816-3) the card answers every power-up and reset with. */
  readonly atr: Uint8Array;
  /** Power up (`cold`) or reset (`warm`) the card: resolves to its new session. */
  powerUp(kind: 'cold' | 'warm'): ApduTransport | Promise<ApduTransport>;
  /** Power the card down: its session ends. */
  powerDown?(): void | Promise<void>;
}

/**
 * What happened on a vpcd connection.
 *
 * @example
 * ```ts
 * import type { VpcdEvent } from 'simvault/node';
 * const log = (e: VpcdEvent) => console.error(e.type);
 * ```
 */
export type VpcdEvent =
  | {
      /** The connection began or ended, vpcd powered the card or asked for its ATR. */
      type: 'connected' | 'disconnected' | 'power-on' | 'power-off' | 'reset' | 'atr';
    }
  | {
      /** A command was answered. */
      type: 'apdu';
      /** The command APDU. */
      command: Uint8Array;
      /** The response APDU. */
      response: Uint8Array;
    }
  | {
      /** A control byte this side does not know arrived, and was ignored. */
      type: 'unknown-control';
      /** The byte. */
      code: number;
    };

/**
 * Where vpcd listens.
 *
 * @example
 * ```ts
 * import type { VpcdAddress } from 'simvault/node';
 * const first: VpcdAddress = { host: '127.0.0.1', port: 35963 };
 * ```
 */
export interface VpcdAddress {
  /** Host name or address. */
  host: string;
  /** TCP port. */
  port: number;
}

/**
 * Where vpcd listens, and who is told what happens.
 *
 * @example
 * ```ts
 * import type { VpcdOptions } from 'simvault/node';
 * const o: VpcdOptions = { host: '127.0.0.1', port: 35964 };
 * ```
 */
export interface VpcdOptions {
  /** vpcd's host (default `127.0.0.1`). */
  host?: string;
  /** vpcd's port (default {@link VPCD_DEFAULT_PORT}). */
  port?: number;
  /** Told about each event. */
  onEvent?: (event: VpcdEvent) => void;
  /** How long to try to connect, ms (default 5000). */
  connectTimeoutMs?: number;
}

/**
 * One connection to vpcd: the card is in the reader until it ends.
 *
 * @example
 * ```ts
 * import type { VpcdSession } from 'simvault/node';
 * const eject = (s: VpcdSession) => s.close();
 * ```
 */
export interface VpcdSession {
  /**
   * Settles when the connection ends: resolves when vpcd or {@link VpcdSession.close} ended it,
   * rejects with the card's error when the card failed (a state that could not be saved).
   */
  readonly done: Promise<void>;
  /** Take the card out: end the connection. Resolves once it is closed. */
  close(): Promise<void>;
}

/**
 * Parse `HOST:PORT` (`[v6]:PORT` for an IPv6 address) into a host and a port. Throws
 * `INVALID_ARGUMENT` for anything else.
 *
 * @example
 * ```ts
 * import { parseVpcdAddress } from 'simvault/node';
 * parseVpcdAddress('127.0.0.1:35963'); // { host: '127.0.0.1', port: 35963 }
 * ```
 */
export function parseVpcdAddress(text: string): VpcdAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535)
    throw new ArgumentError(
      `'${text}' is not HOST:PORT (e.g. 127.0.0.1:35963, the first vpcd reader)`,
    );
  return { host: m[1] ?? m[2]!, port };
}

/**
 * vpcd is not reachable (`VPCD_UNREACHABLE`).
 *
 * @example
 * ```ts
 * import { VpcdError } from 'simvault/node';
 * throw new VpcdError('cannot reach vpcd at 127.0.0.1:35963');
 * ```
 */
export class VpcdError extends SimvaultError {
  /**
   * Create a vpcd error.
   *
   * @param message - what failed
   * @param options - the socket error as `cause`
   */
  constructor(message: string, options?: ErrorOptions) {
    super('VPCD_UNREACHABLE', message, options);
  }
}

function unreachable(host: string, port: number, e: unknown): VpcdError {
  const why = e instanceof Error ? e.message : String(e);
  return new VpcdError(
    `cannot reach vpcd at ${host}:${port} (is pcscd running with vsmartcard-vpcd?): ${why}`,
    { cause: e },
  );
}

function openSocket(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(unreachable(host, port, new Error(`no connection after ${timeoutMs} ms`)));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(unreachable(host, port, e));
    });
  });
}

/**
 * Put `card` into the vpcd reader at `host:port`: connect, then answer vpcd until the
 * connection ends. Resolves once connected; throws `VPCD_UNREACHABLE` when vpcd is not there.
 *
 * Power-on and reset start a new session of the card; power-off ends it; a command that
 * arrives with the card unpowered powers it up first. Commands are answered one at a time, in
 * order.
 *
 * @example
 * ```ts
 * import { connectVpcd } from 'simvault/node';
 * import { SecureChip, personalizeChip } from 'simvault/sim';
 * const chip = new SecureChip(personalizeChip({ pin: '1234' }));
 * const session = await connectVpcd({ atr: new Uint8Array([0x3b, 0x00]), powerUp: () => chip }, { port: 35964 });
 * await session.close();
 * ```
 */
export async function connectVpcd(
  card: VirtualCard,
  options: VpcdOptions = {},
): Promise<VpcdSession> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? VPCD_DEFAULT_PORT;
  const emit = options.onEvent ?? (() => undefined);
  const socket = await openSocket(host, port, options.connectTimeoutMs ?? 5000);
  socket.setNoDelay(true);
  emit({ type: 'connected' });
  const frames = new VpcdFrameReader();
  let session: ApduTransport | undefined;
  let failure: unknown;
  let queue: Promise<void> = Promise.resolve();

  const send = (payload: Uint8Array) => {
    if (!socket.destroyed) socket.write(encodeVpcdFrame(payload));
  };
  const handle = async (message: VpcdMessage): Promise<void> => {
    if (message.kind === 'apdu') {
      session ??= await card.powerUp('cold');
      const response = await session.transmit(message.apdu);
      send(response);
      emit({ type: 'apdu', command: message.apdu, response });
      return;
    }
    switch (message.code) {
      case VPCD_CONTROL.atr:
        send(card.atr);
        emit({ type: 'atr' });
        return;
      case VPCD_CONTROL.powerOn:
        session = await card.powerUp('cold');
        emit({ type: 'power-on' });
        return;
      case VPCD_CONTROL.reset:
        session = await card.powerUp('warm');
        emit({ type: 'reset' });
        return;
      case VPCD_CONTROL.powerOff:
        session = undefined;
        await card.powerDown?.();
        emit({ type: 'power-off' });
        return;
      default:
        // Nothing is answered to a control message, so an unknown one is safely ignored.
        emit({ type: 'unknown-control', code: message.code });
    }
  };

  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      for (const message of frames.push(chunk)) {
        queue = queue
          .then(() => handle(message))
          .catch((e: unknown) => {
            failure ??= e;
            socket.destroy();
          });
      }
    });
    // 'error' is followed by 'close'; a reset by vpcd is an ordinary end of the connection.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      void queue.then(() => {
        emit({ type: 'disconnected' });
        if (failure === undefined) resolve();
        else
          reject(
            failure instanceof Error ? failure : new Error('the card failed', { cause: failure }),
          );
      });
    });
  });
  // The caller may only ever await `close()`; keep an unobserved failure from crashing the process.
  done.catch(() => undefined);

  return {
    done,
    async close() {
      socket.end();
      socket.destroy();
      await done.catch(() => undefined);
    },
  };
}

/**
 * Options of {@link serveVpcd}.
 *
 * @example
 * ```ts
 * import type { ServeVpcdOptions } from 'simvault/node';
 * const o: ServeVpcdOptions = { port: 35963, signal: AbortSignal.timeout(60_000) };
 * ```
 */
export interface ServeVpcdOptions extends VpcdOptions {
  /** Ends the serving: the card is taken out and the promise resolves. */
  signal?: AbortSignal;
  /** Pause between attempts to reconnect after vpcd dropped the card, ms (default 1000). */
  retryMs?: number;
}

function aborted(signal: AbortSignal | undefined): Promise<'stop'> {
  return new Promise((resolve) => {
    if (signal === undefined) return;
    if (signal.aborted) resolve('stop');
    else
      signal.addEventListener(
        'abort',
        () => {
          resolve('stop');
        },
        { once: true },
      );
  });
}

/**
 * Keep `card` in the vpcd reader until `signal` aborts: connect (throws `VPCD_UNREACHABLE` when
 * vpcd is not there at first), and when vpcd drops the connection — pcscd restarted — connect
 * again every `retryMs`. Rejects when the card fails.
 *
 * @example
 * ```ts
 * import { serveVpcd } from 'simvault/node';
 * import { SecureChip, personalizeChip } from 'simvault/sim';
 * const chip = new SecureChip(personalizeChip({ pin: '1234' }));
 * await serveVpcd({ atr: new Uint8Array([0x3b, 0x00]), powerUp: () => chip }, { signal: AbortSignal.timeout(1000) });
 * ```
 */
export async function serveVpcd(card: VirtualCard, options: ServeVpcdOptions = {}): Promise<void> {
  const stop = aborted(options.signal);
  let session = await connectVpcd(card, options);
  for (;;) {
    const ended = await Promise.race([session.done.then(() => 'dropped' as const), stop]);
    if (ended === 'stop') {
      await session.close();
      await session.done;
      return;
    }
    for (;;) {
      try {
        await sleep(options.retryMs ?? 1000, undefined, { signal: options.signal });
      } catch {
        return; // aborted while waiting: the card is already out
      }
      try {
        session = await connectVpcd(card, options);
        break;
      } catch (e) {
        if (!(e instanceof VpcdError)) throw e;
      }
    }
  }
}
