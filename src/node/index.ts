/**
 * `simvault/node`: Node-only adapters. Block devices on card-image files: one file
 * ({@link FileDevice}), a set of FAT32-sized segment files ({@link SegmentedDevice}), and
 * {@link openImage} to pick between them.
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
