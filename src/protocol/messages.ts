/**
 * The simvault messages: the patent's "command-format short messages" exchanged between SIM,
 * handset, OTA server, card application server and memory card (bind, unbind, launch, download,
 * delete, STK list update). One codec, one command code per message, a transaction id to match
 * responses to requests, and a compact TLV body. The byte layout is documented in
 * `docs/protocol.md`.
 *
 * @module
 */
import { ArgumentError, ProtocolError } from '../errors.js';
import { toHex } from '../bytes.js';
import type { Zone } from '../crypto/keys.js';
import { ByteReader } from './reader.js';
import {
  MESSAGE_STRUCTURE,
  bytesCodec,
  digitsCodec,
  encodeTlvLength,
  enumCodec,
  readTlvLength,
  structCodec,
  textCodec,
  uintCodec,
  type StructCodec,
} from './message-tlv.js';
import { isRecord } from '../validate.js';

/**
 * The message format version written in the first byte of every message. A decoder rejects any
 * other version with `PROTOCOL_BAD_VERSION`.
 *
 * @example
 * ```ts
 * import { MESSAGE_FORMAT_VERSION } from 'simvault/protocol';
 * MESSAGE_FORMAT_VERSION; // 1
 * ```
 */
export const MESSAGE_FORMAT_VERSION = 0x01;

/**
 * The command code of each message type (second byte of every message).
 *
 * @example
 * ```ts
 * import { COMMAND_CODES } from 'simvault/protocol';
 * COMMAND_CODES.bindRequest; // 0x01
 * ```
 */
export const COMMAND_CODES = {
  /** SIM → card application server: bind a card (steps 305-307). */
  bindRequest: 0x01,
  /** Card application server → SIM: binding result and customized applications (308-311). */
  bindResponse: 0x02,
  /** SIM → card application server: release a card (401-402). */
  unbindRequest: 0x03,
  /** Card application server → SIM: unbinding result (403-405). */
  unbindResponse: 0x04,
  /** SIM → card application server: launch an application (501). */
  launchRequest: 0x05,
  /** Card application server → OTA server → handset: what to download (502-504). */
  downloadResourceInfo: 0x06,
  /** Memory card → SIM: the file is stored (505). */
  launchComplete: 0x07,
  /** SIM → OTA server: the download finished (505). */
  downloadComplete: 0x08,
  /** SIM → card application server: delete an application (601-602). */
  deleteRequest: 0x09,
  /** Card application server → card: delete the file (603-606). */
  deleteCommand: 0x0a,
  /** OTA server → SIM over RFM: the whole STK application list (claim 3). */
  stkListUpdate: 0x0b,
} as const;

/**
 * The encrypted zones of a memory card (patent step 504) and their one-byte codes.
 *
 * @example
 * ```ts
 * import { ZONE_CODES } from 'simvault/protocol';
 * ZONE_CODES.multimedia; // 0x03
 * ```
 */
export const ZONE_CODES = {
  /** Operator-preloaded promotional and media clients. */
  operator: 0x01,
  /** Service advertisements. */
  advertising: 0x02,
  /** Licensed music, game clients and the like. */
  multimedia: 0x03,
  /** Applications the user customized. */
  user: 0x04,
} as const satisfies Record<Zone, number>;

/**
 * Outcome codes carried by responses and notices.
 *
 * - `ok`: done.
 * - `unknownCard`: the CID is not in the server's card information (illegitimate card, step 302).
 * - `cardBlocked`: the card's lifecycle forbids it (blocked or retired).
 * - `alreadyBound`: the card is bound to another SIM.
 * - `notBound`: the card is not bound to this SIM.
 * - `thresholdReached`: the binding limit (cards or capacity) is reached.
 * - `unknownApplication`: the AID is not offered for this card.
 * - `downloadFailed`: the application file could not be fetched or written.
 * - `storageFull`: the card or zone has no room for the file.
 * - `integrityFailed`: the stored file's digest or size does not match the resource info.
 * - `notAuthorized`: the requester may not do this.
 * - `serverError`: the server failed; retry later.
 *
 * @example
 * ```ts
 * import { RESULT_CODES } from 'simvault/protocol';
 * RESULT_CODES.unknownCard; // 0x01
 * ```
 */
