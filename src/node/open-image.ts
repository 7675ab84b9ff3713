/**
 * Open a card image without caring whether it is one file or a segmented set. Node only.
 *
 * @module
 */
import { stat } from 'node:fs/promises';
import { ArgumentError } from '../errors.js';
import { FileDevice } from './file-device.js';
import {
  DEFAULT_SEGMENT_SIZE,
  SegmentedDevice,
  segmentPath,
  type SegmentedDeviceOptions,
} from './segmented-device.js';

/**
 * How {@link openImage} lays out the image: `auto` (default) picks by what exists on disk, or when
 * creating by size; `file` and `segmented` force one layout.
 *
 * @example
 * ```ts
 * import type { ImageLayout } from 'simvault/node';
 * const layout: ImageLayout = 'segmented';
 * ```
 */
export type ImageLayout = 'auto' | 'file' | 'segmented';

/**
 * Options of {@link openImage}: those of `SegmentedDevice.open` (a superset of `FileDevice.open`'s)
 * plus the layout.
 *
 * @example
 * ```ts
 * import type { OpenImageOptions } from 'simvault/node';
 * const options: OpenImageOptions = { create: 1 << 30, layout: 'auto' };
 * ```
 */
export interface OpenImageOptions extends SegmentedDeviceOptions {
  /** See {@link ImageLayout}. Default `auto`. */
  readonly layout?: ImageLayout;
}

/**
 * Open or create a card image. With `layout: 'auto'`: an existing image is segmented when its
 * first extra segment (`PATH.001`) exists, else a single file; a new image is segmented when its
 * size is at least the segment size (so no file reaches the FAT32 limit), else a single file.
 *
 * @param path - the image path (segment 0 of a segmented image)
 * @param options - see {@link OpenImageOptions}
 * @returns a {@link FileDevice} or a {@link SegmentedDevice}
 *
 * @example
 * ```ts
 * import { openImage } from 'simvault/node';
 * const created = await openImage('card.img', { create: 8 * 1024 ** 3 }); // three segment files
 * await created.close();
 * const dev = await openImage('card.img'); // a SegmentedDevice again
 * ```
 */
export async function openImage(
  path: string,
  options: OpenImageOptions = {},
): Promise<FileDevice | SegmentedDevice> {
  const { layout = 'auto', segmentSize, ...fileOptions } = options;
  // Checked as a string: JavaScript callers can pass anything.
  const asked: string = layout;
  if (asked !== 'auto' && asked !== 'file' && asked !== 'segmented') {
    throw new ArgumentError(`layout must be auto, file or segmented, got ${asked}`);
  }
  let segmented: boolean;
  if (layout !== 'auto') segmented = layout === 'segmented';
  else if (options.create !== undefined)
    segmented = options.create >= (segmentSize ?? DEFAULT_SEGMENT_SIZE);
  else segmented = await exists(segmentPath(path, 1));
  if (!segmented) return FileDevice.open(path, fileOptions);
  return SegmentedDevice.open(
    path,
    segmentSize === undefined ? fileOptions : { ...fileOptions, segmentSize },
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    // Anything but a readable entry counts as absent; opening the image reports the real trouble.
    return false;
  }
}
