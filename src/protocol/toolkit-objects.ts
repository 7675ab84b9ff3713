/**
 * The SIM Toolkit data objects (ETSI TS 102 223 clause 8) that proactive commands, envelopes and
 * terminal responses share, and the ordered reader that walks a command's COMPREHENSION-TLVs:
 * tags in the order the standard lists them, unknown objects skipped only when their
 * comprehension-required flag is clear (TS 102 223 6.10), and every other surprise a
 * {@link ProtocolError} naming the object and its offset.
 *
 * @module
 */
import { ProtocolError } from '../errors.js';
import { ByteReader, ByteWriter } from './reader.js';
import { readComprehensionTlv, writeComprehensionTlv } from './comprehension-tlv.js';
import { decodeAlphaText, encodeAlphaText, type AlphaCoding } from './toolkit-text.js';
import { describeValue, isInt, isRecord } from '../validate.js';

/**
 * COMPREHENSION-TLV tag values (without the CR flag) simvault reads and writes.
 *
 * @example
 * ```ts
 * import { TOOLKIT_TAG } from 'simvault/protocol';
 * TOOLKIT_TAG.itemIdentifier; // 0x10
 * ```
 */
export const TOOLKIT_TAG = {
  /** Command details: number, type, qualifier. */
  commandDetails: 0x01,
  /** Device identities: source, destination. */
  deviceIdentities: 0x02,
  /** Result of a terminal response. */
  result: 0x03,
  /** Duration: unit and interval. */
  duration: 0x04,
  /** Alpha identifier: a title or label. */
  alphaIdentifier: 0x05,
  /** Address: TON/NPI and BCD digits. */
  address: 0x06,
  /** SMS TPDU. */
  smsTpdu: 0x0b,
  /** Text string: DCS and text. */
  textString: 0x0d,
  /** Item: identifier and text. */
  item: 0x0f,
  /** Item identifier. */
  itemIdentifier: 0x10,
  /** File list of a REFRESH. */
  fileList: 0x12,
  /** Help request of a MENU SELECTION. */
  helpRequest: 0x15,
  /** Icon identifier. */
  iconIdentifier: 0x1e,
  /** Immediate response of a DISPLAY TEXT. */
  immediateResponse: 0x2b,
  /** Application identifier. */
  aid: 0x2f,
} as const;

/**
 * Device identities (TS 102 223 8.7).
 *
 * @example
 * ```ts
 * import { TOOLKIT_DEVICE } from 'simvault/protocol';
 * TOOLKIT_DEVICE.uicc; // 0x81
 * ```
 */
export const TOOLKIT_DEVICE = {
  /** The keypad. */
  keypad: 0x01,
  /** The display. */
  display: 0x02,
  /** The UICC (SIM). */
  uicc: 0x81,
  /** The terminal (handset). */
  terminal: 0x82,
  /** The network. */
  network: 0x83,
} as const;

/**
 * An address data object (tag `06`, TS 102 223 8.1): the TON/NPI byte and the dialling number
 * in BCD. Digits are `0-9`, `*`, `#`, `p` (DTMF pause, BCD `C`) and `?` (wild, BCD `D`).
 *
 * @example
 * ```ts
 * import type { Address } from 'simvault/protocol';
 * const smsc: Address = { tonNpi: 0x91, digits: '8613800100500' };
 * ```
 */
export interface Address {
  /** Type of number and numbering plan; bit 8 is always set (`0x91` international ISDN). */
  tonNpi: number;
  /** The number, one character per BCD digit. */
  digits: string;
}

/**
 * An icon identifier (tag `1E`, TS 102 223 8.31).
 *
 * @example
 * ```ts
 * import type { IconId } from 'simvault/protocol';
 * const icon: IconId = { selfExplanatory: true, record: 1 };
 * ```
 */
export interface IconId {
  /** The icon replaces the text (`true`) or is shown with it. */
  selfExplanatory: boolean;
  /** Record number in EF(IMG), 0-255. */
  record: number;
}

