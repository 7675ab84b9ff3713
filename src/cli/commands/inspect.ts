/**
 * `simvault inspect KIND HEX`: decode protocol bytes and show what they mean, as an indented
 * tree or (`--json`) a stable JSON document with bytes as lower-case hex.
 *
 * Each kind is one entry of {@link INSPECT_KINDS}: a decoder from bytes to a value and a
 * function from that value to plain JSON. Adding a kind is adding one entry; the text tree is
 * drawn from the JSON, so a kind needs nothing else.
 *
 * @module
 */
import { toHex } from '../../bytes.js';
import { ProtocolError } from '../../errors.js';
import { cidIdentity, decodeCid, type Cid } from '../../protocol/cid.js';
import { decodeMessage, messageToJSON } from '../../protocol/messages.js';
import { decodeSecuredPacketStructure } from '../../protocol/secured-packet.js';
import { decodeSmsTpdu } from '../../protocol/sms.js';
import {
  apduCase,
  decodeCommandApdu,
  decodeResponseApdu,
  formatStatusWord,
  statusWordName,
  type CommandApdu,
  type ResponseApdu,
} from '../../protocol/apdu.js';
import { decodeBerTlvTree, type BerTlvNode } from '../../protocol/ber-tlv.js';
import {
  decodeComprehensionTlvList,
  type ComprehensionTlv,
} from '../../protocol/comprehension-tlv.js';
import { decodeProactiveCommand } from '../../protocol/toolkit.js';
import { decodeEnvelope, decodeEnvelopeApdu } from '../../protocol/toolkit-envelope.js';
import { decodeFetchApdu, decodeTerminalResponseApdu } from '../../protocol/toolkit-terminal.js';
import { parseCommandArgs, UsageError, type CliIO, type Command } from '../command.js';
import { refuseTerminalInput } from '../io.js';
import { parseHex } from '../options.js';

/**
 * One kind of bytes `simvault inspect` understands.
 *
 * @example
 * ```ts
 * const kind: InspectKind = { summary: 'raw bytes', decode: (b) => b, toJSON: hexJson };
 * ```
 */
export interface InspectKind {
  /** One line for the help text. */
  summary: string;
  /** Bytes to a value; throws a ProtocolError on bad input. */
  decode(bytes: Uint8Array): unknown;
  /** The value as plain JSON (bytes as lower-case hex strings). */
  toJSON(value: unknown): unknown;
}

/**
 * Build a table entry with the decoder's value type carried through to `toJSON`.
 *
 * @example
 * ```ts
 * const sms = inspectKind('an SMS TPDU', decodeSmsTpdu, hexJson);
 * ```
 */
export function inspectKind<T>(
  summary: string,
  decode: (bytes: Uint8Array) => T,
  toJSON: (value: T) => unknown,
): InspectKind {
  return { summary, decode, toJSON: (value) => toJSON(value as T) };
}

/**
 * Plain JSON of a value whose only non-JSON parts are `Uint8Array`s (written as hex).
 *
 * @example
 * ```ts
 * hexJson({ tpdu: new Uint8Array([1, 2]) }); // { tpdu: '0102' }
 * ```
 */
export function hexJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map(hexJson);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, hexJson(v)]));
  }
  return value;
}

const hex2 = (n: number): string => toHex(new Uint8Array([n & 0xff]));

const MANUFACTURERS: Readonly<Record<number, string>> = {
  0x01: 'Panasonic',
  0x02: 'Toshiba',
  0x03: 'SanDisk',
  0x1b: 'Samsung',
  0x1d: 'ADATA',
  0x27: 'Phison',
  0x28: 'Lexar',
  0x31: 'Silicon Power',
  0x41: 'Kingston',
  0x74: 'Transcend',
};

function cidJson(cid: Cid): unknown {
  return {
    mid: hex2(cid.mid),
    ...(MANUFACTURERS[cid.mid] ? { manufacturer: MANUFACTURERS[cid.mid] } : {}),
    oid: cid.oid,
    pnm: cid.pnm,
    prv: `${cid.prv.major}.${cid.prv.minor}`,
    psn: cid.psn,
    mdt: `${cid.mdt.year}-${String(cid.mdt.month).padStart(2, '0')}`,
    crc: cid.crc,
    identity: toHex(cidIdentity(cid)),
  };
}

// The instructions simvault meets, by CLA class: 80 is the UICC/GlobalPlatform proprietary class.
const INSTRUCTIONS: Readonly<Record<string, string>> = {
  '00a4': 'SELECT',
  '00b0': 'READ BINARY',
  '00b2': 'READ RECORD',
  '00c0': 'GET RESPONSE',
  '00d6': 'UPDATE BINARY',
  '00dc': 'UPDATE RECORD',
  '8010': 'TERMINAL PROFILE',
  '8012': 'FETCH',
  '8014': 'TERMINAL RESPONSE',
  '80c2': 'ENVELOPE',
  '80e4': 'DELETE',
  '80e6': 'INSTALL',
};

