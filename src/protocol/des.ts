/**
 * DES and Triple-DES (TDEA, FIPS 46-3 / NIST SP 800-67) in ECB and CBC mode, in pure TypeScript,
 * for the legacy 3DES keysets of SIM secured packets (ETSI TS 102 225). `@noble/ciphers` has no
 * DES, and secured packets must stay portable, so this small table-driven implementation exists.
 *
 * It is NOT constant-time: the S-box lookups are indexed by secret data. That is accepted here
 * because DES only serves interoperability with deployed cards; new keysets should use AES.
 *
 * Keys: 8 bytes (single DES, K1=K2=K3), 16 bytes (two-key 3DES, K3=K1) or 24 bytes (three-key).
 * Parity bits are ignored, as every implementation does.
 *
 * @module
 */
import { ArgumentError } from '../errors.js';

// The standard's tables, 1-based bit numbers counted from the most significant bit.
const IP = [
  58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22, 14, 6, 64,
  56, 48, 40, 32, 24, 16, 8, 57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3, 61, 53,
  45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
];
const P = [
  16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9, 19, 13,
  30, 6, 22, 11, 4, 25,
];
const PC1 = [
  57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60,
  52, 44, 36, 63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37, 29, 21,
  13, 5, 28, 20, 12, 4,
];
const PC2 = [
  14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2, 41, 52,
  31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];
const SHIFTS = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];
const S = [
  '14 4 13 1 2 15 11 8 3 10 6 12 5 9 0 7 0 15 7 4 14 2 13 1 10 6 12 11 9 5 3 8 4 1 14 8 13 6 2 11 15 12 9 7 3 10 5 0 15 12 8 2 4 9 1 7 5 11 3 14 10 0 6 13',
  '15 1 8 14 6 11 3 4 9 7 2 13 12 0 5 10 3 13 4 7 15 2 8 14 12 0 1 10 6 9 11 5 0 14 7 11 10 4 13 1 5 8 12 6 9 3 2 15 13 8 10 1 3 15 4 2 11 6 7 12 0 5 14 9',
  '10 0 9 14 6 3 15 5 1 13 12 7 11 4 2 8 13 7 0 9 3 4 6 10 2 8 5 14 12 11 15 1 13 6 4 9 8 15 3 0 11 1 2 12 5 10 14 7 1 10 13 0 6 9 8 7 4 15 14 3 11 5 2 12',
  '7 13 14 3 0 6 9 10 1 2 8 5 11 12 4 15 13 8 11 5 6 15 0 3 4 7 2 12 1 10 14 9 10 6 9 0 12 11 7 13 15 1 3 14 5 2 8 4 3 15 0 6 10 1 13 8 9 4 5 11 12 7 2 14',
  '2 12 4 1 7 10 11 6 8 5 3 15 13 0 14 9 14 11 2 12 4 7 13 1 5 0 15 10 3 9 8 6 4 2 1 11 10 13 7 8 15 9 12 5 6 3 0 14 11 8 12 7 1 14 2 13 6 15 0 9 10 4 5 3',
  '12 1 10 15 9 2 6 8 0 13 3 4 14 7 5 11 10 15 4 2 7 12 9 5 6 1 13 14 0 11 3 8 9 14 15 5 2 8 12 3 7 0 4 10 1 13 11 6 4 3 2 12 9 5 15 10 11 14 1 7 6 0 8 13',
  '4 11 2 14 15 0 8 13 3 12 9 7 5 10 6 1 13 0 11 7 4 9 1 10 14 3 5 12 2 15 8 6 1 4 11 13 12 3 7 14 10 15 6 8 0 5 9 2 6 11 13 8 1 4 10 7 9 5 0 15 14 2 3 12',
  '13 2 8 4 6 15 11 1 10 9 3 14 5 0 12 7 1 15 13 8 10 3 7 4 12 5 6 11 0 14 9 2 7 11 4 1 9 12 14 2 0 6 10 13 15 3 5 8 2 1 14 7 4 10 8 13 15 12 9 0 3 5 6 11',
].map((row) => row.split(' ').map(Number));

/**
 * A 64-bit permutation as byte-indexed lookup tables: for input byte `i` holding value `v`,
 * `hi[i*256+v]`/`lo[i*256+v]` are the output bits it contributes. Eight lookups per block
 * instead of 64 single-bit moves.
 */
function permutationTables(table: readonly number[]): { hi: Uint32Array; lo: Uint32Array } {
  const hi = new Uint32Array(8 * 256);
  const lo = new Uint32Array(8 * 256);
  for (let out = 0; out < 64; out++) {
    const src = table[out]! - 1;
    const byte = src >> 3;
    const mask = 0x80 >> (src & 7);
    for (let v = 0; v < 256; v++) {
      if ((v & mask) === 0) continue;
      if (out < 32) hi[byte * 256 + v]! |= (1 << (31 - out)) >>> 0;
      else lo[byte * 256 + v]! |= (1 << (63 - out)) >>> 0;
    }
  }
  return { hi, lo };
}

