/**
 * The memory card's secure chip in software: a minimal card operating system behind an APDU
 * transport. It selects by AID, answers GET DATA, checks a PIN with a blocking retry counter
 * (and unblocks it with a PUK), and generates and unwraps per-file keys under a chip key that no
 * command ever returns. `docs/chip-apdus.md` lists every command and status word.
 *
 * Every command answers with a well-formed response APDU; a malformed one gets a status word,
 * never an exception. The one exception is a failure of the persistence callback, which is the
 * emulator's power cut: `transmit` rejects with it and the session (selection, PIN status) is
 * dropped, as on a real chip losing power.
 *
 * @module
 */
import { ArgumentError, ProtocolError } from '../../errors.js';
import { concatBytes, equalBytes, randomBytes } from '../../bytes.js';
import { decodeCommandApdu, encodeResponseApdu, type CommandApdu } from '../../protocol/apdu.js';
import { encodeBerTlv } from '../../protocol/ber-tlv.js';
import type { ApduTransport } from '../transport.js';
import { chipDataObject } from './chip-data.js';
import {
  CHIP_AID,
  CHIP_INS,
  CHIP_PIN_REFERENCE,
  CHIP_SW,
  FILE_KEY_LENGTH,
  CHIP_MAX_CONTEXT_LENGTH,
  WRAPPED_KEY_LENGTH,
} from './constants.js';
import { unwrapFileKey, wrapFileKey } from './key-wrap.js';
import { decodePinBlock, decodePukBlock, PIN_BLOCK_LENGTH, secretsEqual } from './pin.js';
import { decodeChipState, encodeChipState, type ChipState } from './state.js';

/**
 * How a {@link SecureChip} keeps its memory and draws randomness.
 *
 * @example
 * ```ts
 * import type { SecureChipOptions } from 'simvault/sim';
 * const saved: Uint8Array[] = [];
 * const options: SecureChipOptions = { persist: (state) => void saved.push(state) };
 * ```
 */
export interface SecureChipOptions {
  /**
   * Called with the encoded state ({@link encodeChipState}) every time it changes, and awaited
   * before the command's result is returned. A rejection is a power cut: `transmit` rejects.
   */
  persist?: (state: Uint8Array) => void | Promise<void>;
  /** Random source for file keys and nonces; the platform CSPRNG when absent. */
  random?: (length: number) => Uint8Array;
}

interface Reply {
  data: Uint8Array;
  sw: number;
}

const EMPTY = new Uint8Array(0);
const NONCE_LENGTH = 12;

function status(sw: number): Reply {
  return { data: EMPTY, sw };
}

function ok(data: Uint8Array = EMPTY): Reply {
  return { data, sw: CHIP_SW.OK };
}

function wrongPin(left: number): Reply {
  return status(CHIP_SW.WRONG_PIN_BASE | left);
}

/** Marks a failure of the persistence callback, so it is rethrown rather than turned into 6F00. */
class PowerLoss extends Error {
  constructor(cause: unknown) {
    super('the chip lost power while committing its state', { cause });
  }
}

type Handler = (apdu: CommandApdu) => Reply | Promise<Reply>;

/**
 * A software secure chip. Use it as the {@link ApduTransport} of a chip client, or send it raw
 * APDUs; commands are handled one at a time in arrival order.
 *
 * @example
 * ```ts
 * import { SecureChip, personalizeChip } from 'simvault/sim';
 * import { fromHex, toHex } from 'simvault';
 * const chip = new SecureChip(personalizeChip({ pin: '1234' }));
 * toHex(await chip.transmit(fromHex('00a4040c0af053494d564348495001'))); // '9000'
 * ```
 */
export class SecureChip implements ApduTransport {
  private state: ChipState;
  private selected = false;
  private verified = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly persist: ((state: Uint8Array) => void | Promise<void>) | undefined;
  private readonly random: (length: number) => Uint8Array;
  private readonly handlers: ReadonlyMap<number, Handler>;