export const RESULT_CODES = {
  /** Done. */
  ok: 0x00,
  /** The CID is not in the card information: an illegitimate card. */
  unknownCard: 0x01,
  /** The card's lifecycle forbids it (blocked or retired). */
  cardBlocked: 0x02,
  /** The card is bound to another SIM. */
  alreadyBound: 0x03,
  /** The card is not bound to this SIM. */
  notBound: 0x04,
  /** The binding limit (cards or capacity) is reached. */
  thresholdReached: 0x05,
  /** The AID is not offered for this card. */
  unknownApplication: 0x06,
  /** The file could not be fetched or written. */
  downloadFailed: 0x07,
  /** No room on the card or in the zone. */
  storageFull: 0x08,
  /** The stored file's size or digest does not match the resource info. */
  integrityFailed: 0x09,
  /** The requester may not do this. */
  notAuthorized: 0x0a,
  /** The server failed; retry later. */
  serverError: 0x0b,
} as const;

/**
 * The state of an application in the SIM's STK list: `masked` apps are hidden from the menu but
 * kept, so a re-bind can restore them (patent step 405).
 *
 * @example
 * ```ts
 * import { APP_STATE_CODES } from 'simvault/protocol';
 * APP_STATE_CODES.masked; // 0x02
 * ```
 */
export const APP_STATE_CODES = {
  /** Shown in the STK menu. */
  active: 0x01,
  /** Hidden from the menu but kept. */
  masked: 0x02,
} as const;

/**
 * The field tags of the message bodies. One table for all messages: a tag means the same thing
 * wherever it appears. The tag byte on the wire adds `0x80` (comprehension required) for
 * required and list fields.
 *
 * @example
 * ```ts
 * import { MESSAGE_TAGS } from 'simvault/protocol';
 * MESSAGE_TAGS.aid; // 0x05, sent as 85 when required
 * ```
 */
export const MESSAGE_TAGS = {
  /** The memory card's CID register, 16 bytes. */
  cid: 0x01,
  /** The SIM's ICCID, 10-20 BCD digits. */
  iccid: 0x02,
  /** The subscriber's IMSI, 6-15 BCD digits. */
  imsi: 0x03,
  /** A result code, 1 byte. */
  result: 0x04,
  /** An application identifier, 5-16 bytes. */
  aid: 0x05,
  /** A customized application (nested structure). */
  application: 0x06,
  /** A menu name, UTF-8, 1-64 bytes. */
  name: 0x07,
  /** A zone code, 1 byte. */
  zone: 0x08,
  /** A size in bytes, unsigned integer. */
  size: 0x09,
  /** An application version, text of 1-16 bytes. */
  version: 0x0a,
  /** A download resource (nested structure). */
  resource: 0x0b,
  /** A download URL, printable ASCII, 1-255 bytes. */
  url: 0x0c,
  /** A SHA-256 digest, 32 bytes. */
  digest: 0x0d,
  /** The user's input data, 0-255 bytes. */
  input: 0x0e,
  /** An application state code, 1 byte. */
  state: 0x0f,
  /** A bound card of the STK list (nested structure). */
  card: 0x10,
  /** The STK list version, 0 to 2^32-1. */
  listVersion: 0x11,
  /** An STK list entry (nested structure). */
  stkApplication: 0x12,
} as const;

/**
 * A message type name: a key of {@link COMMAND_CODES}.
 *
 * @example
 * ```ts
 * import type { MessageType } from 'simvault/protocol';
 * const t: MessageType = 'launchRequest';
 * ```
 */
