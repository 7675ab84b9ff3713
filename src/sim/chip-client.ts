/**
 * The handset's side of the memory card's secure chip: typed calls over any
 * {@link ApduTransport} (the software `SecureChip` or a real reader), with the chip's
 * status words turned into {@link ChipError}s the card engine can tell apart — an absent or
 * blocked chip is never reported as corruption.
 *
 * @module
 */
import { concatBytes } from '../bytes.js';
import { ArgumentError, SimvaultError, type ErrorCode } from '../errors.js';
import { encodeCommandApdu } from '../protocol/apdu.js';
import { decodeChipInfo, type ChipInfo } from './chip/chip-data.js';
import {
  CHIP_AID,
  CHIP_INS,
  CHIP_PIN_REFERENCE,
  CHIP_SW,
  CHIP_TAG,
  chipStatusWordName,
  FILE_KEY_LENGTH,
  CHIP_MAX_CONTEXT_LENGTH,
  WRAPPED_KEY_LENGTH,
} from './chip/constants.js';
import { encodePinBlock, encodePukBlock, isValidPin, isValidPuk } from './chip/pin.js';
import type { ApduTransport } from './transport.js';

/**
 * A failure reported by the secure chip, or the chip's absence. `code` is one of `CHIP_ABSENT`,
 * `CHIP_BLOCKED`, `CHIP_AUTH_REQUIRED`, `CHIP_WRONG_PIN`, `CHIP_UNWRAP_FAILED`, `CHIP_ERROR`.
 *
 * @example
 * ```ts
 * import { ChipError } from 'simvault/sim';
 * const e = new ChipError('CHIP_WRONG_PIN', 'wrong PIN', { sw: 0x63c2, triesLeft: 2 });
 * e.triesLeft; // 2
 * ```
 */
export class ChipError extends SimvaultError {
  /** The status word the chip answered with, when it answered. */
  readonly sw: number | undefined;
  /** For `CHIP_WRONG_PIN`: the PIN (or PUK) tries left. */
  readonly triesLeft: number | undefined;

  /**
   * Create a chip error.
   *
   * @param code - a `CHIP_*` code
   * @param message - what happened
   * @param details - the status word, tries left, and a cause
   */
  constructor(
    code: ErrorCode,
    message: string,
    details: { sw?: number; triesLeft?: number; cause?: unknown } = {},
  ) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.sw = details.sw;
    this.triesLeft = details.triesLeft;
  }
}

/**
 * A file key fresh from the chip: the key to encrypt the file with, and its wrapped form to
 * store beside the file.
 *
 * @example
 * ```ts
 * import type { GeneratedFileKey } from 'simvault/sim';
 * const k: GeneratedFileKey = { key: new Uint8Array(32), wrapped: new Uint8Array(61) };
 * ```
 */
export interface GeneratedFileKey {
  /** The 32-byte file key. Forget it once the file is encrypted. */
  key: Uint8Array;
  /** The 61-byte wrapped key; only this chip unwraps it, and only for the same context. */
  wrapped: Uint8Array;
}

interface Answer {
  data: Uint8Array;
  sw: number;
}

function swText(sw: number): string {
  return `${sw.toString(16).padStart(4, '0')} (${chipStatusWordName(sw)})`;
}

function checkContext(context: unknown): asserts context is Uint8Array {
  if (
    !(context instanceof Uint8Array) ||
    context.length === 0 ||
    context.length > CHIP_MAX_CONTEXT_LENGTH
  ) {
    throw new ArgumentError(`context must be a Uint8Array of 1-${CHIP_MAX_CONTEXT_LENGTH} bytes`);
  }
}

