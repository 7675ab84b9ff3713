/**
 * A zone's superblock: the root of everything in the zone, written alternately to two slots
 * (generation parity picks the slot), so a torn write of one leaves the other — the previous
 * commit — intact.
 *
 * @module
 */
import { equalBytes, utf8 } from '../bytes.js';
import { CardError } from '../errors.js';
import { MAX_GENERATION } from './layout.js';
import {
  BODY_SIZE,
  getPtr,
  Kind,
  putPtr,
  PTR_SIZE,
  type Ptr,
  type ZoneBlocks,
} from './sealed-blocks.js';

const MAGIC = utf8('SVZONE01');
const FIXED = 48;
/** Most allocation index blocks a superblock lists. */
export const MAX_INDEX_PTRS = Math.floor((BODY_SIZE - FIXED) / PTR_SIZE);

/** What a superblock records. */
export interface Superblock {
  /** Grows by one with every commit. */
  generation: number;
  /** File table root, or null for an empty zone. */
  root: Ptr | null;
  /** Visible files. */
  files: number;
  /** Plaintext bytes of the visible files. */
  bytes: number;
  /** Allocation map index blocks. */
  index: Ptr[];
}

/** Encode a superblock body. */
export function encodeSuperblock(s: Superblock): Uint8Array {
  if (s.index.length > MAX_INDEX_PTRS)
    throw new CardError('CARD_NO_SPACE', 'zone too large for its superblock');
  const body = new Uint8Array(FIXED + s.index.length * PTR_SIZE);
  const v = new DataView(body.buffer);
  body.set(MAGIC, 0);
  v.setUint32(8, Math.floor(s.generation / 2 ** 32));
  v.setUint32(12, s.generation >>> 0);
  putPtr(v, body, 16, s.root ?? { addr: 0, nonce: new Uint8Array(12) });
  v.setUint32(32, s.files);
  v.setUint32(36, Math.floor(s.bytes / 2 ** 32));
  v.setUint32(40, s.bytes >>> 0);
  v.setUint16(44, s.index.length);
  s.index.forEach((p, i) => {
    putPtr(v, body, FIXED + i * PTR_SIZE, p);
  });
  return body;
}

/** Decode a superblock body; throws `CARD_CORRUPT` if it is not one. */
export function decodeSuperblock(body: Uint8Array): Superblock {
  const v = new DataView(body.buffer, body.byteOffset, body.length);
  if (!equalBytes(body.subarray(0, 8), MAGIC))
    throw new CardError('CARD_CORRUPT', 'superblock has no magic');
  const n = v.getUint16(44);
  if (n > MAX_INDEX_PTRS)
    throw new CardError('CARD_CORRUPT', 'superblock lists too many index blocks');
  const root = getPtr(v, body, 16);
  const generation = v.getUint32(8) * 2 ** 32 + v.getUint32(12);
  // The SIM anchors 4 bytes of it; the reserved bytes and the rest of the body are zero.
  if (generation > MAX_GENERATION)
    throw new CardError('CARD_CORRUPT', 'superblock generation beyond 32 bits');
  if (v.getUint16(46) !== 0 || body.subarray(FIXED + n * PTR_SIZE).some((b) => b !== 0))
    throw new CardError('CARD_CORRUPT', 'superblock has non-zero reserved bytes');
  if (root.addr === 0 && root.nonce.some((b) => b !== 0))
    throw new CardError('CARD_CORRUPT', 'superblock has a null root with a nonce');
  return {
    generation,
    root: root.addr === 0 ? null : root,
    files: v.getUint32(32),
    bytes: v.getUint32(36) * 2 ** 32 + v.getUint32(40),
    index: Array.from({ length: n }, (_, i) => getPtr(v, body, FIXED + i * PTR_SIZE)),
  };
}

/** The slot (block 0 or 1) a generation is written to. */
export function slotOf(generation: number): number {
  return generation % 2;
}

/** Read both slots; the valid superblock with the highest generation, and what each slot held. */
export async function readSuperblocks(
  blocks: ZoneBlocks,
): Promise<{ best: Superblock | null; slots: Array<Superblock | null> }> {
  const slots: Array<Superblock | null> = [];
  for (const slot of [0, 1]) {
    const raw = await blocks.read(slot, 1);
    const body = await blocks.openSealed(raw, slot, Kind.Superblock);
    let sb: Superblock | null = null;
    if (body) {
      try {
        sb = decodeSuperblock(body);
        if (slotOf(sb.generation) !== slot) sb = null;
      } catch {
        sb = null;
      }
    }
    slots.push(sb);
  }
  const valid = slots.filter((s): s is Superblock => s !== null);
  const best = valid.length ? valid.reduce((a, b) => (b.generation > a.generation ? b : a)) : null;
  return { best, slots };
}

/** Write a superblock to its slot. */
export async function writeSuperblock(blocks: ZoneBlocks, s: Superblock): Promise<void> {
  await blocks.writeSealed(slotOf(s.generation), Kind.Superblock, encodeSuperblock(s));
}