export type MessageType = keyof typeof COMMAND_CODES;

// One Zone type for every layer: the key hierarchy's (crypto/keys.ts), re-exported here for the
// codecs and their users.
export type { Zone };

/**
 * An outcome code name; see {@link RESULT_CODES}.
 *
 * @example
 * ```ts
 * import type { ResultCode } from 'simvault/protocol';
 * const r: ResultCode = 'ok';
 * ```
 */
export type ResultCode = keyof typeof RESULT_CODES;

/**
 * The state of an application in the STK list.
 *
 * @example
 * ```ts
 * import type { AppState } from 'simvault/protocol';
 * const s: AppState = 'active';
 * ```
 */
export type AppState = keyof typeof APP_STATE_CODES;

/**
 * Where and what to download for an application (patent step 502).
 *
 * @example
 * ```ts
 * import type { DownloadResource } from 'simvault/protocol';
 * const r: DownloadResource = { url: 'https://ota.example/tv.bin', digest: new Uint8Array(32), size: 1048576 };
 * ```
 */
export interface DownloadResource {
  /** Where the OTA server fetches the file: printable ASCII, 1-255 bytes. */
  url: string;
  /** SHA-256 of the application file: 32 bytes. */
  digest: Uint8Array;
  /** Size of the application file in bytes. */
  size: number;
}

/**
 * An application customized for a card, as the bind response carries it (patent step 308).
 *
 * @example
 * ```ts
 * import type { CustomizedApplication } from 'simvault/protocol';
 * const app: CustomizedApplication = {
 *   aid: new Uint8Array([0xa0, 0, 0, 0, 0x87, 0x10, 0x01]), name: '手机电视', zone: 'multimedia', size: 2097152, version: '1.0',
 * };
 * ```
 */
export interface CustomizedApplication {
  /** Application identifier: 5-16 bytes (RID + PIX). */
  aid: Uint8Array;
  /** Menu name: UTF-8, 1-64 bytes, no control characters. */
  name: string;
  /** The zone the application is stored in. */
  zone: Zone;
  /** Installed size in bytes. */
  size: number;
  /** Version text: 1-16 bytes, e.g. `1.2.0`. */
  version: string;
  /** Download resource, absent for applications preloaded on the card. */
  resource?: DownloadResource;
}

/**
 * One application in the SIM's STK list.
 *
 * @example
 * ```ts
 * import type { StkApplication } from 'simvault/protocol';
 * const app: StkApplication = { aid: new Uint8Array(5), name: 'Games', zone: 'user', state: 'masked' };
 * ```
 */
export interface StkApplication {
  /** Application identifier: 5-16 bytes. */
  aid: Uint8Array;
  /** Menu name: UTF-8, 1-64 bytes. */
  name: string;
  /** The zone the application is stored in. */
  zone: Zone;
  /** Shown in the menu (`active`) or hidden but kept (`masked`). */
  state: AppState;
}

/**
 * One bound card in the SIM's STK list: its CID and its applications.
 *
 * @example
 * ```ts
 * import type { StkCard } from 'simvault/protocol';
 * const card: StkCard = { cid: new Uint8Array(16), applications: [] };
 * ```
 */
export interface StkCard {
  /** The card's CID register: 16 bytes. */
  cid: Uint8Array;
  /** The card's applications, in menu order. */
  applications: StkApplication[];
}

/**
 * SIM → card application server: bind this card to me (steps 305-307).
 *
 * @example
 * ```ts
 * import type { BindRequest } from 'simvault/protocol';
 * const m: BindRequest = { type: 'bindRequest', transactionId: 1, cid: new Uint8Array(16), iccid: '89860012345678901234' };
 * ```
 */
export interface BindRequest {
  /** Message type. */
  type: 'bindRequest';
  /** Matches the response to this request: 0..2^32-1. */
  transactionId: number;
  /** The memory card's CID register: 16 bytes. */
  cid: Uint8Array;
  /** The SIM's ICCID: 10-20 digits. */
  iccid: string;
  /** The subscriber's IMSI: 6-15 digits. */
  imsi?: string;
}