/**
 * Typed calls to the secure chip. Open a session with {@link ChipClient.selectChip} and
 * {@link ChipClient.verifyPin}; a reset of the chip ends it (`CHIP_AUTH_REQUIRED` then says so).
 *
 * @example
 * ```ts
 * import { ChipClient, SecureChip, personalizeChip } from 'simvault/sim';
 * const chip = new ChipClient(new SecureChip(personalizeChip({ pin: '1234' })));
 * await chip.selectChip();
 * await chip.verifyPin('1234');
 * const { key, wrapped } = await chip.generateFileKey(new TextEncoder().encode('user/tv.apk'));
 * const again = await chip.unwrapFileKey(wrapped, new TextEncoder().encode('user/tv.apk'));
 * ```
 */
export class ChipClient {
  /**
   * Create a client over a transport to the chip.
   *
   * @param transport - the chip's APDU transport
   */
  constructor(readonly transport: ApduTransport) {}

  private async send(
    cla: number,
    ins: number,
    p1: number,
    p2: number,
    data: Uint8Array = new Uint8Array(0),
    le?: number,
  ): Promise<Answer> {
    const command = encodeCommandApdu({
      cla,
      ins,
      p1,
      p2,
      data,
      ...(le === undefined ? {} : { le }),
    });
    let response: Uint8Array;
    try {
      response = await this.transport.transmit(command);
    } catch (e) {
      throw new ChipError('CHIP_ABSENT', 'the secure chip does not answer', { cause: e });
    }
    if (!(response instanceof Uint8Array) || response.length < 2) {
      throw new ChipError(
        'CHIP_ERROR',
        'the secure chip sent a malformed response (shorter than a status word)',
      );
    }
    const n = response.length;
    return { data: response.slice(0, n - 2), sw: (response[n - 2]! << 8) | response[n - 1]! };
  }

  /** Turn a non-9000 answer into the error every command shares. */
  private fail(answer: Answer, what: string): never {
    const { sw } = answer;
    if (sw === CHIP_SW.BLOCKED)
      throw new ChipError('CHIP_BLOCKED', `${what}: the PIN is blocked`, { sw });
    if (sw === CHIP_SW.SECURITY_NOT_SATISFIED)
      throw new ChipError('CHIP_AUTH_REQUIRED', `${what}: verify the PIN first`, { sw });
    if (sw === CHIP_SW.CONDITIONS_NOT_SATISFIED) {
      throw new ChipError(
        'CHIP_AUTH_REQUIRED',
        `${what}: no chip session (the chip was reset); select it and verify the PIN`,
        { sw },
      );
    }
    if ((sw & 0xfff0) === CHIP_SW.WRONG_PIN_BASE) {
      const triesLeft = sw & 0x0f;
      throw new ChipError(
        'CHIP_WRONG_PIN',
        `${what}: wrong PIN, ${triesLeft} ${triesLeft === 1 ? 'try' : 'tries'} left`,
        { sw, triesLeft },
      );
    }
    throw new ChipError('CHIP_ERROR', `${what}: the chip answered ${swText(sw)}`, { sw });
  }

  /**
   * Select the chip application; this starts a new session (PIN not verified). Throws
   * `CHIP_ABSENT` when the transport fails or the chip has no such application (6A82).
   *
   * @example
   * ```ts
   * import { ChipClient, SecureChip, personalizeChip } from 'simvault/sim';
   * await new ChipClient(new SecureChip(personalizeChip({ pin: '1234' }))).selectChip();
   * ```
   */
  async selectChip(): Promise<void> {
    const answer = await this.send(0x00, CHIP_INS.SELECT, 0x04, 0x0c, CHIP_AID);
    if (answer.sw === CHIP_SW.OK) return;
    if (answer.sw === CHIP_SW.NOT_FOUND)
      throw new ChipError('CHIP_ABSENT', 'no simvault chip application on this chip', {
        sw: answer.sw,
      });
    this.fail(answer, 'SELECT');
  }

