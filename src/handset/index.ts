/**
 * `simvault/handset`: the orchestrator that runs the patent's flows end to end between a SIM, a
 * memory card (and its secure chip) and the operator's servers — and everything a handset vendor
 * needs to drive it from this one import: the SIM's {@link ApduTransport} and the card's
 * {@link BlockDevice} to implement, the {@link CardSlot}, and {@link HandsetError}. Portable: it
 * talks to the servers through an injected `fetch` and to the SIM and chip through APDU
 * transports; no `node:` imports. For card images on disk, `simvault/node` has the devices.
 *
 * Without servers, a card bound offline mounts with what its SIM holds ({@link mountBoundCard});
 * the whole flow against the operator's servers is `docs/guide-handset.md`.
 *
 * @example
 * ```ts
 * import { HandsetError, mountBoundCard } from 'simvault/handset';
 * import { formatCard, MemoryDevice } from 'simvault/card';
 * import { personalizeSim, SimCard, SimClient } from 'simvault/sim';
 * import { fromHex } from 'simvault';
 * const cid = fromHex('035344535530314780401c751300637d');
 * const sim = new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state);
 * await sim.bindOffline(cid); // development only; a Handset binds through the servers
 * const client = new SimClient(sim);
 * await client.select();
 * const device = new MemoryDevice(16 << 20);
 * await formatCard(device, { cid, keys: await client.cardKeys(cid) });
 * const card = await mountBoundCard({ device, cid, sim: client });
 * await card.zone('user').writeFile('a.txt', new TextEncoder().encode('hi'));
 * console.log(HandsetError.name, (await card.zone('user').readFile('a.txt')).length); // 'HandsetError' 2
 * ```
 *
 * @example
 * The orchestrator, given a SIM reader, a card and the operator's URLs (a sketch: the readers
 * and URLs are the integrator's):
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
