/**
 * SIM Toolkit proactive commands (ETSI TS 102 223 clause 6): the `D0` BER-TLV a UICC hands the
 * terminal in answer to FETCH. simvault speaks REFRESH, SEND SHORT MESSAGE, DISPLAY TEXT,
 * SELECT ITEM and SET UP MENU — what the patent's STK application needs to show its menu, ask
 * the user and send command short messages.
 *
 * Data objects are read in the order the standard lists them. Objects simvault does not know
 * are skipped when their comprehension-required flag is clear (TS 102 223 6.10) and not kept;
 * with the flag set they are a `PROTOCOL_UNKNOWN_TAG`. simvault writes every object with the
 * flag set; a decoded command whose objects had it clear lists their positions in `crFlipped`,
 * so it encodes back to the same bytes.
 *
 * @module
 */
import { ProtocolError } from '../errors.js';
import { ByteReader, ByteWriter } from './reader.js';
import { readBerTlv, writeBerTlv } from './ber-tlv.js';
import {
  decodeAlphaText,
  decodeTextString,
  encodeAlphaText,
  encodeTextString,
  type AlphaCoding,
  type TextString,
} from './toolkit-text.js';
import {
  TOOLKIT_DEVICE,
  TOOLKIT_TAG as T,
  ToolkitFieldReader,
  ToolkitFieldWriter,
  checkInt,
  decodeAddress,
  decodeIconId,
  decodeItem,
  encodeAddress,
  encodeIconId,
  encodeItem,
  expectDevices,
  expectLength,
  type Address,
  type IconId,
  type MenuItem,
} from './toolkit-objects.js';
import { isOneOf, isRecord } from '../validate.js';

const STRUCTURE = 'ProactiveCommand';

/** BER-TLV tag of a proactive command. */
const PROACTIVE_TAG = 0xd0;

/**
 * Proactive command type codes (TS 102 223 9.4).
 *
 * @example
 * ```ts
 * import { COMMAND_TYPE } from 'simvault/protocol';
 * COMMAND_TYPE.setUpMenu; // 0x25
 * ```
 */
export const COMMAND_TYPE = {
  /** REFRESH. */
  refresh: 0x01,
  /** SEND SHORT MESSAGE. */
  sendShortMessage: 0x13,
  /** DISPLAY TEXT. */
  displayText: 0x21,
  /** SELECT ITEM. */
  selectItem: 0x24,
  /** SET UP MENU. */
  setUpMenu: 0x25,
} as const;

/**
 * Fields every proactive command has: its command details and the CR-flag record.
 *
 * @example
 * ```ts
 * import type { ProactiveCommandHeader } from 'simvault/protocol';
 * const header: ProactiveCommandHeader = { commandNumber: 1, qualifier: 0 };
 * ```
 */
export interface ProactiveCommandHeader {
  /** Command number, 1-254; the terminal response echoes it. */
  commandNumber: number;
  /** Command qualifier, 0-255; its meaning depends on the command. */
  qualifier: number;
  /**
   * Positions (0-based, in the order the objects are written, command details first) of data
   * objects whose comprehension-required flag is clear. Absent when every flag is set.
   */
  crFlipped?: number[];
}

/**
 * REFRESH (type `01`): tell the terminal files or the application changed.
 *
 * @example
 * ```ts
 * import type { Refresh } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * const r: Refresh = { kind: 'refresh', commandNumber: 1, qualifier: 1, files: [fromHex('3f007fff6f07')] };
 * ```
 */
export interface Refresh extends ProactiveCommandHeader {
  /** Discriminant. */
  kind: 'refresh';
  /** File list (tag `12`): full paths from the MF (`3F00`), each a whole number of 2-byte file ids. */
  files?: Uint8Array[];
  /** The application refreshed (tag `2F`), 5-16 bytes. */
  aid?: Uint8Array;
}

/**
 * SEND SHORT MESSAGE (type `13`): the terminal sends an SMS-SUBMIT TPDU the UICC built.
 *
 * @example
 * ```ts
 * import type { SendShortMessage } from 'simvault/protocol';
 * const sm: SendShortMessage = { kind: 'sendShortMessage', commandNumber: 1, qualifier: 0, tpdu: new Uint8Array([0x01, 0x00]) };
 * ```
 */