function toolkitOf(apdu: CommandApdu, bytes: Uint8Array): Record<string, unknown> {
  const key = `${hex2(apdu.cla)}${hex2(apdu.ins)}`;
  const inner: Record<string, (b: Uint8Array) => unknown> = {
    '80c2': (b) => ({ envelope: hexJson(decodeEnvelopeApdu(b)) }),
    '8014': (b) => ({ terminalResponse: hexJson(decodeTerminalResponseApdu(b)) }),
    '8012': (b) => ({ fetchLength: decodeFetchApdu(b) }),
  };
  const decode = inner[key];
  if (!decode) return {};
  try {
    return decode(bytes) as Record<string, unknown>;
  } catch (e) {
    // The APDU is sound; only its toolkit payload is not one simvault reads.
    if (e instanceof ProtocolError) return { toolkitError: `${e.code}: ${e.message}` };
    throw e;
  }
}

function apduJson(value: { apdu: CommandApdu; bytes: Uint8Array }): unknown {
  const { apdu, bytes } = value;
  const name = INSTRUCTIONS[`${hex2(apdu.cla & 0x80 ? 0x80 : 0)}${hex2(apdu.ins)}`];
  return {
    cla: hex2(apdu.cla),
    ins: hex2(apdu.ins),
    ...(name ? { instruction: name } : {}),
    p1: hex2(apdu.p1),
    p2: hex2(apdu.p2),
    case: apduCase(apdu),
    extended: apdu.extended === true,
    ...(apdu.data.length ? { lc: apdu.data.length, data: toHex(apdu.data) } : {}),
    ...(apdu.le !== undefined ? { le: apdu.le } : {}),
    ...toolkitOf(apdu, bytes),
  };
}

function responseJson(r: ResponseApdu): unknown {
  const status = statusWordName(r.sw);
  return { data: toHex(r.data), sw: formatStatusWord(r.sw), ...(status ? { status } : {}) };
}

function tagHex(tag: number): string {
  const bytes = tag > 0xffff ? 3 : tag > 0xff ? 2 : 1;
  return tag.toString(16).padStart(bytes * 2, '0');
}

function ctlvJson(list: ComprehensionTlv[]): unknown {
  return list.map((t) => ({
    tag: tagHex(t.tag),
    cr: t.cr,
    length: t.value.length,
    value: toHex(t.value),
  }));
}

// SIM Toolkit templates (ETSI TS 101 220): their values are COMPREHENSION-TLVs.
const TOOLKIT_TEMPLATES = new Set([0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7]);

function berJson(nodes: BerTlvNode[]): unknown {
  return nodes.map((n) => {
    const out: Record<string, unknown> = {
      tag: tagHex(n.tag),
      constructed: n.constructed,
      length: n.value.length,
    };
    if (n.children) out.children = berJson(n.children);
    else out.value = toHex(n.value);
    if (TOOLKIT_TEMPLATES.has(n.tag)) {
      try {
        out.comprehension = ctlvJson(decodeComprehensionTlvList(n.value));
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
      }
    }
    return out;
  });
}

function decodeToolkit(bytes: Uint8Array): unknown {
  if (bytes[0] === 0xd0) return { proactiveCommand: decodeProactiveCommand(bytes) };
  if (bytes[0] === 0x80 && bytes[1] === 0x14)
    return { terminalResponse: decodeTerminalResponseApdu(bytes) };
  if (bytes[0] === 0x80 && bytes[1] === 0xc2) return { envelope: decodeEnvelopeApdu(bytes) };
  return { envelope: decodeEnvelope(bytes) };
}

/**
 * What `simvault inspect` can decode: kind name → decoder and JSON form. Add a kind with one
 * entry.
 *
 * @example
 * ```ts
 * // in the table: sms: inspectKind('SMS TPDU (SMS-DELIVER or SMS-SUBMIT)', decodeSmsTpdu, hexJson),
 * INSPECT_KINDS.cid!.toJSON(INSPECT_KINDS.cid!.decode(fromHex('035344535530314780401c751300637d')));
 * ```
 */
export const INSPECT_KINDS: Record<string, InspectKind> = {
  cid: inspectKind('SD card CID register (16 bytes, or the sysfs text)', decodeCid, cidJson),
  apdu: inspectKind(
    'ISO 7816-4 command APDU (toolkit payloads decoded)',
    (b) => ({ apdu: decodeCommandApdu(b), bytes: b }),
    apduJson,
  ),
  response: inspectKind('response APDU: data and SW1 SW2', decodeResponseApdu, responseJson),
  tlv: inspectKind('BER-TLV objects, constructed ones as a tree', decodeBerTlvTree, berJson),
  ctlv: inspectKind('COMPREHENSION-TLV objects', (b) => decodeComprehensionTlvList(b), ctlvJson),
  stk: inspectKind(
    'SIM Toolkit: D0 proactive command, D1/D3 envelope, or its 80 14 / 80 C2 APDU',
    decodeToolkit,
    hexJson,
  ),
  sms: inspectKind('SMS TPDU: SMS-DELIVER or SMS-SUBMIT (3GPP TS 23.040)', decodeSmsTpdu, hexJson),
  packet: inspectKind(
    'secured packet (TS 102 225), command or 02 71 00 response, without keys',
    decodeSecuredPacketStructure,
    (v) => hexJson(bigintsToNumbers(v)),
  ),
  message: inspectKind(
    'simvault message (bind, unbind, launch, complete, delete, STK list update)',
    decodeMessage,
    (m) => messageToJSON(m),
  ),
};

