/**
 * `simvault/node`: Node-only adapters. Block devices on card-image files: one file
 * ({@link FileDevice}), a set of FAT32-sized segment files ({@link SegmentedDevice}), and
 * {@link openImage} to pick between them. Smart cards in PC/SC readers ({@link PcscTransport},
 * {@link watchPcscReaders}), and the emulated SIM and chip served as virtual cards to vsmartcard's
 * vpcd reader ({@link serveVpcd}); see docs/pcsc.md.
 *
 * @module
 */
export { FileDevice, type FileDeviceOptions } from './file-device.js';
export {
  SegmentedDevice,
  segmentPath,
  DEFAULT_SEGMENT_SIZE,
  type SegmentedDeviceOptions,
} from './segmented-device.js';
export { openImage, type OpenImageOptions, type ImageLayout } from './open-image.js';
export {
  createChipStateFile,
  readChipStateFile,
  writeChipStateBytes,
  openChipStateFile,
} from './chip-state-file.js';
export {
  loadSimState,
  saveSimState,
  createSimStateFile,
  type SaveStep,
  type SaveOptions,
} from './sim-state-file.js';
export { lockImage } from './image-lock.js';
export {
  PcscError,
  loadPcscBinding,
  pcscErrorOf,
  type PcscBinding,
  type PcscContextClass,
  type PcscNativeStatus,
  type PcscNativeCard,
  type PcscNativeContext,
  type PcscNativeReader,
  type PcscNativeReaderState,
} from './pcsc-binding.js';
export { transmitT0, getResponseClass } from './pcsc-t0.js';
export {
  PcscTransport,
  listPcscReaders,
  pickPcscReader,
  type PcscOptions,
  type PcscOpenOptions,
  type PcscReaderInfo,
} from './pcsc-transport.js';
export { watchPcscReaders, type PcscEvent, type PcscWatchOptions } from './pcsc-events.js';
export { VPCD_CONTROL, VpcdFrameReader, encodeVpcdFrame, type VpcdMessage } from './vpcd-frames.js';
export {
  VPCD_DEFAULT_PORT,
  VpcdError,
  connectVpcd,
  serveVpcd,
  parseVpcdAddress,
  type VirtualCard,
  type VpcdAddress,
  type VpcdEvent,
  type VpcdOptions,
  type VpcdSession,
  type ServeVpcdOptions,
} from './vpcd-connection.js';
export {
  SIM_VIRTUAL_ATR,
  CHIP_VIRTUAL_ATR,
  simVirtualCard,
  chipVirtualCard,
  type SimVirtualCard,
} from './vpcd-cards.js';