export interface SendShortMessage extends ProactiveCommandHeader {
  /** Discriminant. */
  kind: 'sendShortMessage';
  /** Alpha identifier (tag `05`) shown while sending; `''` is the null alpha (send silently). */
  alpha?: string;
  /** How `alpha` is coded; chosen from the text when absent, always set by the decoder. */
  alphaCoding?: AlphaCoding;
  /** Service centre address (tag `06`). */
  address?: Address;
  /** The SMS TPDU (tag `0B`), opaque here. */
  tpdu: Uint8Array;
  /** Icon identifier (tag `1E`). */
  icon?: IconId;
}

/**
 * DISPLAY TEXT (type `21`).
 *
 * @example
 * ```ts
 * import type { DisplayText } from 'simvault/protocol';
 * const dt: DisplayText = { kind: 'displayText', commandNumber: 1, qualifier: 0x80, text: { dcs: 0x08, text: '绑定成功' } };
 * ```
 */
export interface DisplayText extends ProactiveCommandHeader {
  /** Discriminant. */
  kind: 'displayText';
  /** The text (tag `0D`). */
  text: TextString;
  /** Icon identifier (tag `1E`). */
  icon?: IconId;
  /** Immediate response (tag `2B`): the terminal answers at once instead of after the user clears the text. */
  immediateResponse?: true;
  /** Duration (tag `04`) the text stays. */
  duration?: Duration;
}

/**
 * A duration data object (tag `04`): a unit and a count 1-255.
 *
 * @example
 * ```ts
 * import type { Duration } from 'simvault/protocol';
 * const fiveSeconds: Duration = { unit: 'seconds', interval: 5 };
 * ```
 */
export interface Duration {
  /** Time unit. */
  unit: 'minutes' | 'seconds' | 'tenths';
  /** Number of units, 1-255. */
  interval: number;
}

/**
 * SELECT ITEM (type `24`): ask the user to pick one item.
 *
 * @example
 * ```ts
 * import type { SelectItem } from 'simvault/protocol';
 * const si: SelectItem = { kind: 'selectItem', commandNumber: 1, qualifier: 0, title: 'Cards', items: [{ id: 1, text: 'SU01G' }] };
 * ```
 */
export interface SelectItem extends ProactiveCommandHeader {
  /** Discriminant. */
  kind: 'selectItem';
  /** Alpha identifier (tag `05`): the title. */
  title?: string;
  /** How `title` is coded; chosen from the text when absent, always set by the decoder. */
  titleCoding?: AlphaCoding;
  /** The items (tag `0F`), at least one. */
  items: MenuItem[];
  /** Item preselected (tag `10`). */
  defaultItem?: number;
  /** Icon identifier (tag `1E`). */
  icon?: IconId;
}

/**
 * SET UP MENU (type `25`): install the UICC's menu in the terminal. An empty `items` list removes
 * the menu (coded as one empty item object).
 *
 * @example
 * ```ts
 * import type { SetUpMenu } from 'simvault/protocol';
 * const menu: SetUpMenu = {
 *   kind: 'setUpMenu', commandNumber: 1, qualifier: 0, title: '存储卡',
 *   items: [{ id: 1, text: '绑定' }, { id: 2, text: '解绑' }],
 * };
 * ```
 */
export interface SetUpMenu extends ProactiveCommandHeader {
  /** Discriminant. */
  kind: 'setUpMenu';
  /** Alpha identifier (tag `05`): the menu title. */
  title: string;
  /** How `title` is coded; chosen from the text when absent, always set by the decoder. */
  titleCoding?: AlphaCoding;
  /** The items (tag `0F`); empty removes the menu. */
  items: MenuItem[];
  /** Icon identifier (tag `1E`). */
  icon?: IconId;
}

/**
 * A proactive command simvault speaks.
 *
 * @example
 * ```ts
 * import type { ProactiveCommand } from 'simvault/protocol';
 * const cmd: ProactiveCommand = { kind: 'displayText', commandNumber: 2, qualifier: 0, text: { dcs: 4, text: 'Done' } };
 * ```
 */
export type ProactiveCommand = Refresh | SendShortMessage | DisplayText | SelectItem | SetUpMenu;