  /**
   * Power up a chip with the state it kept (from {@link personalizeChip} or
   * {@link decodeChipState}). Throws a `ProtocolError` for a state out of range.
   *
   * @param state - the chip's persistent memory; copied
   * @param options - persistence and random source
   */
  constructor(state: ChipState, options: SecureChipOptions = {}) {
    this.state = decodeChipState(encodeChipState(state));
    this.persist = options.persist;
    this.random = options.random ?? randomBytes;
    const key = (cla: number, ins: number) => (cla << 8) | ins;
    this.handlers = new Map<number, Handler>([
      [key(0x00, CHIP_INS.SELECT), (a) => this.select(a)],
      [key(0x00, CHIP_INS.GET_DATA), (a) => this.getData(a)],
      [key(0x80, CHIP_INS.GET_DATA), (a) => this.getData(a)],
      [key(0x00, CHIP_INS.VERIFY), (a) => this.verify(a)],
      [key(0x00, CHIP_INS.CHANGE_REFERENCE_DATA), (a) => this.changePin(a)],
      [key(0x00, CHIP_INS.RESET_RETRY_COUNTER), (a) => this.resetRetryCounter(a)],
      [key(0x80, CHIP_INS.GENERATE_FILE_KEY), (a) => this.generateFileKey(a)],
      [key(0x80, CHIP_INS.UNWRAP_FILE_KEY), (a) => this.unwrapFileKey(a)],
    ]);
  }