/**
 * Card application server → SIM: the card is bound (or why not), with its customized applications
 * (steps 308-311).
 *
 * @example
 * ```ts
 * import type { BindResponse } from 'simvault/protocol';
 * const m: BindResponse = { type: 'bindResponse', transactionId: 1, cid: new Uint8Array(16), result: 'ok', applications: [] };
 * ```
 */
export interface BindResponse {
  /** Message type. */
  type: 'bindResponse';
  /** The transaction id of the bind request. */
  transactionId: number;
  /** The CID of the request, echoed. */
  cid: Uint8Array;
  /** Outcome. */
  result: ResultCode;
  /** The applications customized for this card (empty when the bind failed). */
  applications: CustomizedApplication[];
}

/**
 * SIM → card application server: release this card (steps 401-402).
 *
 * @example
 * ```ts
 * import type { UnbindRequest } from 'simvault/protocol';
 * const m: UnbindRequest = { type: 'unbindRequest', transactionId: 2, cid: new Uint8Array(16) };
 * ```
 */
export interface UnbindRequest {
  /** Message type. */
  type: 'unbindRequest';
  /** Matches the response to this request. */
  transactionId: number;
  /** The CID to unbind: 16 bytes. */
  cid: Uint8Array;
}

/**
 * Card application server → SIM: the binding is released, or why not (steps 403-405).
 *
 * @example
 * ```ts
 * import type { UnbindResponse } from 'simvault/protocol';
 * const m: UnbindResponse = { type: 'unbindResponse', transactionId: 2, cid: new Uint8Array(16), result: 'ok' };
 * ```
 */
export interface UnbindResponse {
  /** Message type. */
  type: 'unbindResponse';
  /** The transaction id of the unbind request. */
  transactionId: number;
  /** The CID of the request, echoed. */
  cid: Uint8Array;
  /** Outcome. */
  result: ResultCode;
}

/**
 * SIM → card application server: launch (download) this application, with the user's input
 * (step 501).
 *
 * @example
 * ```ts
 * import type { LaunchRequest } from 'simvault/protocol';
 * const m: LaunchRequest = { type: 'launchRequest', transactionId: 3, cid: new Uint8Array(16), aid: new Uint8Array(7) };
 * ```
 */
export interface LaunchRequest {
  /** Message type. */
  type: 'launchRequest';
  /** Matches the download resource info to this request. */
  transactionId: number;
  /** The card the application belongs to: 16 bytes. */
  cid: Uint8Array;
  /** The application: 5-16 bytes. */
  aid: Uint8Array;
  /** The user's input data, 0-255 bytes, as the application defines it. */
  input?: Uint8Array;
}

/**
 * Card application server → OTA server → handset: where to fetch the application and which zone
 * it goes to (steps 502-504).
 *
 * @example
 * ```ts
 * import type { DownloadResourceInfo } from 'simvault/protocol';
 * const m: DownloadResourceInfo = {
 *   type: 'downloadResourceInfo', transactionId: 3, cid: new Uint8Array(16), aid: new Uint8Array(7), zone: 'user',
 *   resource: { url: 'https://ota.example/a.bin', digest: new Uint8Array(32), size: 4096 },
 * };
 * ```
 */
export interface DownloadResourceInfo {
  /** Message type. */
  type: 'downloadResourceInfo';
  /** The transaction id of the launch request. */
  transactionId: number;
  /** The card to store the file on: 16 bytes. */
  cid: Uint8Array;
  /** The application: 5-16 bytes. */
  aid: Uint8Array;
  /** The encrypted zone the file is written to. */
  zone: Zone;
  /** What to download. */
  resource: DownloadResource;
}

