/**
 * `simvault/sim`: the smart cards a handset talks to through an {@link ApduTransport} — an
 * emulated SIM with the simvault toolkit applet ({@link SimCard}) and the memory card's secure
 * chip ({@link SecureChip}) — and the handset-side clients that speak their APDUs
 * ({@link SimClient}, {@link ChipClient}). A real SIM or chip behind a card reader is just
 * another `ApduTransport`: the clients and the handset work the same. The byte contract is
 * `docs/sim-apdus.md` and `docs/chip-apdus.md`. Portable: no `node:` imports.
 *
 * @example
 * ```ts
 * import { personalizeSim, SimCard, SimClient } from 'simvault/sim';
 * import { fromHex } from 'simvault';
 * const { state, ota } = personalizeSim({ iccid: '89860012345678901234' }); // provision `ota` on the OTA server
 * const sim = new SimCard(state);
 * const cid = fromHex('035344535530314780401c751300637d');
 * await sim.bindOffline(cid); // development only: bind without the servers
 * const client = new SimClient(sim);
 * await client.select();
 * const keys = await client.cardKeys(cid); // the card's zone keys, never the binding key
 * console.log(ota.iccid, keys.cardKeyIdentifier.length); // 16
 * ```
 *
 * @module
 */
export type { ApduTransport } from './transport.js';
export { SimError } from './errors.js';
export { SimCard, type SimCardOptions } from './applet/sim-card.js';
export {
  SimClient,
  SimStatusError,
  type ProactiveAnswer,
  type SimApplication,
  type SimResponse,
} from './applet/sim-client.js';
export {
  personalizeSim,
  type OtaProvisioning,
  type PersonalizeOptions,
} from './applet/personalize.js';
export { THRESHOLD_POLICIES, UNBIND_RULES } from './applet/state.js';
export type {
  BindingEntry,
  BoundApplication,
  OutcomeResult,
  SimKeyset,
  SimState,
  SimThreshold,
  ThresholdPolicy,
  UnbindRule,
} from './applet/state.js';
export {
  SIM_STATE_VERSION,
  SimStateError,
  decodeSimState,
  encodeSimState,
  parseSimStateJSON,
  simStateToJSON,
} from './applet/state-json.js';
export { SIMVAULT_APPLET_AID, SW } from './applet/apdu-table.js';
export { SecureChip, type SecureChipOptions } from './chip/cos.js';
export { ChipClient, ChipError, type GeneratedFileKey } from './chip-client.js';
export type { HandsetCredential } from '../protocol/handset-credential.js';
export {
  decodeChipState,
  encodeChipState,
  personalizeChip,
  type ChipPersonalizeOptions,
  type ChipState,
} from './chip/state.js';
export type { ChipInfo } from './chip/chip-data.js';
