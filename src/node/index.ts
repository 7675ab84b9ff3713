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
 * import { mkdtempSync } from 'node:fs';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { loadSimState, openImage, saveSimState } from 'simvault/node';
 * import { mountBoundCard } from 'simvault/handset';
 * import { formatCard } from 'simvault/card';
 * import { personalizeSim, SimCard, SimClient } from 'simvault/sim';
 * import { fromHex } from 'simvault';
 * const dir = mkdtempSync(join(tmpdir(), 'simvault-'));
 * const cid = fromHex('035344535530314780401c751300637d');
 * // A SIM whose state lives in a file, bound offline to the card (development only).
 * const sim = new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state);
 * await sim.bindOffline(cid);
 * await saveSimState(join(dir, 'sim.json'), sim.state);
 * // A 16 MiB card image; the handset mounts it with the keys of the SIM loaded back.
 * const client = new SimClient(new SimCard(await loadSimState(join(dir, 'sim.json'))));
 * await client.select();
 * const device = await openImage(join(dir, 'card.img'), { create: 16 << 20 });
 * await formatCard(device, { cid, keys: await client.cardKeys(cid) });
 * const card = await mountBoundCard({ device, cid, sim: client });
 * await card.zone('user').writeFile('a.txt', new TextEncoder().encode('on disk'));
 * console.log(device.size); // 16777216
 * await device.close();
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