/**
 * Memory card (via the handset) → SIM: the application file is stored (step 505).
 *
 * @example
 * ```ts
 * import type { LaunchComplete } from 'simvault/protocol';
 * const m: LaunchComplete = {
 *   type: 'launchComplete', transactionId: 3, cid: new Uint8Array(16), aid: new Uint8Array(7), size: 4096, digest: new Uint8Array(32),
 * };
 * ```
 */
export interface LaunchComplete {
  /** Message type. */
  type: 'launchComplete';
  /** The transaction id of the launch request. */
  transactionId: number;
  /** The card the file is stored on: 16 bytes. */
  cid: Uint8Array;
  /** The application: 5-16 bytes. */
  aid: Uint8Array;
  /** Bytes stored (the plaintext file size). */
  size: number;
  /** SHA-256 of the stored (plaintext) file: 32 bytes. */
  digest: Uint8Array;
}

/**
 * SIM → OTA server: the download finished, successfully or not (end of step 505).
 *
 * @example
 * ```ts
 * import type { DownloadComplete } from 'simvault/protocol';
 * const m: DownloadComplete = { type: 'downloadComplete', transactionId: 3, cid: new Uint8Array(16), result: 'ok', aid: new Uint8Array(7) };
 * ```
 */
export interface DownloadComplete {
  /** Message type. */
  type: 'downloadComplete';
  /** The transaction id of the launch request. */
  transactionId: number;
  /** The card: 16 bytes. */
  cid: Uint8Array;
  /** Outcome of the download. */
  result: ResultCode;
  /** The application: 5-16 bytes. */
  aid: Uint8Array;
}

/**
 * SIM → card application server: delete this application (steps 601-602).
 *
 * @example
 * ```ts
 * import type { DeleteRequest } from 'simvault/protocol';
 * const m: DeleteRequest = { type: 'deleteRequest', transactionId: 4, aid: new Uint8Array(7) };
 * ```
 */
export interface DeleteRequest {
  /** Message type. */
  type: 'deleteRequest';
  /** Matches the delete command to this request. */
  transactionId: number;
  /** The card holding the application, when the SIM has several bound cards: 16 bytes. */
  cid?: Uint8Array;
  /** The application to delete: 5-16 bytes. */
  aid: Uint8Array;
}

/**
 * Card application server → OTA server → handset → card: delete this application file
 * (steps 603-606).
 *
 * @example
 * ```ts
 * import type { DeleteCommand } from 'simvault/protocol';
 * const m: DeleteCommand = { type: 'deleteCommand', transactionId: 4, cid: new Uint8Array(16), aid: new Uint8Array(7) };
 * ```
 */
export interface DeleteCommand {
  /** Message type. */
  type: 'deleteCommand';
  /** The transaction id of the delete request. */
  transactionId: number;
  /** The card: 16 bytes. */
  cid: Uint8Array;
  /** The application to delete: 5-16 bytes. */
  aid: Uint8Array;
}

/**
 * OTA server → SIM (RFM, claim 3): the SIM's whole STK application list, replacing the stored
 * one. `listVersion` only grows, so the SIM can refuse an older list (rollback).
 *
 * @example
 * ```ts
 * import type { StkListUpdate } from 'simvault/protocol';
 * const m: StkListUpdate = { type: 'stkListUpdate', transactionId: 5, cards: [], listVersion: 7 };
 * ```
 */
export interface StkListUpdate {
  /** Message type. */
  type: 'stkListUpdate';
  /** Transaction id of this update. */
  transactionId: number;
  /** Every bound card and its applications. */
  cards: StkCard[];
  /** Version of the list: 0..2^32-1, higher than the SIM's stored one. */
  listVersion: number;
}

/**
 * Any simvault message, discriminated by `type`.
 *
 * @example
 * ```ts
 * import { encodeMessage, type SimvaultMessage } from 'simvault/protocol';
 * const m: SimvaultMessage = { type: 'unbindRequest', transactionId: 9, cid: new Uint8Array(16) };
 * encodeMessage(m);
 * ```
 */
