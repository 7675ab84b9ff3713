/**
 * The redundancy checks (RC) and cryptographic checksums (CC) of secured packets
 * (ETSI TS 102 225 §5.1.3): CRC16 (ISO/IEC 13239, the "X.25" CRC), CRC32 (the zlib one),
 * AES-CMAC (RFC 4493) and the 3DES CBC-MAC with zero IV and zero padding.
 *
 * @module
 */
import { cmac } from '@noble/ciphers/aes.js';
import { ArgumentError } from '../errors.js';
import { tdesCbcEncrypt } from './des.js';

const CRC16_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x8408 : c >>> 1;
    t[n] = c;
  }
  return t;
})();

const CRC32_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-16/X-25 (polynomial x¹⁶+x¹²+x⁵+1, reflected, initial value and final XOR `FFFF`): the CRC16
 * of TS 102 225 redundancy checks.
 *
 * @example
 * ```ts
 * import { crc16X25 } from 'simvault/protocol';
 * import { utf8 } from 'simvault';
 * crc16X25(utf8('123456789')).toString(16); // '906e'
 * ```
 */
export function crc16X25(data: Uint8Array): number {
  let crc = 0xffff;
  for (let i = 0; i < data.length; i++) crc = (crc >>> 8) ^ CRC16_TABLE[(crc ^ data[i]!) & 0xff]!;
  return (crc ^ 0xffff) & 0xffff;
}

/**
 * CRC-32 as zlib computes it (ISO-HDLC: reflected polynomial `EDB88320`, initial value and final
 * XOR `FFFFFFFF`).
 *
 * @example
 * ```ts
 * import { crc32 } from 'simvault/protocol';
 * import { utf8 } from 'simvault';
 * crc32(utf8('123456789')).toString(16); // 'cbf43926'
 * ```
 */
export function crc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = (crc >>> 8) ^ CRC32_TABLE[(crc ^ data[i]!) & 0xff]!;
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * AES-CMAC (RFC 4493) of `data`, truncated to its leftmost `length` bytes (default 16). Secured
 * packets use 8 or 4. The key is 16, 24 or 32 bytes.
 *
 * @example
 * ```ts
 * import { aesCmac } from 'simvault/protocol';
 * import { fromHex, toHex } from 'simvault';
 * // RFC 4493 example 1 (empty message)
 * toHex(aesCmac(fromHex('2b7e151628aed2a6abf7158809cf4f3c'), new Uint8Array(0)));
 * // 'bb1d6929e95937287fa37d129b756746'
 * ```
 */
export function aesCmac(key: Uint8Array, data: Uint8Array, length = 16): Uint8Array {
  if (
    !(key instanceof Uint8Array) ||
    (key.length !== 16 && key.length !== 24 && key.length !== 32)
  ) {
    throw new ArgumentError('an AES key must be 16, 24 or 32 bytes');
  }
  if (!Number.isInteger(length) || length < 1 || length > 16)
    throw new ArgumentError('CMAC length must be 1..16');
  return cmac(data, key).slice(0, length);
}

/**
 * The DES/3DES cryptographic checksum of TS 102 225: CBC with a zero IV over `data` padded with
 * zero bytes to a multiple of 8 (an empty input is one zero block), keeping the last block. The
 * padding is only computed, never transmitted.
 *
 * @example
 * ```ts
 * import { tdesCbcMac } from 'simvault/protocol';
 * const mac = tdesCbcMac(new Uint8Array(16).fill(1), new Uint8Array([1, 2, 3]));
 * mac.length; // 8
 * ```
 */
export function tdesCbcMac(key: Uint8Array, data: Uint8Array): Uint8Array {
  const padded = new Uint8Array(Math.max(8, Math.ceil(data.length / 8) * 8));
  padded.set(data);
  const ct = tdesCbcEncrypt(key, padded);
  return ct.slice(ct.length - 8);
}