/**
 * A menu item (tag `0F`): identifier 1-255 and its text, coded as an alpha identifier.
 *
 * @example
 * ```ts
 * import type { MenuItem } from 'simvault/protocol';
 * const item: MenuItem = { id: 1, text: '绑定存储卡' };
 * ```
 */
export interface MenuItem {
  /** Item identifier, 1-255. */
  id: number;
  /** The text shown. */
  text: string;
  /** How the text is coded; chosen from the text when absent, always set by decoders. */
  coding?: AlphaCoding;
}

const BCD_DIGITS = '0123456789*#p?';

/** A COMPREHENSION-TLV object as found in an input, with the offset of its tag byte. */
interface Located {
  tag: number;
  cr: boolean;
  value: Uint8Array;
  offset: number;
}

/**
 * Walks the COMPREHENSION-TLVs of one toolkit structure in the order the standard gives.
 * Every object taken is checked against the canonical comprehension-required flag; positions
 * whose flag differs are collected so the value can carry them and encode back byte for byte.
 *
 * @example
 * ```ts
 * import { ToolkitFieldReader, TOOLKIT_TAG } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * const f = new ToolkitFieldReader(fromHex('82020181900102'), 0, 'Envelope', [TOOLKIT_TAG.deviceIdentities, TOOLKIT_TAG.itemIdentifier]);
 * f.required(TOOLKIT_TAG.deviceIdentities, 'deviceIdentities').value; // [0x01, 0x81]
 * ```
 */
export class ToolkitFieldReader {
  private readonly list: Located[] = [];
  private index = 0;
  private taken = 0;
  /** Positions (among the objects taken) whose CR flag differs from the canonical one. */
  readonly crFlipped: number[] = [];
  private readonly end: number;

  /**
   * Read every COMPREHENSION-TLV from `start` to `stop` up front; throws {@link ProtocolError}
   * when one is malformed.
   *
   * @param bytes - the whole input
   * @param start - offset of the first COMPREHENSION-TLV
   * @param structure - name used in errors
   * @param known - tag values this structure understands; may be replaced once the command type is known
   * @param canonicalCr - the CR flag simvault writes for a tag (set unless this says otherwise)
   * @param stop - offset just after the last COMPREHENSION-TLV (defaults to the end of `bytes`)
   */
  constructor(
    bytes: Uint8Array,
    start: number,
    readonly structure: string,
    public known: readonly number[],
    private readonly canonicalCr: (tag: number) => boolean = () => true,
    stop = bytes.length,
  ) {
    const r = new ByteReader(bytes.subarray(0, stop), structure, start);
    while (r.remaining > 0) {
      const offset = r.offset;
      const { tag, cr, value } = readComprehensionTlv(r);
      this.list.push({ tag, cr, value, offset });
    }
    this.end = stop;
  }

  private skipIgnorable(): void {
    for (
      let t = this.list[this.index];
      t && !t.cr && !this.known.includes(t.tag);
      t = this.list[++this.index]
    );
  }

  /** Offset of the next object, or of the end when none is left. */
  get offset(): number {
    this.skipIgnorable();
    return this.list[this.index]?.offset ?? this.end;
  }

  /** Take the next object if it has this tag. */
  optional(tag: number):
    | {
        /** The value part of the data object. */
        value: Uint8Array;
        /** Offset in the input of the value's first byte. */
        offset: number;
      }
    | undefined {
    this.skipIgnorable();
    const t = this.list[this.index];
    if (!t || t.tag !== tag) return undefined;
    this.index++;
    if (t.cr !== this.canonicalCr(tag)) this.crFlipped.push(this.taken);
    this.taken++;
    // Callers read values with offsets relative to the value's first byte.
    return { value: t.value, offset: t.offset + headerLength(t) };
  }

  /** Take the next object, which must have this tag. */
  required(
    tag: number,
    field: string,
  ): {
    /** The value part of the data object. */
    value: Uint8Array;
    /** Offset in the input of the value's first byte. */
    offset: number;
  } {
    const found = this.optional(tag);
    if (found) return found;
    throw new ProtocolError(
      'PROTOCOL_MISSING_FIELD',
      this.structure,
      field,
      this.offset,
      `expected tag 0x${tag.toString(16)}`,
    );
  }