const FP = new Array<number>(64);
for (let i = 0; i < 64; i++) FP[IP[i]! - 1] = i + 1;
const IP_T = permutationTables(IP);
const FP_T = permutationTables(FP);

/** SP[j*64+v]: S-box j applied to 6-bit input v, placed in nibble j, then permuted by P. */
const SP = (() => {
  const out = new Uint32Array(8 * 64);
  for (let j = 0; j < 8; j++) {
    for (let v = 0; v < 64; v++) {
      const row = ((v >> 4) & 2) | (v & 1);
      const col = (v >> 1) & 15;
      const s = S[j]![row * 16 + col]! << (28 - 4 * j);
      let p = 0;
      for (let k = 0; k < 32; k++) if ((s >>> (32 - P[k]!)) & 1) p |= 1 << (31 - k);
      out[j * 64 + v] = p >>> 0;
    }
  }
  return out;
})();

/** 16 round keys of eight 6-bit chunks each, in encryption order. */
function keySchedule(key: Uint8Array, offset: number): Uint8Array {
  const bit = (n: number) => (key[offset + ((n - 1) >> 3)]! >> (7 - ((n - 1) & 7))) & 1;
  const cd = PC1.map(bit);
  const out = new Uint8Array(16 * 8);
  for (let round = 0; round < 16; round++) {
    for (let s = 0; s < SHIFTS[round]!; s++) {
      cd.splice(0, 28, ...cd.slice(1, 28), cd[0]!);
      cd.splice(28, 28, ...cd.slice(29, 56), cd[28]!);
    }
    for (let j = 0; j < 8; j++) {
      let chunk = 0;
      for (let k = 0; k < 6; k++) chunk = (chunk << 1) | cd[PC2[j * 6 + k]! - 1]!;
      out[round * 8 + j] = chunk;
    }
  }
  return out;
}

function reverseRounds(ks: Uint8Array): Uint8Array {
  const out = new Uint8Array(ks.length);
  for (let r = 0; r < 16; r++) out.set(ks.subarray((15 - r) * 8, (16 - r) * 8), r * 8);
  return out;
}

/** The rotation that brings E-expansion group j's six bits to the top of a 32-bit word. */
const E_ROT = [31, 3, 7, 11, 15, 19, 23, 27];

function feistel(r: number, ks: Uint8Array, round: number): number {
  let f = 0;
  for (let j = 0; j < 8; j++) {
    const s = E_ROT[j]!;
    const chunk = ((r << s) | (r >>> (32 - s))) >>> 26;
    f |= SP[j * 64 + (chunk ^ ks[round * 8 + j]!)]!;
  }
  return f >>> 0;
}

/** One DES block in place, `ks` in the order the rounds use them. */
function desBlock(block: Uint8Array, off: number, ks: Uint8Array): void {
  let l = 0;
  let r = 0;
  for (let i = 0; i < 8; i++) {
    const v = block[off + i]!;
    l |= IP_T.hi[i * 256 + v]!;
    r |= IP_T.lo[i * 256 + v]!;
  }
  l >>>= 0;
  r >>>= 0;
  for (let round = 0; round < 16; round++) {
    const next = (l ^ feistel(r, ks, round)) >>> 0;
    l = r;
    r = next;
  }
  // The last round is not swapped: the pre-output block is R16 L16.
  const pre = [
    (r >>> 24) & 255,
    (r >>> 16) & 255,
    (r >>> 8) & 255,
    r & 255,
    (l >>> 24) & 255,
    (l >>> 16) & 255,
    (l >>> 8) & 255,
    l & 255,
  ];
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < 8; i++) {
    hi |= FP_T.hi[i * 256 + pre[i]!]!;
    lo |= FP_T.lo[i * 256 + pre[i]!]!;
  }
  block[off] = hi >>> 24;
  block[off + 1] = hi >>> 16;
  block[off + 2] = hi >>> 8;
  block[off + 3] = hi;
  block[off + 4] = lo >>> 24;
  block[off + 5] = lo >>> 16;
  block[off + 6] = lo >>> 8;
  block[off + 7] = lo;
}

interface Tdes {
  enc: [Uint8Array, Uint8Array, Uint8Array];
  dec: [Uint8Array, Uint8Array, Uint8Array];
}