const KNOWN: Readonly<Record<ProactiveCommand['kind'], readonly number[]>> = {
  refresh: [T.commandDetails, T.deviceIdentities, T.fileList, T.aid],
  sendShortMessage: [
    T.commandDetails,
    T.deviceIdentities,
    T.alphaIdentifier,
    T.address,
    T.smsTpdu,
    T.iconIdentifier,
  ],
  displayText: [
    T.commandDetails,
    T.deviceIdentities,
    T.textString,
    T.iconIdentifier,
    T.immediateResponse,
    T.duration,
  ],
  selectItem: [
    T.commandDetails,
    T.deviceIdentities,
    T.alphaIdentifier,
    T.item,
    T.itemIdentifier,
    T.iconIdentifier,
  ],
  setUpMenu: [T.commandDetails, T.deviceIdentities, T.alphaIdentifier, T.item, T.iconIdentifier],
};

const KIND_OF_TYPE: ReadonlyMap<number, ProactiveCommand['kind']> = new Map(
  (Object.entries(COMMAND_TYPE) as [ProactiveCommand['kind'], number][]).map(([k, v]) => [v, k]),
);

const DESTINATION: Readonly<Record<ProactiveCommand['kind'], number>> = {
  refresh: TOOLKIT_DEVICE.terminal,
  sendShortMessage: TOOLKIT_DEVICE.network,
  displayText: TOOLKIT_DEVICE.display,
  selectItem: TOOLKIT_DEVICE.terminal,
  setUpMenu: TOOLKIT_DEVICE.terminal,
};

const UNITS = ['minutes', 'seconds', 'tenths'] as const;

function fail(
  code: ConstructorParameters<typeof ProtocolError>[0],
  field: string,
  offset: number,
  detail: string,
): never {
  throw new ProtocolError(code, STRUCTURE, field, offset, detail);
}

function decodeFileList(found: { value: Uint8Array; offset: number }): Uint8Array[] {
  const v = found.value;
  if (v.length < 1)
    fail('PROTOCOL_BAD_LENGTH', 'files', found.offset, 'a file list needs its count byte');
  const count = v[0]!;
  if ((v.length - 1) % 2 !== 0)
    fail('PROTOCOL_BAD_LENGTH', 'files', found.offset, 'paths must be whole 2-byte file ids');
  const files: Uint8Array[] = [];
  if (v.length > 1) {
    if (v[1] !== 0x3f || v[2] !== 0x00)
      fail('PROTOCOL_BAD_VALUE', 'files', found.offset + 1, 'a path must start at the MF (3F00)');
    // Each 3F00 starts the next path: the MF never appears inside one.
    let start = 1;
    for (let i = 3; i < v.length; i += 2) {
      if (v[i] === 0x3f && v[i + 1] === 0x00) {
        files.push(v.slice(start, i));
        start = i;
      }
    }
    files.push(v.slice(start));
  }
  if (files.length !== count) {
    fail(
      'PROTOCOL_BAD_VALUE',
      'files',
      found.offset,
      `count byte says ${count} file(s), the list holds ${files.length}`,
    );
  }
  return files;
}

function encodeFileList(files: unknown): Uint8Array {
  if (!Array.isArray(files) || files.length > 255)
    fail('PROTOCOL_BAD_VALUE', 'files', -1, 'must be an array of at most 255 paths');
  const w = new ByteWriter().u8(files.length);
  files.forEach((path: unknown, i) => {
    const ok =
      path instanceof Uint8Array &&
      path.length >= 2 &&
      path.length % 2 === 0 &&
      path[0] === 0x3f &&
      path[1] === 0x00;
    if (!ok)
      fail(
        'PROTOCOL_BAD_VALUE',
        'files',
        -1,
        `path ${i} must be 2-byte file ids starting with 3F00`,
      );
    for (let j = 2; j < path.length; j += 2) {
      if (path[j] === 0x3f && path[j + 1] === 0x00)
        fail('PROTOCOL_BAD_VALUE', 'files', -1, `path ${i} repeats the MF`);
    }
    w.bytes(path);
  });
  return w.finish();
}

function decodeDuration(found: { value: Uint8Array; offset: number }): Duration {
  const v = expectLength(found, 2, STRUCTURE, 'duration');
  const unit = UNITS[v[0]!];
  if (unit === undefined)
    fail(
      'PROTOCOL_BAD_VALUE',
      'duration.unit',
      found.offset,
      `unit 0x${v[0]!.toString(16)} is not 00-02`,
    );
  if (v[1] === 0)
    fail('PROTOCOL_BAD_VALUE', 'duration.interval', found.offset + 1, 'interval 0 is reserved');
  return { unit, interval: v[1]! };
}