  /** Check nothing is left but objects that may be skipped. */
  finish(): void {
    this.skipIgnorable();
    const t = this.list[this.index];
    if (!t) return;
    if (this.known.includes(t.tag)) {
      throw new ProtocolError(
        'PROTOCOL_BAD_VALUE',
        this.structure,
        'tag',
        t.offset,
        `tag 0x${t.tag.toString(16)} is repeated or out of order`,
      );
    }
    throw new ProtocolError(
      'PROTOCOL_UNKNOWN_TAG',
      this.structure,
      'tag',
      t.offset,
      `unknown tag 0x${t.tag.toString(16)} with comprehension required`,
    );
  }
}

function headerLength(t: Located): number {
  return (t.tag >= 0x7f ? 3 : 1) + (t.value.length >= 0x80 ? 2 : 1);
}

/**
 * Collects the data objects of one toolkit structure for encoding, applying the canonical
 * comprehension-required flags and the positions a value asks to flip.
 *
 * @example
 * ```ts
 * import { ToolkitFieldWriter } from 'simvault/protocol';
 * const w = new ToolkitFieldWriter('Envelope');
 * w.add(0x10, new Uint8Array([2]));
 * w.finish(undefined); // Uint8Array [0x90, 0x01, 0x02]
 * ```
 */
export class ToolkitFieldWriter {
  private readonly objects: { tag: number; value: Uint8Array }[] = [];

  /**
   * Create an empty writer for one structure.
   *
   * @param structure - name used in errors
   * @param canonicalCr - the CR flag simvault writes for a tag (set unless this says otherwise)
   */
  constructor(
    readonly structure: string,
    private readonly canonicalCr: (tag: number) => boolean = () => true,
  ) {}

  /** Append one data object. */
  add(tag: number, value: Uint8Array): this {
    this.objects.push({ tag, value });
    return this;
  }

  /** The encoded objects, with the CR flag flipped at the given positions. */
  finish(crFlipped: readonly number[] | undefined): Uint8Array {
    const flips = new Set<number>();
    if (crFlipped !== undefined) {
      if (!Array.isArray(crFlipped))
        throw new ProtocolError(
          'PROTOCOL_BAD_VALUE',
          this.structure,
          'crFlipped',
          -1,
          'must be an array',
        );
      for (const p of crFlipped as unknown[]) {
        if (!isInt(p, 0, this.objects.length - 1) || flips.has(p)) {
          throw new ProtocolError(
            'PROTOCOL_BAD_VALUE',
            this.structure,
            'crFlipped',
            -1,
            `position ${describeValue(p)} is not a distinct object index`,
          );
        }
        flips.add(p);
      }
    }
    const w = new ByteWriter();
    this.objects.forEach(({ tag, value }, i) => {
      writeComprehensionTlv(w, { tag, cr: this.canonicalCr(tag) !== flips.has(i), value });
    });
    return w.finish();
  }
}

function bad(
  structure: string,
  field: string,
  detail: string,
  offset = -1,
  code: 'PROTOCOL_BAD_VALUE' | 'PROTOCOL_BAD_LENGTH' = 'PROTOCOL_BAD_VALUE',
): never {
  throw new ProtocolError(code, structure, field, offset, detail);
}

/**
 * Check an integer field of a value given to an encoder; throw a {@link ProtocolError} naming it.
 *
 * @example
 * ```ts
 * import { checkInt } from 'simvault/protocol';
 * checkInt(5, 1, 254, 'ProactiveCommand', 'commandNumber');
 * ```
 */
export function checkInt(
  v: unknown,
  min: number,
  max: number,
  structure: string,
  field: string,
): number {
  if (!isInt(v, min, max)) bad(structure, field, `must be an integer ${min}-${max}`);
  return v;
}