export type SimvaultMessage =
  | BindRequest
  | BindResponse
  | UnbindRequest
  | UnbindResponse
  | LaunchRequest
  | DownloadResourceInfo
  | LaunchComplete
  | DownloadComplete
  | DeleteRequest
  | DeleteCommand
  | StkListUpdate;

/**
 * A value with every `Uint8Array` replaced by its lower-case hex string: what
 * {@link messageToJSON} returns.
 *
 * @example
 * ```ts
 * import type { HexJSON, UnbindRequest } from 'simvault/protocol';
 * const j: HexJSON<UnbindRequest> = { type: 'unbindRequest', transactionId: 9, cid: '00'.repeat(16) };
 * ```
 */
export type HexJSON<T> = T extends Uint8Array
  ? string
  : T extends readonly (infer E)[]
    ? HexJSON<E>[]
    : T extends object
      ? { [K in keyof T]: HexJSON<T[K]> }
      : T;

/**
 * The JSON-safe form of a {@link SimvaultMessage}.
 *
 * @example
 * ```ts
 * import type { SimvaultMessageJSON } from 'simvault/protocol';
 * const j: SimvaultMessageJSON = { type: 'deleteRequest', transactionId: 4, aid: 'a000000087' };
 * ```
 */
export type SimvaultMessageJSON = HexJSON<SimvaultMessage>;

// ---------------------------------------------------------------------------------------------
// Schemas. Each field's tag comes from MESSAGE_TAGS; the compiler checks every schema against its
// interface.

type Body<M> = Omit<M, 'type' | 'transactionId'>;

const cid = bytesCodec(16, 16);
const aid = bytesCodec(5, 16);
const digest = bytesCodec(32, 32);
const displayName = textCodec(1, 64, 'display');
const zone = enumCodec(ZONE_CODES);
const result = enumCodec(RESULT_CODES);
const size = uintCodec();

const T = MESSAGE_TAGS;

const resource = structCodec<DownloadResource>({
  url: { tag: T.url, presence: 'required', codec: textCodec(1, 255, 'url') },
  digest: { tag: T.digest, presence: 'required', codec: digest },
  size: { tag: T.size, presence: 'required', codec: size },
});

const application = structCodec<CustomizedApplication>({
  aid: { tag: T.aid, presence: 'required', codec: aid },
  name: { tag: T.name, presence: 'required', codec: displayName },
  zone: { tag: T.zone, presence: 'required', codec: zone },
  size: { tag: T.size, presence: 'required', codec: size },
  version: { tag: T.version, presence: 'required', codec: textCodec(1, 16, 'display') },
  resource: { tag: T.resource, presence: 'optional', codec: resource },
});

const stkApplication = structCodec<StkApplication>({
  aid: { tag: T.aid, presence: 'required', codec: aid },
  name: { tag: T.name, presence: 'required', codec: displayName },
  zone: { tag: T.zone, presence: 'required', codec: zone },
  state: { tag: T.state, presence: 'required', codec: enumCodec(APP_STATE_CODES) },
});

const stkCard = structCodec<StkCard>({
  cid: { tag: T.cid, presence: 'required', codec: cid },
  applications: { tag: T.stkApplication, presence: 'list', codec: stkApplication },
});