function encodeDuration(d: Duration): Uint8Array {
  const unit = isRecord(d) ? UNITS.indexOf(d.unit) : -1;
  if (unit < 0)
    fail('PROTOCOL_BAD_VALUE', 'duration.unit', -1, "must be 'minutes', 'seconds' or 'tenths'");
  return new Uint8Array([unit, checkInt(d.interval, 1, 255, STRUCTURE, 'duration.interval')]);
}

function alphaAt(
  found: { value: Uint8Array; offset: number },
  field: string,
): { text: string; coding: AlphaCoding } {
  return decodeAlphaText(found.value, { structure: STRUCTURE, field, offset: found.offset });
}

/**
 * Decode a proactive command (`D0` BER-TLV, the data of a FETCH response).
 *
 * @example
 * ```ts
 * import { decodeProactiveCommand } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * const cmd = decodeProactiveCommand(fromHex('d0168103012500820281828504436172648f050142696e64'));
 * // { kind: 'setUpMenu', commandNumber: 1, qualifier: 0, title: 'Card', titleCoding: 'gsm',
 * //   items: [{ id: 1, text: 'Bind', coding: 'gsm' }] }
 * ```
 */
export function decodeProactiveCommand(bytes: Uint8Array): ProactiveCommand {
  const r = new ByteReader(bytes, STRUCTURE);
  const outer = readBerTlv(r);
  if (outer.tag !== PROACTIVE_TAG)
    fail(
      'PROTOCOL_UNKNOWN_TAG',
      'tag',
      0,
      `0x${outer.tag.toString(16)} is not a proactive command (D0)`,
    );
  r.end();
  if (outer.value.length > 255)
    fail('PROTOCOL_BAD_LENGTH', 'length', 1, 'a proactive command holds at most 255 bytes');
  const start = bytes.length - outer.value.length;
  const f = new ToolkitFieldReader(bytes, start, STRUCTURE, [T.commandDetails]);
  const details = f.required(T.commandDetails, 'commandDetails');
  const d = expectLength(details, 3, STRUCTURE, 'commandDetails');
  const commandNumber = d[0]!;
  if (commandNumber === 0 || commandNumber === 0xff)
    fail('PROTOCOL_BAD_VALUE', 'commandNumber', details.offset, 'must be 01-FE');
  const kind = KIND_OF_TYPE.get(d[1]!);
  if (kind === undefined)
    fail(
      'PROTOCOL_UNKNOWN_TAG',
      'commandType',
      details.offset + 1,
      `command type 0x${d[1]!.toString(16)} is not supported`,
    );
  const qualifier = d[2]!;
  f.known = KNOWN[kind];
  expectDevices(
    f.required(T.deviceIdentities, 'deviceIdentities'),
    TOOLKIT_DEVICE.uicc,
    DESTINATION[kind],
    STRUCTURE,
  );
  const cmd = decodeBody(kind, f, commandNumber, qualifier);
  f.finish();
  if (f.crFlipped.length > 0) cmd.crFlipped = f.crFlipped;
  return cmd;
}

