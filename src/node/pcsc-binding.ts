/**
 * The PC/SC binding simvault drives, and how it is found. The binding is the npm package
 * `smartcard` (N-API over the platform's PC/SC library: pcsc-lite on Linux, WinSCard on
 * Windows, PCSC.framework on macOS), an optional dependency: without it everything but PC/SC
 * works, and asking for PC/SC says why it cannot (`PCSC_UNAVAILABLE`).
 *
 * The shapes below are the part of the binding simvault uses, declared here so that the package
 * stays optional for the type checker too, and so that tests can stand in for a reader.
 *
 * @module
 */
import { SimvaultError, type ErrorCode } from '../errors.js';

/**
 * A failure of a PC/SC reader, its card, the PC/SC service, or the binding. `code` is one of
 * `PCSC_UNAVAILABLE`, `PCSC_NO_SERVICE`, `PCSC_NO_READER`, `PCSC_NO_CARD`, `PCSC_FAILED`.
 *
 * @example
 * ```ts
 * import { PcscError } from 'simvault/node';
 * const e = new PcscError('PCSC_NO_CARD', 'no card in Virtual PCD 00 00', 'Virtual PCD 00 00');
 * e.reader; // 'Virtual PCD 00 00'
 * ```
 */
export class PcscError extends SimvaultError {
  /** The reader concerned, when there is one. */
  readonly reader: string | undefined;

  /**
   * Create a PC/SC error.
   *
   * @param code - a `PCSC_*` code
   * @param message - what happened
   * @param reader - the reader concerned
   * @param options - the underlying error as `cause`
   */
  constructor(code: ErrorCode, message: string, reader?: string, options?: ErrorOptions) {
    super(code, message, options);
    this.reader = reader;
  }
}

/**
 * A connected card, as the binding hands it out.
 *
 * @example
 * ```ts
 * import type { PcscNativeCard } from 'simvault/node';
 * const send = (c: PcscNativeCard) => c.transmit(Buffer.from('00a4040000', 'hex'));
 * ```
 */
export interface PcscNativeCard {
  /** The protocol negotiated (`SCARD_PROTOCOL_T0`, `SCARD_PROTOCOL_T1`, …). */
  readonly protocol: number;
  /** Send one APDU (SCardTransmit); resolves to the raw response. */
  transmit(command: Buffer, options?: { maxRecvLength?: number }): Promise<Buffer>;
  /** SCardStatus: the card's state, protocol and ATR. */
  getStatus(): PcscNativeStatus;
  /** SCardReconnect; resolves to the protocol. */
  reconnect(shareMode: number, protocol: number, initialization: number): Promise<number>;
  /** SCardDisconnect. */
  disconnect(disposition: number): void;
}

/**
 * What SCardStatus tells of a connected card.
 *
 * @example
 * ```ts
 * import type { PcscNativeStatus } from 'simvault/node';
 * const atrOf = (s: PcscNativeStatus) => s.atr.toString('hex');
 * ```
 */
export interface PcscNativeStatus {
  /** Its `SCARD_STATE_*` flags. */
  state: number;
  /** The protocol in use. */
  protocol: number;
  /** The card's ATR. */
  atr: Buffer;
}

/**
 * The context class of a binding.
 *
 * @example
 * ```ts
 * import type { PcscContextClass } from 'simvault/node';
 * const open = (C: PcscContextClass) => new C();
 * ```
 */
export interface PcscContextClass {
  /** SCardEstablishContext; throws when the PC/SC service is absent. */
  new (): PcscNativeContext;
}

/**
 * A reader, as the binding lists it.
 *
 * @example
 * ```ts
 * import type { PcscNativeReader } from 'simvault/node';
 * const describe = (r: PcscNativeReader) => `${r.name} ${r.state.toString(16)}`;
 * ```
 */
export interface PcscNativeReader {
  /** The reader's name. */
  readonly name: string;
  /** Its `SCARD_STATE_*` flags when listed. */
  readonly state: number;
  /** The ATR of the card in it, if any. */
  readonly atr: Buffer | null;
  /** SCardConnect. */
  connect(shareMode: number, protocol: number): Promise<PcscNativeCard>;
}

/**
 * One reader's state in an SCardGetStatusChange answer.
 *
 * @example
 * ```ts
 * import type { PcscNativeReaderState } from 'simvault/node';
 * const present = (s: PcscNativeReaderState) => (s.state & 0x20) !== 0;
 * ```
 */
export interface PcscNativeReaderState {
  /** The reader's name (or `\\?PnP?\Notification`). */
  name: string;
  /** Its `SCARD_STATE_*` event flags. */
  state: number;
  /** Whether the state differs from the one passed in. */
  changed: boolean;
  /** The ATR of the card in it, if any. */
  atr: Buffer | null;
}

/**
 * A PC/SC context (SCardEstablishContext).
 *
 * @example
 * ```ts
 * import type { PcscNativeContext } from 'simvault/node';
 * const names = (c: PcscNativeContext) => c.listReaders().map((r) => r.name);
 * ```
 */