/**
 * Check a fixed-length value and return it; throws `PROTOCOL_BAD_LENGTH` at `offset`.
 *
 * @example
 * ```ts
 * import { expectLength } from 'simvault/protocol';
 * expectLength({ value: new Uint8Array(2), offset: 4 }, 2, 'Envelope', 'deviceIdentities');
 * ```
 */
export function expectLength(
  found: { value: Uint8Array; offset: number },
  length: number,
  structure: string,
  field: string,
): Uint8Array {
  if (found.value.length !== length) {
    bad(
      structure,
      field,
      `must be ${length} byte(s), got ${found.value.length}`,
      found.offset,
      'PROTOCOL_BAD_LENGTH',
    );
  }
  return found.value;
}

/**
 * Read a device identities object and check it names the expected source and destination.
 *
 * @example
 * ```ts
 * import { expectDevices, TOOLKIT_DEVICE } from 'simvault/protocol';
 * expectDevices({ value: new Uint8Array([0x01, 0x81]), offset: 2 }, TOOLKIT_DEVICE.keypad, TOOLKIT_DEVICE.uicc, 'Envelope');
 * ```
 */
export function expectDevices(
  found: { value: Uint8Array; offset: number },
  source: number,
  destination: number,
  structure: string,
): void {
  const v = expectLength(found, 2, structure, 'deviceIdentities');
  if (v[0] !== source)
    bad(
      structure,
      'deviceIdentities.source',
      `must be 0x${source.toString(16)}, got 0x${v[0]!.toString(16)}`,
      found.offset,
    );
  if (v[1] !== destination) {
    bad(
      structure,
      'deviceIdentities.destination',
      `must be 0x${destination.toString(16)}, got 0x${v[1]!.toString(16)}`,
      found.offset + 1,
    );
  }
}

/**
 * Decode an address value (tag `06`).
 *
 * @example
 * ```ts
 * import { decodeAddress } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * decodeAddress(fromHex('91683108100005f0')); // { tonNpi: 0x91, digits: '8613800100500' }
 * ```
 */
export function decodeAddress(bytes: Uint8Array, structure = 'Address', offset = 0): Address {
  if (bytes.length === 0)
    bad(structure, 'address', 'needs a TON/NPI byte', offset, 'PROTOCOL_BAD_LENGTH');
  const tonNpi = bytes[0]!;
  if ((tonNpi & 0x80) === 0)
    bad(structure, 'address.tonNpi', 'bit 8 of TON/NPI must be set', offset);
  let digits = '';
  for (let i = 1; i < bytes.length; i++) {
    const b = bytes[i]!;
    for (const nibble of [b & 0x0f, b >> 4]) {
      if (nibble === 0x0f) {
        // Only the high nibble of the last byte may be the filler.
        if (i !== bytes.length - 1 || nibble !== b >> 4 || (b & 0x0f) === 0x0f) {
          bad(structure, 'address.digits', 'filler F inside the number', offset + i);
        }
        continue;
      }
      if (nibble >= BCD_DIGITS.length)
        bad(
          structure,
          'address.digits',
          `BCD value 0x${nibble.toString(16)} is not a digit`,
          offset + i,
        );
      digits += BCD_DIGITS[nibble]!;
    }
  }
  return { tonNpi, digits };
}

/**
 * Encode an address value (tag `06`): TON/NPI then BCD digits, low nibble first, `F` filling an
 * odd count.
 *
 * @example
 * ```ts
 * import { encodeAddress } from 'simvault/protocol';
 * import { toHex } from 'simvault';
 * toHex(encodeAddress({ tonNpi: 0x91, digits: '8613800100500' })); // '91683108100005f0'
 * ```
 */