  /**
   * Verify the PIN. Throws `CHIP_WRONG_PIN` (with `triesLeft`) for a wrong one, `CHIP_BLOCKED`
   * once it is blocked, `INVALID_ARGUMENT` for anything but 4-8 digits.
   *
   * @example
   * ```ts
   * import { ChipClient, SecureChip, personalizeChip } from 'simvault/sim';
   * const chip = new ChipClient(new SecureChip(personalizeChip({ pin: '1234' })));
   * await chip.selectChip();
   * await chip.verifyPin('1234');
   * ```
   */
  async verifyPin(pin: string): Promise<void> {
    if (!isValidPin(pin)) throw new ArgumentError('pin must be 4 to 8 decimal digits');
    const answer = await this.send(
      0x00,
      CHIP_INS.VERIFY,
      0x00,
      CHIP_PIN_REFERENCE,
      encodePinBlock(pin),
    );
    if (answer.sw !== CHIP_SW.OK) this.fail(answer, 'VERIFY');
  }

  /**
   * Change the PIN, proving the old one (a wrong old PIN spends a try). Leaves the PIN verified.
   *
   * @example
   * ```ts
   * import { ChipClient, SecureChip, personalizeChip } from 'simvault/sim';
   * const chip = new ChipClient(new SecureChip(personalizeChip({ pin: '1234' })));
   * await chip.selectChip();
   * await chip.changePin('1234', '908172');
   * ```
   */
  async changePin(oldPin: string, newPin: string): Promise<void> {
    if (!isValidPin(oldPin) || !isValidPin(newPin))
      throw new ArgumentError('PINs must be 4 to 8 decimal digits');
    const data = concatBytes(encodePinBlock(oldPin), encodePinBlock(newPin));
    const answer = await this.send(
      0x00,
      CHIP_INS.CHANGE_REFERENCE_DATA,
      0x00,
      CHIP_PIN_REFERENCE,
      data,
    );
    if (answer.sw !== CHIP_SW.OK) this.fail(answer, 'CHANGE REFERENCE DATA');
  }

  /**
   * Unblock the PIN with the PUK and set a new PIN; both retry counters are restored. A wrong PUK
   * throws `CHIP_WRONG_PIN` with the PUK tries left; a blocked PUK `CHIP_BLOCKED`.
   *
   * @example
   * ```ts
   * import { ChipClient, SecureChip, personalizeChip } from 'simvault/sim';
   * const chip = new ChipClient(new SecureChip(personalizeChip({ pin: '1234', puk: '12345678' })));
   * await chip.selectChip();
   * await chip.unblockPin('12345678', '4321');
   * ```
   */
  async unblockPin(puk: string, newPin: string): Promise<void> {
    if (!isValidPuk(puk)) throw new ArgumentError('puk must be exactly 8 decimal digits');
    if (!isValidPin(newPin)) throw new ArgumentError('newPin must be 4 to 8 decimal digits');
    const data = concatBytes(encodePukBlock(puk), encodePinBlock(newPin));
    const answer = await this.send(
      0x00,
      CHIP_INS.RESET_RETRY_COUNTER,
      0x00,
      CHIP_PIN_REFERENCE,
      data,
    );
    if (answer.sw !== CHIP_SW.OK) this.fail(answer, 'RESET RETRY COUNTER');
  }

  /**
   * Read the chip's public data: serial, COS version, algorithms, retry counters. Needs no PIN.
   *
   * @example
   * ```ts
   * import { ChipClient, SecureChip, personalizeChip } from 'simvault/sim';
   * const chip = new ChipClient(new SecureChip(personalizeChip({ pin: '1234' })));
   * await chip.selectChip();
   * (await chip.getData()).pinTriesLeft; // 3
   * ```
   */
  async getData(): Promise<ChipInfo> {
    const answer = await this.send(
      0x00,
      CHIP_INS.GET_DATA,
      CHIP_TAG.CHIP_INFO >> 8,
      CHIP_TAG.CHIP_INFO & 0xff,
      undefined,
      256,
    );
    if (answer.sw !== CHIP_SW.OK) this.fail(answer, 'GET DATA');
    try {
      return decodeChipInfo(answer.data);
    } catch (e) {
      if (e instanceof SimvaultError)
        throw new ChipError('CHIP_ERROR', `GET DATA: malformed chip information: ${e.message}`, {
          cause: e,
        });
      throw e;
    }
  }