  /**
   * Handle one command APDU; resolves to its response APDU. Rejects only when `persist` does
   * (or for a non-`Uint8Array` argument).
   *
   * @param command - the whole command APDU
   */
  transmit(command: Uint8Array): Promise<Uint8Array> {
    if (!(command instanceof Uint8Array))
      return Promise.reject(new ArgumentError('command must be a Uint8Array'));
    const bytes = command.slice();
    const run = this.queue.then(() => this.handle(bytes));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * A power cycle or warm reset: the selection and the PIN status are forgotten; the persistent
   * state (counters, keys) stays.
   *
   * @example
   * ```ts
   * import { SecureChip, personalizeChip } from 'simvault/sim';
   * const chip = new SecureChip(personalizeChip({ pin: '1234' }));
   * chip.reset();
   * ```
   */
  reset(): void {
    this.selected = false;
    this.verified = false;
  }

  /**
   * The chip's persistent memory in its byte form ({@link encodeChipState}) — what an emulator
   * saves. Real chips have no such door; no APDU reaches it.
   *
   * @example
   * ```ts
   * import { SecureChip, personalizeChip } from 'simvault/sim';
   * new SecureChip(personalizeChip({ pin: '1234' })).exportState().length; // 81
   * ```
   */
  exportState(): Uint8Array {
    return encodeChipState(this.state);
  }

  private async handle(command: Uint8Array): Promise<Uint8Array> {
    let reply: Reply;
    try {
      reply = await this.dispatch(command);
    } catch (e) {
      if (e instanceof PowerLoss) {
        this.reset();
        throw e.cause;
      }
      // A fault in the COS itself: answer it, having changed nothing the commit did not persist.
      reply = status(CHIP_SW.NO_PRECISE_DIAGNOSIS);
    }
    return encodeResponseApdu(reply);
  }

  private async dispatch(command: Uint8Array): Promise<Reply> {
    if (command.length < 4) return status(CHIP_SW.WRONG_LENGTH);
    const cla = command[0]!;
    const ins = command[1]!;
    if (cla !== 0x00 && cla !== 0x80) return status(CHIP_SW.CLA_NOT_SUPPORTED);
    const handler = this.handlers.get((cla << 8) | ins);
    if (!handler) return status(CHIP_SW.INS_NOT_SUPPORTED);
    let apdu: CommandApdu;
    try {
      apdu = decodeCommandApdu(command);
    } catch (e) {
      if (e instanceof ProtocolError) return status(CHIP_SW.WRONG_LENGTH);
      throw e;
    }
    if (ins !== CHIP_INS.SELECT && !this.selected) return status(CHIP_SW.CONDITIONS_NOT_SATISFIED);
    const reply = await handler(apdu);
    // Ne shorter than the answer: tell the exact length (ISO 7816-4 6Cxx) rather than cut it.
    if (apdu.le !== undefined && reply.data.length > apdu.le)
      return status(0x6c00 | (reply.data.length & 0xff));
    return reply;
  }

  /** Persist first, so no answer is ever given for a state the chip could lose. */
  private async commit(next: ChipState): Promise<void> {
    const encoded = encodeChipState(next);
    this.state = next;
    if (!this.persist) return;
    try {
      await this.persist(encoded);
    } catch (e) {
      throw new PowerLoss(e);
    }
  }

  private select(apdu: CommandApdu): Reply {
    if (apdu.p1 !== 0x04 || (apdu.p2 !== 0x00 && apdu.p2 !== 0x0c))
      return status(CHIP_SW.INCORRECT_P1P2);
    if (apdu.data.length === 0) return status(CHIP_SW.WRONG_LENGTH);
    // Any SELECT ends the session; only our own AID opens a new one.
    this.reset();
    if (!equalBytes(apdu.data, CHIP_AID)) return status(CHIP_SW.NOT_FOUND);
    this.selected = true;
    if (apdu.p2 === 0x0c) return ok();
    return ok(encodeBerTlv({ tag: 0x6f, value: encodeBerTlv({ tag: 0x84, value: CHIP_AID }) }));
  }

  private getData(apdu: CommandApdu): Reply {
    if (apdu.data.length !== 0) return status(CHIP_SW.WRONG_LENGTH);
    const object = chipDataObject(this.state, (apdu.p1 << 8) | apdu.p2);
    return object ? ok(object) : status(CHIP_SW.DATA_NOT_FOUND);
  }

  private pinBlocked(): boolean {
    return this.state.pinTriesLeft === 0;
  }

  /**
   * Spend one try, persist that, and only then compare: a power cut between the two cannot
   * give a free try. A right PIN restores the counter (and applies `onMatch`) in a second commit.
   */
  private async checkPin(pin: string, onMatch: Partial<ChipState> = {}): Promise<Reply> {
    const left = this.state.pinTriesLeft - 1;
    await this.commit({ ...this.state, pinTriesLeft: left });
    if (!secretsEqual(pin, this.state.pin)) {
      this.verified = false;
      return wrongPin(left);
    }
    await this.commit({ ...this.state, ...onMatch, pinTriesLeft: this.state.pinTriesMax });
    this.verified = true;
    return ok();
  }

  private async verify(apdu: CommandApdu): Promise<Reply> {
    if ((apdu.p1 !== 0x00 && apdu.p1 !== 0xff) || apdu.p2 !== CHIP_PIN_REFERENCE)
      return status(CHIP_SW.INCORRECT_P1P2);
    if (apdu.p1 === 0xff) {
      if (apdu.data.length !== 0) return status(CHIP_SW.WRONG_LENGTH);
      this.verified = false;
      return ok();
    }
    if (apdu.data.length === 0) {
      if (this.pinBlocked()) return status(CHIP_SW.BLOCKED);
      return this.verified ? ok() : wrongPin(this.state.pinTriesLeft);
    }
    if (apdu.data.length !== PIN_BLOCK_LENGTH) return status(CHIP_SW.WRONG_LENGTH);
    const pin = decodePinBlock(apdu.data);
    if (pin === undefined) return status(CHIP_SW.INCORRECT_DATA);
    if (this.pinBlocked()) return status(CHIP_SW.BLOCKED);
    return this.checkPin(pin);
  }

  private async changePin(apdu: CommandApdu): Promise<Reply> {
    if (apdu.p1 !== 0x00 || apdu.p2 !== CHIP_PIN_REFERENCE) return status(CHIP_SW.INCORRECT_P1P2);
    if (apdu.data.length !== 2 * PIN_BLOCK_LENGTH) return status(CHIP_SW.WRONG_LENGTH);
    const oldPin = decodePinBlock(apdu.data.subarray(0, PIN_BLOCK_LENGTH));
    const newPin = decodePinBlock(apdu.data.subarray(PIN_BLOCK_LENGTH));
    if (oldPin === undefined || newPin === undefined) return status(CHIP_SW.INCORRECT_DATA);
    if (this.pinBlocked()) return status(CHIP_SW.BLOCKED);
    return this.checkPin(oldPin, { pin: newPin });
  }

  private async resetRetryCounter(apdu: CommandApdu): Promise<Reply> {
    if (apdu.p1 !== 0x00 || apdu.p2 !== CHIP_PIN_REFERENCE) return status(CHIP_SW.INCORRECT_P1P2);
    if (apdu.data.length !== 2 * PIN_BLOCK_LENGTH) return status(CHIP_SW.WRONG_LENGTH);
    const puk = decodePukBlock(apdu.data.subarray(0, PIN_BLOCK_LENGTH));
    const newPin = decodePinBlock(apdu.data.subarray(PIN_BLOCK_LENGTH));
    if (puk === undefined || newPin === undefined) return status(CHIP_SW.INCORRECT_DATA);
    if (this.state.pukTriesLeft === 0) return status(CHIP_SW.BLOCKED);
    const left = this.state.pukTriesLeft - 1;
    await this.commit({ ...this.state, pukTriesLeft: left });
    this.verified = false;
    if (!secretsEqual(puk, this.state.puk)) return wrongPin(left);
    const s = this.state;
    await this.commit({
      ...s,
      pin: newPin,
      pinTriesLeft: s.pinTriesMax,
      pukTriesLeft: s.pukTriesMax,
    });
    return ok();
  }

  /** The security gate of the key commands: 6983 when the PIN is blocked, 6982 when unverified. */
  private keyAccess(): Reply | undefined {
    if (this.pinBlocked()) return status(CHIP_SW.BLOCKED);
    if (!this.verified) return status(CHIP_SW.SECURITY_NOT_SATISFIED);
    return undefined;
  }

  private generateFileKey(apdu: CommandApdu): Reply {
    if (apdu.p1 !== 0x00 || apdu.p2 !== 0x00) return status(CHIP_SW.INCORRECT_P1P2);
    const context = apdu.data;
    if (context.length === 0 || context.length > CHIP_MAX_CONTEXT_LENGTH)
      return status(CHIP_SW.WRONG_LENGTH);
    const denied = this.keyAccess();
    if (denied) return denied;
    const key = this.random(FILE_KEY_LENGTH);
    const nonce = this.random(NONCE_LENGTH);
    if (key.length !== FILE_KEY_LENGTH || nonce.length !== NONCE_LENGTH)
      return status(CHIP_SW.NO_PRECISE_DIAGNOSIS);
    return ok(concatBytes(key, wrapFileKey(this.state.chipKey, key, nonce, context)));
  }

  private unwrapFileKey(apdu: CommandApdu): Reply {
    if (apdu.p1 !== 0x00 || apdu.p2 !== 0x00) return status(CHIP_SW.INCORRECT_P1P2);
    const n = apdu.data.length;
    if (n <= WRAPPED_KEY_LENGTH || n > WRAPPED_KEY_LENGTH + CHIP_MAX_CONTEXT_LENGTH)
      return status(CHIP_SW.WRONG_LENGTH);
    const denied = this.keyAccess();
    if (denied) return denied;
    const key = unwrapFileKey(
      this.state.chipKey,
      apdu.data.subarray(0, WRAPPED_KEY_LENGTH),
      apdu.data.subarray(WRAPPED_KEY_LENGTH),
    );
    return key ? ok(key) : status(CHIP_SW.INCORRECT_DATA);
  }
}
