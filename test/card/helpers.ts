// Shared set-up for card tests: a SIM binding key, a CID, their card keys, and formatted devices.
import { deriveCardKeys } from '../../src/crypto/index.js';
import { formatCard, MemoryDevice, mountCard, type Card } from '../../src/card/index.js';
import type { BlockDevice } from '../../src/card/device.js';

export const BINDING = new Uint8Array(32).map((_, i) => i + 1);
export const CID = Uint8Array.from(Buffer.from('03534453443038478012345678014b7d', 'hex'));
export const KEYS = deriveCardKeys(BINDING, CID);
export const SMALL_ZONES = {
  operator: 64 << 10,
  advertising: 64 << 10,
  multimedia: 512 << 10,
  user: 1 << 20,
};

export async function formatted(
  size = 2 << 20,
  zones: Record<string, number> = SMALL_ZONES,
  fill: 'random' | 'zero' = 'zero',
): Promise<MemoryDevice> {
  const dev = new MemoryDevice(size);
  await formatCard(dev, { cid: CID, keys: KEYS, zones, fill });
  return dev;
}

export function mount(dev: BlockDevice, anchors?: Record<string, number>): Promise<Card> {
  return mountCard(dev, { cid: CID, keys: KEYS, ...(anchors ? { anchors } : {}) });
}

export function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** CRC-32 (IEEE 802.3, as zlib), written apart from the library's, for editing header copies. */
export function crc32(b: Uint8Array): number {
  let crc = 0xffffffff;
  for (const x of b) {
    crc ^= x;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}
