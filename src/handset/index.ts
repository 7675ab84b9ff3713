/**
 * `simvault/handset`: the orchestrator that runs the patent's flows end to end between a SIM, a
 * memory card (and its secure chip) and the operator's servers — and everything a handset vendor
 * needs to drive it from this one import: the SIM's {@link ApduTransport} and the card's
 * {@link BlockDevice} to implement, the {@link CardSlot}, and {@link HandsetError}. Portable: it
 * talks to the servers through an injected `fetch` and to the SIM and chip through APDU
 * transports; no `node:` imports. For card images on disk, `simvault/node` has the devices.
 *
 * @example
 * ```ts
 * import { Handset, HandsetError, type ApduTransport, type BlockDevice } from 'simvault/handset';
 * declare const simReader: ApduTransport, sdCard: BlockDevice, cid: Uint8Array;
 * const phone = new Handset({
 *   sim: simReader,
 *   iccid: '89860012345678901234',
 *   otaUrl: 'https://ota.example.net',
 *   cardAppUrl: 'https://cards.example.net',
 *   card: { device: sdCard, cid },
 * });
 * try {
 *   const inserted = await phone.insertCard(); // bind (301-311), format, mount
 *   const app = inserted.applications[0];
 *   if (app) await phone.launch(app.name); // download into the card (501-505)
 * } catch (e) {
 *   if (e instanceof HandsetError && e.result === 'alreadyBound') console.log('bound to another SIM');
 *   else throw e;
 * }
 * ```
 *
 * @module
 */
export { Handset } from './handset.js';
export { mountBoundCard, type BoundCardOptions } from './bound-card.js';
export type {
  CardSlot,
  DeleteResult,
  HandsetApplication,
  HandsetEvent,
  HandsetOptions,
  HandsetUser,
  InsertResult,
  LaunchResult,
  MtResult,
  UnbindResult,
  UserPrompt,
} from './types.js';
export type { FetchLike } from './server-link.js';
export { HandsetError } from './errors.js';
export type { OutcomeResult } from '../sim/applet/state.js';
export type { ApduTransport } from '../sim/transport.js';
export type { BlockDevice } from '../card/device.js';
export type { Zone } from '../crypto/keys.js';
