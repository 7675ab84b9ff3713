/**
 * `simvault/protocol`: pure codecs for the bytes that travel between the parts of the system —
 * the simvault messages (bind, unbind, launch, download, delete, RFM list updates), secured
 * packets (SCP80, TS 102 225 / TS 31.115), SMS TPDUs and their concatenation, the CID register,
 * ISO 7816 APDUs and the SIM Toolkit commands, envelopes and terminal responses. Bytes in, typed
 * values out; bad bytes get a {@link ProtocolError} naming the structure, field and offset. The
 * formats are `docs/protocol.md` and `docs/protocol-codecs.md`. Portable: no `node:` imports.
 *
 * @example
 * ```ts
 * import { decodeCid, decodeMessage, encodeMessage } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * const cid = fromHex('035344535530314780401c751300637d');
 * console.log(decodeCid(cid).psn.toString(16)); // '401c7513'
 * const bytes = encodeMessage({ type: 'unbindRequest', transactionId: 7, cid });
 * console.log(decodeMessage(bytes).type); // 'unbindRequest'
 * ```
 *
 * @module
 */
export { ProtocolError } from '../errors.js';
export {
  COMMAND_CODES,
  ZONE_CODES,
  RESULT_CODES,
  APP_STATE_CODES,
  encodeMessage,
  decodeMessage,
  type MessageType,
  type ResultCode,
  type AppState,
  type DownloadResource,
  type CustomizedApplication,
  type StkApplication,
  type StkCard,
  type BindRequest,
  type BindResponse,
  type UnbindRequest,
  type UnbindResponse,
  type LaunchRequest,
  type DownloadResourceInfo,
  type LaunchComplete,
  type DownloadComplete,
  type DeleteRequest,
  type DeleteCommand,
  type StkListUpdate,
  type SimvaultMessage,
} from './messages.js';
export {
  POR_STATUS,
  CounterRejectedError,
  encodeSpi,
  decodeSpi,
  RECOMMENDED_MT_SPI,
  KEYSET_ALGORITHMS,
  buildCommandPacket,
  openCommandPacket,
  buildResponsePacket,
  openResponsePacket,
  type CounterMode,
  type IntegrityKind,
  type PorRequest,
  type Spi,
  type KeyAlgorithm,
  type KeysetAlgorithm,
  type KeyIndicator,
  type PorStatus,
  type OtaKeyset,
  type OtaKeys,
  type MinimumSecurityLevel,
  type CommandPolicy,
  type CommandPacketParams,
  type CommandPacket,
  type ResponsePacketParams,
  type ResponseExpectation,
  type ResponsePacket,
} from './secured-packet.js';
export {
  encodeSmsTpdu,
  decodeSmsTpdu,
  type SmsAddress,
  type SmsTimestamp,
  type UdhElement,
  type SmsUserData,
  type SmsValidity,
  type SmsDeliver,
  type SmsSubmit,
  type SmsTpdu,
} from './sms.js';
export {
  splitSecuredPacket,
  ConcatReassembler,
  type ReassembledMessage,
  type PendingMessage,
  type IncompleteMessage,
  type ReassemblerOptions,
} from './sms-concat.js';
export { decodeCid, encodeCid, cidIdentity, parseCidText, formatCidText, type Cid } from './cid.js';
export {
  decodeCommandApdu,
  encodeCommandApdu,
  decodeResponseApdu,
  encodeResponseApdu,
  statusWordName,
  formatStatusWord,
  type CommandApdu,
  type ResponseApdu,
} from './apdu.js';
export type { AlphaCoding, TextDcs, TextString } from './toolkit-text.js';
export type { Address, IconId, MenuItem } from './toolkit-objects.js';
export {
  COMMAND_TYPE,
  decodeProactiveCommand,
  encodeProactiveCommand,
  type ProactiveCommand,
  type ProactiveCommandHeader,
  type Refresh,
  type SendShortMessage,
  type DisplayText,
  type Duration,
  type SelectItem,
  type SetUpMenu,
} from './toolkit.js';
export {
  decodeEnvelopeApdu,
  encodeEnvelopeApdu,
  type Envelope,
  type SmsPpDownload,
  type MenuSelection,
} from './toolkit-envelope.js';
export {
  TOOLKIT_RESULT,
  decodeTerminalResponseApdu,
  encodeTerminalResponseApdu,
  encodeFetchApdu,
  type TerminalResponse,
} from './toolkit-terminal.js';
export { decodeAtr, type Atr, type AtrGroup } from './atr.js';