function tdesKeys(key: Uint8Array): Tdes {
  if (
    !(key instanceof Uint8Array) ||
    (key.length !== 8 && key.length !== 16 && key.length !== 24)
  ) {
    throw new ArgumentError('a DES/3DES key must be 8, 16 or 24 bytes');
  }
  const k1 = keySchedule(key, 0);
  const k2 = key.length === 8 ? k1 : keySchedule(key, 8);
  const k3 = key.length === 24 ? keySchedule(key, 16) : k1;
  return { enc: [k1, reverseRounds(k2), k3], dec: [reverseRounds(k3), k2, reverseRounds(k1)] };
}

function ede(block: Uint8Array, off: number, keys: [Uint8Array, Uint8Array, Uint8Array]): void {
  desBlock(block, off, keys[0]);
  desBlock(block, off, keys[1]);
  desBlock(block, off, keys[2]);
}

function checkData(data: Uint8Array, iv?: Uint8Array): void {
  if (!(data instanceof Uint8Array) || data.length % 8 !== 0) {
    throw new ArgumentError('DES/3DES data must be a Uint8Array whose length is a multiple of 8');
  }
  if (iv !== undefined && (!(iv instanceof Uint8Array) || iv.length !== 8)) {
    throw new ArgumentError('a DES/3DES IV must be 8 bytes');
  }
}

/**
 * Triple-DES (EDE) in ECB mode, encrypting. `data` must be a whole number of 8-byte blocks.
 *
 * @example
 * ```ts
 * import { tdesEcbEncrypt } from 'simvault/protocol';
 * import { fromHex, toHex } from 'simvault';
 * // FIPS 81 ECB example (single DES as K1=K2=K3)
 * toHex(tdesEcbEncrypt(fromHex('0123456789abcdef'), fromHex('4e6f772069732074'))); // '3fa40e8a984d4815'
 * ```
 */
export function tdesEcbEncrypt(key: Uint8Array, data: Uint8Array): Uint8Array {
  checkData(data);
  const k = tdesKeys(key);
  const out = data.slice();
  for (let off = 0; off < out.length; off += 8) ede(out, off, k.enc);
  return out;
}

/**
 * Triple-DES (EDE) in ECB mode, decrypting.
 *
 * @example
 * ```ts
 * import { tdesEcbDecrypt } from 'simvault/protocol';
 * import { fromHex, toHex } from 'simvault';
 * toHex(tdesEcbDecrypt(fromHex('0123456789abcdef'), fromHex('3fa40e8a984d4815'))); // '4e6f772069732074'
 * ```
 */
export function tdesEcbDecrypt(key: Uint8Array, data: Uint8Array): Uint8Array {
  checkData(data);
  const k = tdesKeys(key);
  const out = data.slice();
  for (let off = 0; off < out.length; off += 8) ede(out, off, k.dec);
  return out;
}

/**
 * Triple-DES (EDE) in CBC mode, encrypting without padding. The IV defaults to eight zero bytes,
 * as secured packets use.
 *
 * @example
 * ```ts
 * import { tdesCbcEncrypt } from 'simvault/protocol';
 * import { fromHex, toHex } from 'simvault';
 * const key = fromHex('0123456789abcdef23456789abcdef01'); // two-key 3DES
 * const ct = tdesCbcEncrypt(key, new Uint8Array(16));
 * ct.length; // 16
 * ```
 */
export function tdesCbcEncrypt(key: Uint8Array, data: Uint8Array, iv?: Uint8Array): Uint8Array {
  checkData(data, iv);
  const k = tdesKeys(key);
  const out = data.slice();
  let prev = iv ?? new Uint8Array(8);
  let prevOff = 0;
  for (let off = 0; off < out.length; off += 8) {
    for (let i = 0; i < 8; i++) out[off + i]! ^= prev[prevOff + i]!;
    ede(out, off, k.enc);
    prev = out;
    prevOff = off;
  }
  return out;
}

/**
 * Triple-DES (EDE) in CBC mode, decrypting without unpadding. The IV defaults to eight zero bytes.
 *
 * @example
 * ```ts
 * import { tdesCbcDecrypt, tdesCbcEncrypt } from 'simvault/protocol';
 * const key = new Uint8Array(24).fill(7);
 * const pt = new Uint8Array(8).fill(1);
 * tdesCbcDecrypt(key, tdesCbcEncrypt(key, pt)); // equals pt
 * ```
 */
export function tdesCbcDecrypt(key: Uint8Array, data: Uint8Array, iv?: Uint8Array): Uint8Array {
  checkData(data, iv);
  const k = tdesKeys(key);
  const out = data.slice();
  const chain = new Uint8Array(8);
  if (iv) chain.set(iv);
  const saved = new Uint8Array(8);
  for (let off = 0; off < out.length; off += 8) {
    saved.set(out.subarray(off, off + 8));
    ede(out, off, k.dec);
    for (let i = 0; i < 8; i++) out[off + i]! ^= chain[i]!;
    chain.set(saved);
  }
  return out;
}