const BODIES: {
  readonly [K in MessageType]: StructCodec<Body<Extract<SimvaultMessage, { type: K }>>>;
} = {
  bindRequest: structCodec<Body<BindRequest>>({
    cid: { tag: T.cid, presence: 'required', codec: cid },
    iccid: { tag: T.iccid, presence: 'required', codec: digitsCodec(10, 20) },
    imsi: { tag: T.imsi, presence: 'optional', codec: digitsCodec(6, 15) },
  }),
  bindResponse: structCodec<Body<BindResponse>>({
    cid: { tag: T.cid, presence: 'required', codec: cid },
    result: { tag: T.result, presence: 'required', codec: result },
    applications: { tag: T.application, presence: 'list', codec: application },
  }),
  unbindRequest: structCodec<Body<UnbindRequest>>({
    cid: { tag: T.cid, presence: 'required', codec: cid },
  }),
  unbindResponse: structCodec<Body<UnbindResponse>>({
    cid: { tag: T.cid, presence: 'required', codec: cid },
    result: { tag: T.result, presence: 'required', codec: result },
  }),
  launchRequest: structCodec<Body<LaunchRequest>>({
    cid: { tag: T.cid, presence: 'required', codec: cid },
    aid: { tag: T.aid, presence: 'required', codec: aid },
    input: { tag: T.input, presence: 'optional', codec: bytesCodec(0, 255) },
  }),
  downloadResourceInfo: structCodec<Body<DownloadResourceInfo>>({
    cid: { tag: T.cid, presence: 'required', codec: cid },
    aid: { tag: T.aid, presence: 'required', codec: aid },
    zone: { tag: T.zone, presence: 'required', codec: zone },
    resource: { tag: T.resource, presence: 'required', codec: resource },
  }),
  launchComplete: structCodec<Body<LaunchComplete>>({
    cid: { tag: T.cid, presence: 'required', codec: cid },
    aid: { tag: T.aid, presence: 'required', codec: aid },
    size: { tag: T.size, presence: 'required', codec: size },
    digest: { tag: T.digest, presence: 'required', codec: digest },
  }),
  downloadComplete: structCodec<Body<DownloadComplete>>({
    cid: { tag: T.cid, presence: 'required', codec: cid },
    result: { tag: T.result, presence: 'required', codec: result },
    aid: { tag: T.aid, presence: 'required', codec: aid },
  }),
  deleteRequest: structCodec<Body<DeleteRequest>>({
    cid: { tag: T.cid, presence: 'optional', codec: cid },
    aid: { tag: T.aid, presence: 'required', codec: aid },
  }),
  deleteCommand: structCodec<Body<DeleteCommand>>({
    cid: { tag: T.cid, presence: 'required', codec: cid },
    aid: { tag: T.aid, presence: 'required', codec: aid },
  }),
  stkListUpdate: structCodec<Body<StkListUpdate>>({
    cards: { tag: T.card, presence: 'list', codec: stkCard },
    listVersion: { tag: T.listVersion, presence: 'required', codec: uintCodec(0xffffffff) },
  }),
};

const TYPE_BY_CODE = new Map<number, MessageType>(
  (Object.entries(COMMAND_CODES) as [MessageType, number][]).map(([type, code]) => [code, type]),
);
const HEADER_KEYS: ReadonlySet<string> = new Set(['type', 'transactionId']);

function encodeFail(
  code: ConstructorParameters<typeof ProtocolError>[0],
  field: string,
  detail: string,
): never {
  throw new ProtocolError(code, MESSAGE_STRUCTURE, field, -1, detail);
}

/**
 * Encode a message:
 * `version(1) | command code(1) | transaction id(4) | body length(1-3) | TLV body`. Every value is validated first; a bad one raises a {@link ProtocolError} naming the
 * field (offset `-1`).
 *
 * @example
 * ```ts
 * import { encodeMessage } from 'simvault/protocol';
 * const bytes = encodeMessage({ type: 'unbindRequest', transactionId: 1, cid: new Uint8Array(16) });
 * bytes.length; // 25
 * ```
 */
