/**
 * A card in a PC/SC reader as an {@link ApduTransport}: a real SIM or secure chip in a USB
 * reader, or an emulated one served to vpcd. Handset code and the chip client use it as they use
 * the in-process emulators.
 *
 * @module
 */
import { ArgumentError } from '../errors.js';
import type { ApduTransport } from '../sim/transport.js';
import {
  loadPcscBinding,
  PcscError,
  pcscErrorOf,
  type PcscBinding,
  type PcscNativeCard,
  type PcscNativeContext,
} from './pcsc-binding.js';
import { transmitT0 } from './pcsc-t0.js';

/** Room for the longest response: 65 536 data bytes (extended Le) and the status word. */
const MAX_RESPONSE = 65538;

/**
 * A reader and the card in it, as {@link listPcscReaders} sees them.
 *
 * @example
 * ```ts
 * import type { PcscReaderInfo } from 'simvault/node';
 * const line = (r: PcscReaderInfo) => `${r.name}: ${r.atr ? 'card' : 'empty'}`;
 * ```
 */
export interface PcscReaderInfo {
  /** The reader's name, as PC/SC reports it. */
  name: string;
  /** The ATR of the card in it, or `undefined` when it is empty (or the card is mute). */
  atr: Uint8Array | undefined;
}

/**
 * Options shared by the PC/SC calls.
 *
 * @example
 * ```ts
 * import type { PcscOptions } from 'simvault/node';
 * const o: PcscOptions = {}; // the `smartcard` package
 * ```
 */
export interface PcscOptions {
  /**
   * The binding to use instead of the optional `smartcard` package (tests give a stand-in).
   *
   * @internal
   */
  binding?: PcscBinding;
}

/**
 * Options of {@link PcscTransport.open}.
 *
 * @example
 * ```ts
 * import type { PcscOpenOptions } from 'simvault/node';
 * const o: PcscOpenOptions = { reader: 'Virtual PCD 00 00', waitForCardMs: 5000 };
 * ```
 */
export interface PcscOpenOptions extends PcscOptions {
  /**
   * The reader: its exact name, or a part of it that only one reader's name contains (case
   * ignored). Default: the one reader that holds a card.
   */
  reader?: string;
  /** How long to wait for a card when the reader is empty (default 0: fail at once). */
  waitForCardMs?: number;
  /** `shared` (default) lets other programs use the card between commands; `exclusive` does not. */
  share?: 'shared' | 'exclusive';
}

/**
 * Pick a reader from `names` by `wanted`: the exact name, else the one name containing it (case
 * ignored). Without `wanted`, the one reader among `withCard`. Throws `PCSC_NO_READER` (or
 * `PCSC_NO_CARD` when no reader holds a card) naming the readers there are.
 *
 * @example
 * ```ts
 * import { pickPcscReader } from 'simvault/node';
 * pickPcscReader(['Virtual PCD 00 00', 'Virtual PCD 00 01'], '00 01'); // 'Virtual PCD 00 01'
 * ```
 */
export function pickPcscReader(
  names: readonly string[],
  wanted?: string,
  withCard: readonly string[] = names,
): string {
  const list = names.length === 0 ? 'no reader is attached' : `readers: ${names.join(', ')}`;
  if (wanted === undefined) {
    if (withCard.length === 1) return withCard[0]!;
    if (withCard.length === 0)
      throw new PcscError(
        names.length === 0 ? 'PCSC_NO_READER' : 'PCSC_NO_CARD',
        `no reader holds a card (${list})`,
      );
    throw new PcscError(
      'PCSC_NO_READER',
      `several readers hold a card; name one (${withCard.join(', ')})`,
    );
  }
  if (names.includes(wanted)) return wanted;
  const needle = wanted.toLowerCase();
  const hits = names.filter((n) => n.toLowerCase().includes(needle));
  if (hits.length === 1) return hits[0]!;
  throw new PcscError(
    'PCSC_NO_READER',
    hits.length === 0
      ? `no reader named '${wanted}' (${list})`
      : `'${wanted}' matches several readers: ${hits.join(', ')}`,
    wanted,
  );
}

function openContext(binding: PcscBinding): PcscNativeContext {
  try {
    return new binding.Context();
  } catch (e) {
    throw pcscErrorOf(e, 'cannot reach the PC/SC service');
  }
}

/**
 * The readers attached now, with the ATR of the card in each. Throws `PCSC_UNAVAILABLE` without
 * the binding, `PCSC_NO_SERVICE` when pcscd is not running.
 *
 * @example
 * ```ts
 * import { listPcscReaders } from 'simvault/node';
 * for (const r of await listPcscReaders()) console.log(r.name, r.atr ? 'card' : 'empty');
 * ```
 */
