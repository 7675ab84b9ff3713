/**
 * The on-card layout's constants. See `docs/card-format.md`.
 *
 * @module
 */

/** Bytes per card block: the unit of allocation and of metadata I/O. */
export const BLOCK_SIZE = 4096;
/** log2 of {@link BLOCK_SIZE}, as the header records it. */
export const BLOCK_SIZE_LOG2 = 12;
/** The card format version this code writes. It reads version 1 too, read-only. */
export const FORMAT_VERSION = 2;
/** Blocks before the first zone: header and its backup. */
export const HEADER_BLOCKS = 2;
/** Smallest zone, in blocks: superblocks, allocation map and room for files. */
export const MIN_ZONE_BLOCKS = 16;
/**
 * Highest zone generation: the SIM anchors a zone's generation in 4 bytes, so a zone never
 * commits past it.
 */
export const MAX_GENERATION = 0xffff_ffff;
