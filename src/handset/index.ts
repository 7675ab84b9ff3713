/**
 * `simvault/handset`: the orchestrator that runs the patent's flows end to end between a SIM, a
 * memory card (and its secure chip) and the operator's servers. Portable: it talks to the servers
 * through an injected `fetch` and to the SIM and chip through APDU transports; no `node:` imports.
 *
 * @module
 */
export {
  Handset,
  type HandsetOptions,
  type CardSlot,
  type HandsetUser,
  type UserPrompt,
  type HandsetEvent,
  type InsertResult,
  type LaunchResult,
  type MtResult,
} from './handset.js';
export {
  ServerLink,
  type ServerLinkOptions,
  type FetchLike,
  type MtMessage,
  type MoAnswer,
} from './server-link.js';
export {
  storeResource,
  sourceTagOfEtag,
  type StoreResourceOptions,
  type StoredResource,
} from './download.js';
export { HandsetError, knownCode } from './errors.js';