  /**
   * Have the chip generate a file key for `context` (1-192 bytes naming the file, e.g. zone and
   * file identifier) and wrap it. Needs a verified PIN.
   *
   * @example
   * ```ts
   * import { ChipClient, SecureChip, personalizeChip } from 'simvault/sim';
   * const chip = new ChipClient(new SecureChip(personalizeChip({ pin: '1234' })));
   * await chip.selectChip();
   * await chip.verifyPin('1234');
   * (await chip.generateFileKey(new Uint8Array([1, 2, 3]))).wrapped.length; // 61
   * ```
   */
  async generateFileKey(context: Uint8Array): Promise<GeneratedFileKey> {
    checkContext(context);
    const answer = await this.send(0x80, CHIP_INS.GENERATE_FILE_KEY, 0x00, 0x00, context, 256);
    if (answer.sw !== CHIP_SW.OK) this.fail(answer, 'GENERATE FILE KEY');
    if (answer.data.length !== FILE_KEY_LENGTH + WRAPPED_KEY_LENGTH) {
      throw new ChipError(
        'CHIP_ERROR',
        `GENERATE FILE KEY: expected ${FILE_KEY_LENGTH + WRAPPED_KEY_LENGTH} bytes, got ${answer.data.length}`,
      );
    }
    return {
      key: answer.data.slice(0, FILE_KEY_LENGTH),
      wrapped: answer.data.slice(FILE_KEY_LENGTH),
    };
  }

  /**
   * Have the chip unwrap a file key for `context`. Throws `CHIP_UNWRAP_FAILED` when the wrapped
   * key is damaged, was made for another context, or by another chip. Needs a verified PIN.
   *
   * @example
   * ```ts
   * import { ChipClient, SecureChip, personalizeChip } from 'simvault/sim';
   * const chip = new ChipClient(new SecureChip(personalizeChip({ pin: '1234' })));
   * await chip.selectChip();
   * await chip.verifyPin('1234');
   * const ctx = new Uint8Array([7]);
   * const { wrapped } = await chip.generateFileKey(ctx);
   * (await chip.unwrapFileKey(wrapped, ctx)).length; // 32
   * ```
   */
  async unwrapFileKey(wrapped: Uint8Array, context: Uint8Array): Promise<Uint8Array> {
    if (!(wrapped instanceof Uint8Array)) throw new ArgumentError('wrapped must be a Uint8Array');
    checkContext(context);
    if (wrapped.length !== WRAPPED_KEY_LENGTH) {
      throw new ChipError(
        'CHIP_UNWRAP_FAILED',
        `a wrapped key is ${WRAPPED_KEY_LENGTH} bytes, got ${wrapped.length}`,
      );
    }
    const answer = await this.send(
      0x80,
      CHIP_INS.UNWRAP_FILE_KEY,
      0x00,
      0x00,
      concatBytes(wrapped, context),
      256,
    );
    if (answer.sw === CHIP_SW.INCORRECT_DATA) {
      throw new ChipError(
        'CHIP_UNWRAP_FAILED',
        'the chip refused to unwrap: damaged, or bound to another file or chip',
        { sw: answer.sw },
      );
    }
    if (answer.sw !== CHIP_SW.OK) this.fail(answer, 'UNWRAP FILE KEY');
    if (answer.data.length !== FILE_KEY_LENGTH) {
      throw new ChipError(
        'CHIP_ERROR',
        `UNWRAP FILE KEY: expected ${FILE_KEY_LENGTH} bytes, got ${answer.data.length}`,
      );
    }
    return answer.data;
  }
}
