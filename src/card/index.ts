/**
 * `simvault/card`: block devices, the on-card format, zones, files and fsck.
 *
 * @module
 */
export type { BlockDevice } from './device.js';
export { DeviceError, PowerCutError, type DeviceErrorCode } from './device-error.js';
export {
  assertAccess,
  assertDeviceSize,
  assertSectorSize,
  assertWriteData,
  settle,
} from './device-access.js';
export { MemoryDevice, type MemoryDeviceOptions } from './memory-device.js';
export {
  FaultDevice,
  type FaultDeviceOptions,
  type PowerCutPlan,
  type PowerCutMode,
  type PowerCutReport,
  type BitFlip,
} from './fault-device.js';
export {
  formatCard,
  mountCard,
  readCardInfo,
  Card,
  ZONE_FLAG_ERASING,
  ZONE_FLAG_SECURE_CHIP,
  type FormatOptions,
  type MountOptions,
  type CardInfo,
  type ZoneSummary,
  type CardCapacity,
  type DamagedZone,
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
export { fsck, type FsckReport, type FsckProblem, type FsckZoneReport } from './fsck.js';
export type { FileKeyProvider, NewFileKey } from './file-keys.js';