export async function listPcscReaders(options: PcscOptions = {}): Promise<PcscReaderInfo[]> {
  const binding = options.binding ?? (await loadPcscBinding());
  const context = openContext(binding);
  try {
    return readersOf(binding, context);
  } finally {
    context.close();
  }
}

function readersOf(binding: PcscBinding, context: PcscNativeContext): PcscReaderInfo[] {
  let readers;
  try {
    readers = context.listReaders();
  } catch (e) {
    throw pcscErrorOf(e, 'cannot list the readers');
  }
  return readers.map((r) => ({
    name: r.name,
    atr:
      (r.state & binding.SCARD_STATE_PRESENT) !== 0 &&
      (r.state & binding.SCARD_STATE_MUTE) === 0 &&
      r.atr !== null &&
      r.atr.length > 0
        ? new Uint8Array(r.atr)
        : undefined,
  }));
}

async function waitForCard(
  binding: PcscBinding,
  context: PcscNativeContext,
  reader: string,
  ms: number,
): Promise<void> {
  const deadline = Date.now() + ms;
  let state: number = binding.SCARD_STATE_UNAWARE;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0)
      throw new PcscError('PCSC_NO_CARD', `no card in ${reader} after ${ms} ms`, reader);
    let changes;
    try {
      changes = await context.waitForChange([{ name: reader, state }], left);
    } catch (e) {
      throw pcscErrorOf(e, 'waiting for a card', reader);
    }
    const now = changes?.[0];
    if (changes === null)
      throw new PcscError('PCSC_NO_CARD', `waiting for a card in ${reader} was cancelled`, reader);
    if (now === undefined) continue;
    if (
      (now.state & binding.SCARD_STATE_PRESENT) !== 0 &&
      (now.state & binding.SCARD_STATE_MUTE) === 0
    )
      return;
    if ((now.state & (binding.SCARD_STATE_UNKNOWN | binding.SCARD_STATE_UNAVAILABLE)) !== 0)
      throw new PcscError('PCSC_NO_READER', `${reader} went away`, reader);
    state = now.state & ~binding.SCARD_STATE_CHANGED;
  }
}

function protocolName(binding: PcscBinding, protocol: number): 'T=0' | 'T=1' | 'other' {
  if (protocol === binding.SCARD_PROTOCOL_T0) return 'T=0';
  if (protocol === binding.SCARD_PROTOCOL_T1) return 'T=1';
  return 'other';
}

/**
 * A card in a PC/SC reader. `transmit` sends one command APDU and resolves to the whole
 * response: a `61xx` is followed by GET RESPONSE and a `6Cxx` by the same command with the
 * right Le, here, once for every caller (`transmitT0`). Commands are sent one at a time in
 * the order given. A removed card makes `transmit` reject with `PCSC_NO_CARD`.
 *
 * @example
 * ```ts
 * import { PcscTransport } from 'simvault/node';
 * import { ChipClient } from 'simvault/sim';
 * const reader = await PcscTransport.open({ reader: 'Virtual PCD 00 01' });
 * const chip = new ChipClient(reader);
 * await chip.selectChip();
 * await reader.close();
 * ```
 */
export class PcscTransport implements ApduTransport {
  private queue: Promise<unknown> = Promise.resolve();
  private atrBytes: Uint8Array;
  private closed = false;

  private constructor(
    private readonly binding: PcscBinding,
    private readonly context: PcscNativeContext,
    private readonly card: PcscNativeCard,
    private readonly shareMode: number,
    /** The reader's name. */
    readonly reader: string,
  ) {
    this.atrBytes = new Uint8Array(card.getStatus().atr);
  }