export function encodeMessage(msg: SimvaultMessage): Uint8Array {
  if (!isRecord(msg)) encodeFail('PROTOCOL_BAD_VALUE', 'message', 'must be an object');
  const type: unknown = msg.type;
  if (typeof type !== 'string' || !Object.hasOwn(COMMAND_CODES, type)) {
    encodeFail('PROTOCOL_UNKNOWN_TAG', 'type', `unknown message type ${String(type)}`);
  }
  const txid: unknown = msg.transactionId;
  if (typeof txid !== 'number' || !Number.isInteger(txid) || txid < 0 || txid > 0xffffffff) {
    encodeFail(
      'PROTOCOL_BAD_VALUE',
      'transactionId',
      `must be an integer in 0..4294967295, got ${String(txid)}`,
    );
  }
  const body = BODIES[type as MessageType].encodeWith(msg, '', HEADER_KEYS);
  const length = encodeTlvLength(body.length, 'body');
  const out = new Uint8Array(6 + length.length + body.length);
  out[0] = MESSAGE_FORMAT_VERSION;
  out[1] = COMMAND_CODES[type as MessageType];
  out[2] = txid >>> 24;
  out[3] = (txid >>> 16) & 0xff;
  out[4] = (txid >>> 8) & 0xff;
  out[5] = txid & 0xff;
  out.set(length, 6);
  out.set(body, 6 + length.length);
  return out;
}

/**
 * Decode a message written by {@link encodeMessage}. Any other byte string raises a
 * {@link ProtocolError} with the field and offset: `PROTOCOL_BAD_VERSION` for another format
 * version, `PROTOCOL_UNKNOWN_TAG` for an unknown command code or an unknown
 * comprehension-required tag, `PROTOCOL_MISSING_FIELD` naming an absent required field,
 * `PROTOCOL_TRUNCATED` / `PROTOCOL_TRAILING_BYTES` when the length does not match. Unknown
 * optional tags are skipped.
 *
 * @example
 * ```ts
 * import { decodeMessage, encodeMessage } from 'simvault/protocol';
 * const m = decodeMessage(encodeMessage({ type: 'unbindRequest', transactionId: 1, cid: new Uint8Array(16) }));
 * m.type; // 'unbindRequest'
 * ```
 */
export function decodeMessage(bytes: Uint8Array): SimvaultMessage {
  if (!(bytes instanceof Uint8Array)) throw new ArgumentError('message bytes must be a Uint8Array');
  const r = new ByteReader(bytes, MESSAGE_STRUCTURE);
  const version = r.u8('version');
  if (version !== MESSAGE_FORMAT_VERSION) {
    r.fail(
      'PROTOCOL_BAD_VERSION',
      'version',
      `format version ${version} is not supported (expected ${MESSAGE_FORMAT_VERSION})`,
      0,
    );
  }
  const code = r.u8('command');
  const type = TYPE_BY_CODE.get(code);
  if (type === undefined)
    return r.fail('PROTOCOL_UNKNOWN_TAG', 'command', `unknown command code ${code}`, 1);
  const transactionId = r.u32('transactionId');
  const length = readTlvLength(r, 'body');
  const bodyAt = r.offset;
  const body = r.bytesView(length, 'body');
  r.end();
  const into: Record<string, unknown> = { type, transactionId };
  return BODIES[type].decodeInto(
    new ByteReader(body, MESSAGE_STRUCTURE, 0, bodyAt),
    '',
    into,
  ) as unknown as SimvaultMessage;
}

function hexify(value: unknown): unknown {
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map(hexify);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = hexify(v);
    return out;
  }
  return value;
}

/**
 * A JSON-safe copy of a message: bytes as lower-case hex, everything else unchanged. For
 * `simvault inspect message` and logs.
 *
 * @example
 * ```ts
 * import { messageToJSON } from 'simvault/protocol';
 * messageToJSON({ type: 'deleteRequest', transactionId: 4, aid: new Uint8Array([0xa0, 0, 0, 0, 0x87]) });
 * // { type: 'deleteRequest', transactionId: 4, aid: 'a000000087' }
 * ```
 */
export function messageToJSON<M extends SimvaultMessage>(msg: M): HexJSON<M> {
  return hexify(msg) as HexJSON<M>;
}