export interface PcscNativeContext {
  /** SCardListReaders, with each reader's current state. */
  listReaders(): PcscNativeReader[];
  /**
   * SCardGetStatusChange over the readers given with the states the caller knows; resolves to
   * every reader's new state, `[]` on timeout, `null` when cancelled.
   */
  waitForChange(
    readers: { name: string; state: number }[],
    timeoutMs: number,
  ): Promise<PcscNativeReaderState[] | null>;
  /** SCardCancel: a pending `waitForChange` resolves to `null`. */
  cancel(): void;
  /** SCardReleaseContext. */
  close(): void;
}

/**
 * The binding: its context class and the PC/SC constants simvault uses.
 *
 * @example
 * ```ts
 * import { loadPcscBinding } from 'simvault/node';
 * const pcsc = await loadPcscBinding();
 * const context = new pcsc.Context();
 * ```
 */
export interface PcscBinding {
  /** Establishes a context; throws when the PC/SC service is absent. */
  Context: PcscContextClass;
  /** Share the card with other programs. */
  SCARD_SHARE_SHARED: number;
  /** Keep the card for this program alone. */
  SCARD_SHARE_EXCLUSIVE: number;
  /** Protocol T=0. */
  SCARD_PROTOCOL_T0: number;
  /** Protocol T=1. */
  SCARD_PROTOCOL_T1: number;
  /** Disconnect leaving the card as it is. */
  SCARD_LEAVE_CARD: number;
  /** Disconnect or reconnect with a warm reset. */
  SCARD_RESET_CARD: number;
  /** Disconnect powering the card down. */
  SCARD_UNPOWER_CARD: number;
  /** State: not known to the caller. */
  SCARD_STATE_UNAWARE: number;
  /** State: differs from the one passed in. */
  SCARD_STATE_CHANGED: number;
  /** State: the reader is gone. */
  SCARD_STATE_UNKNOWN: number;
  /** State: the reader cannot be reached. */
  SCARD_STATE_UNAVAILABLE: number;
  /** State: a card is in the reader. */
  SCARD_STATE_PRESENT: number;
  /** State: the card does not answer its reset. */
  SCARD_STATE_MUTE: number;
}

// A variable, not a literal, so that bundlers leave the optional native package to run time.
const PACKAGE = 'smartcard';

let loaded: Promise<PcscBinding> | undefined;

/**
 * Load the PC/SC binding (the optional npm package `smartcard`) once. Rejects with
 * `PCSC_UNAVAILABLE` when it is not installed or its native part did not build or load (on
 * Linux it needs `libpcsclite-dev` to build and `libpcsclite1` to load).
 *
 * @example
 * ```ts
 * import { loadPcscBinding } from 'simvault/node';
 * const pcsc = await loadPcscBinding();
 * pcsc.SCARD_PROTOCOL_T0; // 1
 * ```
 */
export function loadPcscBinding(): Promise<PcscBinding> {
  loaded ??= (async () => {
    try {
      const mod = (await import(PACKAGE)) as { default?: PcscBinding } & Partial<PcscBinding>;
      const binding = (mod.Context ? mod : mod.default) as PcscBinding | undefined;
      if (typeof binding?.Context !== 'function')
        throw new Error(`the package '${PACKAGE}' does not export a PC/SC Context`);
      return binding;
    } catch (e) {
      loaded = undefined;
      throw new PcscError(
        'PCSC_UNAVAILABLE',
        `PC/SC is unavailable: the optional package '${PACKAGE}' is not installed or did not load ` +
          `(npm install ${PACKAGE}; on Linux it builds against libpcsclite-dev): ${(e as Error).message}`,
        undefined,
        { cause: e },
      );
    }
  })();
  return loaded;
}

// The binding reports failures as plain Errors whose message is pcsc-lite's fixed text for the
// SCARD_* code (it carries no numeric code), so the code is recovered from that text, here only.
const MESSAGE_CODES: [RegExp, ErrorCode][] = [
  [/service not running|service stopped|no service/i, 'PCSC_NO_SERVICE'],
  [/unknown reader|reader unavailable|no readers available/i, 'PCSC_NO_READER'],
  [
    /no smart card|card was removed|card was reset|unpowered|unresponsive|not connected/i,
    'PCSC_NO_CARD',
  ],
];

/**
 * Turn whatever the binding threw into a {@link PcscError} with a stable code.
 *
 * @param e - the thrown value
 * @param what - what simvault was doing, for the message
 * @param reader - the reader concerned
 *
 * @example
 * ```ts
 * import { pcscErrorOf } from 'simvault/node';
 * pcscErrorOf(new Error('Card was removed'), 'transmit', 'Virtual PCD 00 00').code; // 'PCSC_NO_CARD'
 * ```
 */
export function pcscErrorOf(e: unknown, what: string, reader?: string): PcscError {
  if (e instanceof PcscError) return e;
  const text = e instanceof Error ? e.message : String(e);
  const code = MESSAGE_CODES.find(([re]) => re.test(text))?.[1] ?? 'PCSC_FAILED';
  const where = reader === undefined ? '' : ` (${reader})`;
  return new PcscError(code, `${what}${where}: ${text}`, reader, { cause: e });
}