  /**
   * Connect to the card in a reader (see {@link PcscOpenOptions} for which). Throws
   * `PCSC_UNAVAILABLE`, `PCSC_NO_SERVICE`, `PCSC_NO_READER`, `PCSC_NO_CARD` or `PCSC_FAILED`.
   *
   * @example
   * ```ts
   * import { PcscTransport } from 'simvault/node';
   * const sim = await PcscTransport.open({ reader: 'Virtual PCD 00 00', waitForCardMs: 2000 });
   * ```
   */
  static async open(options: PcscOpenOptions = {}): Promise<PcscTransport> {
    const wait = options.waitForCardMs ?? 0;
    if (!Number.isFinite(wait) || wait < 0)
      throw new ArgumentError('waitForCardMs must be a number of milliseconds ≥ 0');
    const share: unknown = options.share;
    if (share !== undefined && share !== 'shared' && share !== 'exclusive')
      throw new ArgumentError("share must be 'shared' or 'exclusive'");
    const binding = options.binding ?? (await loadPcscBinding());
    const context = openContext(binding);
    try {
      const readers = readersOf(binding, context);
      const names = readers.map((r) => r.name);
      const withCard = readers.filter((r) => r.atr !== undefined).map((r) => r.name);
      const name = pickPcscReader(names, options.reader, withCard);
      if (!withCard.includes(name)) {
        if (wait === 0) throw new PcscError('PCSC_NO_CARD', `no card in ${name}`, name);
        await waitForCard(binding, context, name, wait);
      }
      const shareMode =
        options.share === 'exclusive' ? binding.SCARD_SHARE_EXCLUSIVE : binding.SCARD_SHARE_SHARED;
      const reader = context.listReaders().find((r) => r.name === name);
      if (reader === undefined) throw new PcscError('PCSC_NO_READER', `${name} went away`, name);
      let card;
      try {
        card = await reader.connect(
          shareMode,
          binding.SCARD_PROTOCOL_T0 | binding.SCARD_PROTOCOL_T1,
        );
      } catch (e) {
        throw pcscErrorOf(e, 'cannot connect to the card', name);
      }
      return new PcscTransport(binding, context, card, shareMode, name);
    } catch (e) {
      context.close();
      throw e;
    }
  }

  /** The card's ATR, as read at connection or at the last {@link PcscTransport.reset}. */
  get atr(): Uint8Array {
    return this.atrBytes.slice();
  }

  /** The transmission protocol in use. */
  get protocol(): 'T=0' | 'T=1' | 'other' {
    return protocolName(this.binding, this.card.protocol);
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private checkOpen(): void {
    if (this.closed)
      throw new PcscError('PCSC_FAILED', `the connection to ${this.reader} is closed`, this.reader);
  }

  /**
   * Send one command APDU; resolves to the whole response APDU (data, SW1 SW2).
   *
   * @example
   * ```ts
   * import { PcscTransport } from 'simvault/node';
   * const card = await PcscTransport.open();
   * await card.transmit(Uint8Array.from([0x00, 0xa4, 0x04, 0x00, 0x00]));
   * ```
   */
  transmit(command: Uint8Array): Promise<Uint8Array> {
    // Anything non-empty goes to the card, as with the emulators: a malformed APDU is the
    // card's to refuse (6700), not the reader's.
    if (!(command instanceof Uint8Array) || command.length === 0)
      return Promise.reject(new ArgumentError('a command APDU is a non-empty Uint8Array'));
    return this.serial(async () => {
      this.checkOpen();
      return transmitT0(async (c) => {
        try {
          const rsp = await this.card.transmit(Buffer.from(c), { maxRecvLength: MAX_RESPONSE });
          return new Uint8Array(rsp);
        } catch (e) {
          throw pcscErrorOf(e, 'transmit failed', this.reader);
        }
      }, command);
    });
  }

  /**
   * Warm-reset the card (SCardReconnect with SCARD_RESET_CARD): its session ends, as after a
   * power cycle. Resolves to the ATR it answered.
   *
   * @example
   * ```ts
   * import { PcscTransport } from 'simvault/node';
   * const card = await PcscTransport.open();
   * await card.reset();
   * ```
   */
  reset(): Promise<Uint8Array> {
    return this.serial(async () => {
      this.checkOpen();
      try {
        await this.card.reconnect(
          this.shareMode,
          this.binding.SCARD_PROTOCOL_T0 | this.binding.SCARD_PROTOCOL_T1,
          this.binding.SCARD_RESET_CARD,
        );
        this.atrBytes = new Uint8Array(this.card.getStatus().atr);
      } catch (e) {
        throw pcscErrorOf(e, 'reset failed', this.reader);
      }
      return this.atr;
    });
  }

  /**
   * Disconnect, leaving the card powered (`leave`, default), resetting it (`reset`) or powering
   * it down (`unpower`), and release the PC/SC context. Later calls reject; closing twice is
   * harmless.
   *
   * @example
   * ```ts
   * import { PcscTransport } from 'simvault/node';
   * const card = await PcscTransport.open();
   * await card.close('unpower');
   * ```
   */
  close(disposition: 'leave' | 'reset' | 'unpower' = 'leave'): Promise<void> {
    return this.serial(() => {
      if (this.closed) return Promise.resolve();
      this.closed = true;
      const how = {
        leave: this.binding.SCARD_LEAVE_CARD,
        reset: this.binding.SCARD_RESET_CARD,
        unpower: this.binding.SCARD_UNPOWER_CARD,
      }[disposition];
      try {
        this.card.disconnect(how);
      } catch {
        // The card or reader is already gone: there is nothing left to disconnect.
      } finally {
        this.context.close();
      }
      return Promise.resolve();
    });
  }
}
