/**
 * `simvault/card`: the memory card as a partitioned, encrypted, crash-safe filesystem on a
 * {@link BlockDevice} — four zones (operator, advertising, multimedia, user), each under its own
 * key from the SIM; streaming puts that appear atomically and resume; range reads; fsck; rollback
 * detection against the generations the SIM anchors; crypto-erase; secure-chip zones. The card
 * never asks a SIM for anything: whoever mounts it brings the keys (the handset, or the CLI).
 * Devices: {@link MemoryDevice} and {@link FaultDevice} here, card-image files in `simvault/node`.
 * The on-card format is `docs/card-format.md`. Portable: no `node:` imports.
 *
 * @example
 * ```ts
 * import { formatCard, mountCard, MemoryDevice } from 'simvault/card';
 * import { deriveCardKeys } from 'simvault/crypto';
 * import { fromHex, randomBytes } from 'simvault';
 * const cid = fromHex('035344535530314780401c751300637d');
 * const keys = deriveCardKeys(randomBytes(32), cid); // the SIM derives these from its binding key
 * const device = new MemoryDevice(16 << 20);
 * await formatCard(device, { cid, keys });
 * const card = await mountCard(device, { cid, keys });
 * await card.zone('user').writeFile('hello.txt', new TextEncoder().encode('hello'));
 * console.log(new TextDecoder().decode(await card.zone('user').readFile('hello.txt'))); // 'hello'
 * ```
 *
 * @module
 */
export type { BlockDevice } from './device.js';
export { DeviceError, PowerCutError, type DeviceErrorCode } from './device-error.js';
export { MemoryDevice, type MemoryDeviceOptions } from './memory-device.js';
export {
  FaultDevice,
  type BitFlip,
  type FaultDeviceOptions,
  type PowerCutMode,
  type PowerCutPlan,
  type PowerCutReport,
} from './fault-device.js';
export {
  Card,
  formatCard,
  mountCard,
  readCardInfo,
  type CardCapacity,
  type CardInfo,
  type DamagedZone,
  type FormatOptions,
  type MountOptions,
  type ZoneSummary,
} from './card.js';
export {
  CardZone,
  ZoneFileReader,
  type FileInfo,
  type PendingPut,
  type PutOptions,
  type ZoneCapacity,
} from './zone.js';
export type { ZonePut } from './put-session.js';
export { fsck, type FsckProblem, type FsckReport, type FsckZoneReport } from './fsck.js';
export type { FileKeyProvider, NewFileKey } from './file-keys.js';