export function encodeAddress(address: Address, structure = 'Address'): Uint8Array {
  if (!isRecord(address)) bad(structure, 'address', 'must be an object');
  checkInt(address.tonNpi, 0x80, 0xff, structure, 'address.tonNpi');
  if (typeof address.digits !== 'string') bad(structure, 'address.digits', 'must be a string');
  const { digits } = address;
  const out = new Uint8Array(1 + Math.ceil(digits.length / 2));
  out[0] = address.tonNpi;
  for (let i = 0; i < digits.length; i++) {
    const nibble = BCD_DIGITS.indexOf(digits[i]!);
    if (nibble < 0) bad(structure, 'address.digits', `character ${i} is not 0-9 * # p ?`);
    out[1 + (i >> 1)]! |= i % 2 === 0 ? nibble : nibble << 4;
  }
  if (digits.length % 2 === 1) out[out.length - 1]! |= 0xf0;
  return out;
}

/**
 * Decode an icon identifier value (tag `1E`): qualifier `00` (self-explanatory) or `01`, and
 * the EF(IMG) record.
 *
 * @example
 * ```ts
 * import { decodeIconId } from 'simvault/protocol';
 * decodeIconId({ value: new Uint8Array([0, 1]), offset: 0 }, 'ProactiveCommand'); // { selfExplanatory: true, record: 1 }
 * ```
 */
export function decodeIconId(
  found: { value: Uint8Array; offset: number },
  structure: string,
): IconId {
  const v = expectLength(found, 2, structure, 'icon');
  if (v[0]! > 1)
    bad(
      structure,
      'icon.qualifier',
      `qualifier 0x${v[0]!.toString(16)} is not 00 or 01`,
      found.offset,
    );
  return { selfExplanatory: v[0] === 0, record: v[1]! };
}

/**
 * Encode an icon identifier value (tag `1E`).
 *
 * @example
 * ```ts
 * import { encodeIconId } from 'simvault/protocol';
 * encodeIconId({ selfExplanatory: false, record: 2 }, 'ProactiveCommand'); // Uint8Array [1, 2]
 * ```
 */
export function encodeIconId(icon: IconId, structure: string): Uint8Array {
  if (!isRecord(icon) || typeof icon.selfExplanatory !== 'boolean') {
    bad(structure, 'icon', 'must be { selfExplanatory: boolean, record }');
  }
  checkInt(icon.record, 0, 255, structure, 'icon.record');
  return new Uint8Array([icon.selfExplanatory ? 0 : 1, icon.record]);
}

/**
 * Decode an item value (tag `0F`): identifier 1-255 and alpha-coded text. An empty value is the
 * "no item" object and is the caller's to handle.
 *
 * @example
 * ```ts
 * import { decodeItem } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * decodeItem({ value: fromHex('01807ed15b9a'), offset: 0 }, 'ProactiveCommand'); // { id: 1, text: '绑定', coding: 'ucs2' }
 * ```
 */
export function decodeItem(
  found: { value: Uint8Array; offset: number },
  structure: string,
): MenuItem {
  const v = found.value;
  if (v.length === 0)
    bad(
      structure,
      'item',
      'an empty item is only allowed alone in SET UP MENU',
      found.offset,
      'PROTOCOL_BAD_LENGTH',
    );
  if (v[0] === 0) bad(structure, 'item.id', 'item identifier 0 is reserved', found.offset);
  const { text, coding } = decodeAlphaText(v.subarray(1), {
    structure,
    field: 'item.text',
    offset: found.offset + 1,
  });
  return { id: v[0]!, text, coding };
}

/**
 * Encode an item value (tag `0F`).
 *
 * @example
 * ```ts
 * import { encodeItem } from 'simvault/protocol';
 * encodeItem({ id: 2, text: 'Unbind' }, 'ProactiveCommand'); // Uint8Array [2, 0x55, 0x6e, ...]
 * ```
 */
export function encodeItem(item: MenuItem, structure: string): Uint8Array {
  if (!isRecord(item)) bad(structure, 'item', 'must be an object');
  checkInt(item.id, 1, 255, structure, 'item.id');
  const text = encodeAlphaText(item.text, item.coding, {
    structure,
    field: 'item.text',
    offset: -1,
  });
  const out = new Uint8Array(1 + text.length);
  out[0] = item.id;
  out.set(text, 1);
  return out;
}