// Packet counters are bigints (up to 2^40, so exact as numbers); JSON cannot hold bigints.
function bigintsToNumbers(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Uint8Array || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(bigintsToNumbers);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, bigintsToNumbers(x)]));
}

function scalar(v: unknown): string {
  // An empty string is shown as "" so the line does not end in a bare colon.
  return typeof v === 'string' && v !== '' ? v : JSON.stringify(v);
}

/**
 * Draw plain JSON as an indented tree: `key: value`, nested objects indented, list items `- `.
 *
 * @example
 * ```ts
 * renderTree({ sw: '9000', items: [{ id: 1 }] }); // ['sw: 9000', 'items:', '  - id: 1']
 * ```
 */
export function renderTree(value: unknown, indent = ''): string[] {
  const lines: string[] = [];
  const isBranch = (v: unknown) =>
    v !== null &&
    typeof v === 'object' &&
    (!Array.isArray(v) || v.length > 0) &&
    Object.keys(v).length > 0;
  if (Array.isArray(value)) {
    for (const item of value) {
      if (isBranch(item)) {
        const [first, ...rest] = renderTree(item, `${indent}  `);
        lines.push(`${indent}- ${first!.trimStart()}`, ...rest);
      } else lines.push(`${indent}- ${scalar(item)}`);
    }
    return lines;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (isBranch(v)) lines.push(`${indent}${k}:`, ...renderTree(v, `${indent}  `));
      else lines.push(`${indent}${k}: ${scalar(v)}`);
    }
    return lines;
  }
  return [`${indent}${scalar(value)}`];
}

async function readText(io: CliIO): Promise<string> {
  refuseTerminalInput(io, 'the bytes to decode as hex (give HEX, or pipe it in)');
  const parts: Buffer[] = [];
  for await (const chunk of io.stdin)
    parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(parts).toString('utf8');
}

function kindList(): string {
  const names = Object.keys(INSPECT_KINDS);
  const width = Math.max(...names.map((n) => n.length));
  return names.map((n) => `  ${n.padEnd(width)}  ${INSPECT_KINDS[n]!.summary}`).join('\n');
}

/**
 * `simvault inspect`: decode protocol bytes given as hex.
 *
 * @example
 * ```ts
 * await runCli(['inspect', 'cid', '035344535530314780401c751300637d'], io);
 * ```
 */
export const inspectCommand: Command = {
  path: ['inspect'],
  summary: 'decode a CID, APDU, TLV or toolkit command given as hex',
  get help() {
    return `Usage: simvault inspect KIND [--json] [HEX... | -]

Decodes HEX (spaces allowed; '-' or nothing reads it from stdin) as KIND and prints it as an
indented tree, or with --json as a JSON document whose bytes are lower-case hex strings.
Bad bytes fail with exit status 1 and 'simvault: PROTOCOL_...: <structure>.<field> at
offset N: ...' on stderr.

Kinds:
${kindList()}

Examples:
  simvault inspect cid 035344535530314780401c751300637d
  simvault inspect cid - < /sys/block/mmcblk0/device/cid
  simvault inspect apdu 80 c2 00 00 09 d3 07 82 02 01 81 90 01 02
  simvault inspect stk --json d30782020181900102`;
  },
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { json: { type: 'boolean' } });
    const [kindName, ...hexParts] = positionals;
    if (kindName === undefined)
      throw new UsageError(`inspect needs a KIND: ${Object.keys(INSPECT_KINDS).join(', ')}`);
    const kind = Object.hasOwn(INSPECT_KINDS, kindName) ? INSPECT_KINDS[kindName] : undefined;
    if (!kind)
      throw new UsageError(
        `unknown kind '${kindName}'; kinds: ${Object.keys(INSPECT_KINDS).join(', ')}`,
      );
    const text =
      hexParts.length === 0 || (hexParts.length === 1 && hexParts[0] === '-')
        ? await readText(io)
        : hexParts.join(' ');
    const json = kind.toJSON(kind.decode(parseHex(text, 'HEX')));
    const document = { kind: kindName, value: json };
    io.stdout.write(
      values.json
        ? `${JSON.stringify(document, null, 2)}\n`
        : `${[kindName, ...renderTree(json, '  ')].join('\n')}\n`,
    );
    return 0;
  },
};
