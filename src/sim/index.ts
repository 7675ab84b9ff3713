/**
 * `simvault/sim`: the emulated smart cards handset code talks to through an {@link ApduTransport}
 * — the SIM's toolkit applet and the memory card's secure chip — and the handset-side helpers
 * that speak their APDUs. Portable: no `node:` imports.
 *
 * @module
 */
export type { ApduTransport } from './transport.js';
export {
  CHIP_AID,
  CHIP_ALGORITHM,
  CHIP_COS_VERSION,
  CHIP_INS,
  CHIP_MAX_CONTEXT_LENGTH,
  CHIP_PIN_REFERENCE,
  CHIP_SW,
  CHIP_TAG,
  FILE_KEY_LENGTH,
  WRAPPED_KEY_LENGTH,
  chipStatusWordName,
} from './chip/constants.js';
export {
  PIN_BLOCK_LENGTH,
  decodePinBlock,
  decodePukBlock,
  encodePinBlock,
  encodePukBlock,
  isValidPin,
  isValidPuk,
} from './chip/pin.js';
export {
  CHIP_KEY_LENGTH,
  CHIP_SERIAL_LENGTH,
  CHIP_STATE_LENGTH,
  decodeChipState,
  encodeChipState,
  personalizeChip,
  type ChipPersonalizeOptions,
  type ChipState,
} from './chip/state.js';
export { chipDataObject, decodeChipInfo, type ChipInfo } from './chip/chip-data.js';
export { SecureChip, type SecureChipOptions } from './chip/cos.js';
export { ChipClient, ChipError, type GeneratedFileKey } from './chip-client.js';
export {
  SIM_STATE_VERSION,
  SimStateError,
  encodeSimState,
  decodeSimState,
  simStateToJSON,
  parseSimStateJSON,
} from './applet/state-json.js';
export {
  type SimState,
  type SimKeyset,
  type SimKeysetAlgorithm,
  type SimThreshold,
  type ThresholdPolicy,
  type UnbindRule,
  type BindingEntry,
  type BoundApplication,
  type PendingRequest,
  type PendingBind,
  type MenuAction,
  type MenuChoice,
  type ProactiveEntry,
  type SentPacket,
} from './applet/state.js';
export {
  personalizeSim,
  DEFAULT_MO_SPI,
  RECOMMENDED_MT_SPI,
  type PersonalizeOptions,
  type OtaProvisioning,
} from './applet/personalize.js';
export {
  MAX_LIST_ENTRIES,
  sameCard,
  findCard,
  findBoundCard,
  boundCapacity,
  atThreshold,
  planBinding,
  tick,
  touchCard,
  storeBinding,
  removeCard,
  releaseBinding,
  applyStkList,
  type BindingPlan,
} from './applet/binding-list.js';
export {
  MAX_PROACTIVE_QUEUE,
  MENU_TITLE,
  queueProactive,
  queueNotice,
  cardLabel,
  menuPages,
  queueSetUpMenu,
  queueMenuPage,
  queueChoice,
  queueSubMenu,
} from './applet/proactive.js';
export {
  otaKeysOfState,
  openIncomingPacket,
  porWanted,
  buildPor,
  counterPorData,
  sendPorBySms,
  sendSecuredMessage,
  receivePor,
  type IncomingPacket,
  type PacketHeader,
} from './applet/ota-link.js';
export {
  SIMVAULT_APPLET_AID,
  SIM_INS,
  CARD_INSERTED_MODE,
  CARD_STATUS,
  SW,
  simStatusWordName,
} from './applet/apdu-table.js';
export { SimCard, type SimCardOptions } from './applet/sim-card.js';
export {
  SimClient,
  SimStatusError,
  cardKeysFromResponse,
  type SimResponse,
  type ProactiveAnswer,
} from './applet/sim-client.js';