function decodeBody(
  kind: ProactiveCommand['kind'],
  f: ToolkitFieldReader,
  commandNumber: number,
  qualifier: number,
): ProactiveCommand {
  switch (kind) {
    case 'refresh': {
      const cmd: Refresh = { kind, commandNumber, qualifier };
      const files = f.optional(T.fileList);
      if (files) cmd.files = decodeFileList(files);
      const aid = f.optional(T.aid);
      if (aid) {
        if (aid.value.length < 5 || aid.value.length > 16)
          fail('PROTOCOL_BAD_LENGTH', 'aid', aid.offset, 'an AID is 5-16 bytes');
        cmd.aid = aid.value.slice();
      }
      return cmd;
    }
    case 'sendShortMessage': {
      const alpha = f.optional(T.alphaIdentifier);
      const address = f.optional(T.address);
      const tpdu = f.required(T.smsTpdu, 'tpdu');
      const cmd: SendShortMessage = { kind, commandNumber, qualifier, tpdu: tpdu.value.slice() };
      if (alpha) {
        const a = alphaAt(alpha, 'alpha');
        cmd.alpha = a.text;
        cmd.alphaCoding = a.coding;
      }
      if (address) cmd.address = decodeAddress(address.value, STRUCTURE, address.offset);
      const icon = f.optional(T.iconIdentifier);
      if (icon) cmd.icon = decodeIconId(icon, STRUCTURE);
      return cmd;
    }
    case 'displayText': {
      const text = f.required(T.textString, 'text');
      const cmd: DisplayText = {
        kind,
        commandNumber,
        qualifier,
        text: decodeTextString(text.value, {
          structure: STRUCTURE,
          field: 'text',
          offset: text.offset,
        }),
      };
      const icon = f.optional(T.iconIdentifier);
      if (icon) cmd.icon = decodeIconId(icon, STRUCTURE);
      const immediate = f.optional(T.immediateResponse);
      if (immediate) {
        expectLength(immediate, 0, STRUCTURE, 'immediateResponse');
        cmd.immediateResponse = true;
      }
      const duration = f.optional(T.duration);
      if (duration) cmd.duration = decodeDuration(duration);
      return cmd;
    }
    case 'selectItem': {
      const alpha = f.optional(T.alphaIdentifier);
      const items = readItems(f, false);
      const cmd: SelectItem = { kind, commandNumber, qualifier, items };
      if (alpha) {
        const a = alphaAt(alpha, 'title');
        cmd.title = a.text;
        cmd.titleCoding = a.coding;
      }
      const def = f.optional(T.itemIdentifier);
      if (def) {
        const v = expectLength(def, 1, STRUCTURE, 'defaultItem');
        if (v[0] === 0)
          fail('PROTOCOL_BAD_VALUE', 'defaultItem', def.offset, 'item identifier 0 is reserved');
        cmd.defaultItem = v[0]!;
      }
      const icon = f.optional(T.iconIdentifier);
      if (icon) cmd.icon = decodeIconId(icon, STRUCTURE);
      return cmd;
    }
    case 'setUpMenu': {
      const title = alphaAt(f.required(T.alphaIdentifier, 'title'), 'title');
      const items = readItems(f, true);
      const cmd: SetUpMenu = {
        kind,
        commandNumber,
        qualifier,
        title: title.text,
        titleCoding: title.coding,
        items,
      };
      const icon = f.optional(T.iconIdentifier);
      if (icon) cmd.icon = decodeIconId(icon, STRUCTURE);
      return cmd;
    }
  }
}

function readItems(f: ToolkitFieldReader, allowRemoval: boolean): MenuItem[] {
  const items: MenuItem[] = [];
  const firstOffset = f.offset;
  for (let found = f.optional(T.item); found; found = f.optional(T.item)) {
    if (found.value.length === 0 && allowRemoval && items.length === 0) {
      // The "remove menu" form is one empty item and nothing else.
      if (f.optional(T.item))
        fail('PROTOCOL_BAD_VALUE', 'items', found.offset, 'an empty item must be the only item');
      return [];
    }
    items.push(decodeItem(found, STRUCTURE));
  }
  if (items.length === 0)
    fail('PROTOCOL_MISSING_FIELD', 'items', firstOffset, 'at least one item (tag 0F)');
  return items;
}

function titleBytes(text: unknown, coding: AlphaCoding | undefined, field: string): Uint8Array {
  return encodeAlphaText(text as string, coding, { structure: STRUCTURE, field, offset: -1 });
}

function writeItems(w: ToolkitFieldWriter, items: unknown, allowRemoval: boolean): void {
  if (!Array.isArray(items)) fail('PROTOCOL_BAD_VALUE', 'items', -1, 'must be an array');
  if (items.length === 0) {
    if (!allowRemoval) fail('PROTOCOL_MISSING_FIELD', 'items', -1, 'at least one item');
    w.add(T.item, new Uint8Array(0));
    return;
  }
  for (const item of items) w.add(T.item, encodeItem(item as MenuItem, STRUCTURE));
}

/**
 * Encode a proactive command as its `D0` BER-TLV.
 *
 * @example
 * ```ts
 * import { encodeProactiveCommand } from 'simvault/protocol';
 * import { toHex } from 'simvault';
 * toHex(encodeProactiveCommand({ kind: 'setUpMenu', commandNumber: 1, qualifier: 0, title: 'Card', items: [{ id: 1, text: 'Bind' }] }));
 * // 'd0168103012500820281828504436172648f050142696e64'
 * ```
 */
