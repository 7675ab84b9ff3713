/**
 * `simvault/node`: Node-only adapters. Block devices on card-image files: one file
 * ({@link FileDevice}), a set of FAT32-sized segment files ({@link SegmentedDevice}), and
 * {@link openImage} to pick between them; {@link lockImage} for one writer per image; the
 * emulated SIM's and secure chip's state files, written atomically; and smart cards in PC/SC
 * readers ({@link PcscTransport}, {@link watchPcscReaders}), with the emulated SIM and chip served
 * as virtual cards to vsmartcard's vpcd reader ({@link serveVpcd}); see docs/pcsc.md.
 *
 * @example
 * ```ts
 * import { openImage, loadSimState } from 'simvault/node';
 * import { Handset } from 'simvault/handset';
 * import { SimCard } from 'simvault/sim';
 * declare const cid: Uint8Array;
 * const device = await openImage('card.img', { create: 64 << 20 });
 * const state = await loadSimState('sim.json');
 * const phone = new Handset({ sim: new SimCard(state), iccid: state.iccid, otaUrl: 'http://127.0.0.1:8081',
 *   cardAppUrl: 'http://127.0.0.1:8080', card: { device, cid } });
 * ```
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
export { createChipStateFile, openChipStateFile } from './chip-state-file.js';
export {
  loadSimState,
  saveSimState,
  createSimStateFile,
  type SaveStep,
  type SaveOptions,
} from './sim-state-file.js';
export { lockImage } from './image-lock.js';
export { PcscError } from './pcsc-binding.js';
export {
  PcscTransport,
  listPcscReaders,
  type PcscOptions,
  type PcscOpenOptions,
  type PcscReaderInfo,
} from './pcsc-transport.js';
export { watchPcscReaders, type PcscEvent, type PcscWatchOptions } from './pcsc-events.js';
export {
  VPCD_DEFAULT_PORT,
  serveVpcd,
  type VirtualCard,
  type VpcdEvent,
  type VpcdOptions,
  type ServeVpcdOptions,
} from './vpcd-connection.js';
export { simVirtualCard, chipVirtualCard, type SimVirtualCard } from './vpcd-cards.js';