export function encodeProactiveCommand(cmd: ProactiveCommand): Uint8Array {
  if (!isRecord(cmd) || !Object.hasOwn(KNOWN, cmd.kind)) {
    fail('PROTOCOL_BAD_VALUE', 'kind', -1, `must be one of ${Object.keys(KNOWN).join(', ')}`);
  }
  const w = new ToolkitFieldWriter(STRUCTURE);
  const commandNumber = checkInt(cmd.commandNumber, 1, 254, STRUCTURE, 'commandNumber');
  const qualifier = checkInt(cmd.qualifier, 0, 255, STRUCTURE, 'qualifier');
  w.add(T.commandDetails, new Uint8Array([commandNumber, COMMAND_TYPE[cmd.kind], qualifier]));
  w.add(T.deviceIdentities, new Uint8Array([TOOLKIT_DEVICE.uicc, DESTINATION[cmd.kind]]));
  switch (cmd.kind) {
    case 'refresh':
      if (cmd.files !== undefined) w.add(T.fileList, encodeFileList(cmd.files));
      if (cmd.aid !== undefined) {
        if (!(cmd.aid instanceof Uint8Array) || cmd.aid.length < 5 || cmd.aid.length > 16) {
          fail('PROTOCOL_BAD_VALUE', 'aid', -1, 'must be 5-16 bytes');
        }
        w.add(T.aid, cmd.aid);
      }
      break;
    case 'sendShortMessage':
      if (cmd.alpha !== undefined)
        w.add(T.alphaIdentifier, titleBytes(cmd.alpha, cmd.alphaCoding, 'alpha'));
      if (cmd.address !== undefined) w.add(T.address, encodeAddress(cmd.address, STRUCTURE));
      if (!(cmd.tpdu instanceof Uint8Array))
        fail('PROTOCOL_BAD_VALUE', 'tpdu', -1, 'must be a Uint8Array');
      w.add(T.smsTpdu, cmd.tpdu);
      if (cmd.icon !== undefined) w.add(T.iconIdentifier, encodeIconId(cmd.icon, STRUCTURE));
      break;
    case 'displayText':
      w.add(
        T.textString,
        encodeTextString(cmd.text, { structure: STRUCTURE, field: 'text', offset: -1 }),
      );
      if (cmd.icon !== undefined) w.add(T.iconIdentifier, encodeIconId(cmd.icon, STRUCTURE));
      if (cmd.immediateResponse !== undefined) {
        if (!isOneOf(cmd.immediateResponse, [true]))
          fail('PROTOCOL_BAD_VALUE', 'immediateResponse', -1, 'must be true or absent');
        w.add(T.immediateResponse, new Uint8Array(0));
      }
      if (cmd.duration !== undefined) w.add(T.duration, encodeDuration(cmd.duration));
      break;
    case 'selectItem':
      if (cmd.title !== undefined)
        w.add(T.alphaIdentifier, titleBytes(cmd.title, cmd.titleCoding, 'title'));
      writeItems(w, cmd.items, false);
      if (cmd.defaultItem !== undefined)
        w.add(
          T.itemIdentifier,
          new Uint8Array([checkInt(cmd.defaultItem, 1, 255, STRUCTURE, 'defaultItem')]),
        );
      if (cmd.icon !== undefined) w.add(T.iconIdentifier, encodeIconId(cmd.icon, STRUCTURE));
      break;
    case 'setUpMenu':
      w.add(T.alphaIdentifier, titleBytes(cmd.title, cmd.titleCoding, 'title'));
      writeItems(w, cmd.items, true);
      if (cmd.icon !== undefined) w.add(T.iconIdentifier, encodeIconId(cmd.icon, STRUCTURE));
      break;
  }
  const body = w.finish(cmd.crFlipped);
  if (body.length > 255)
    fail(
      'PROTOCOL_BAD_LENGTH',
      'length',
      -1,
      `a proactive command holds at most 255 bytes, got ${body.length}`,
    );
  return writeBerTlv(new ByteWriter(), { tag: PROACTIVE_TAG, value: body }).finish();
}
