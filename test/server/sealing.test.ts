// Sealing secrets at rest: the vectors published in docs/server.md, checked against the code and
// against an independent XChaCha20-Poly1305 (HChaCha20 from noble, then Node's ChaCha20-Poly1305)
// and Node's HKDF; and every way a sealed value must refuse to open.
import { createDecipheriv, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hchacha } from '@noble/ciphers/chacha.js';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, randomBytes, toHex, utf8 } from '../../src/bytes.js';
import {
  kekFromBytes,
  parseKekText,
  sealSecret,
  sealedKekId,
  unsealSecret,
} from '../../src/server/sealing.js';

function docTables(): { keks: string[][]; vectors: string[][] } {
  const doc = readFileSync(new URL('../../docs/server.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('### Sealed format, version 1'));
  const rows = (cells: number) =>
    [...section.matchAll(/^\| (.+) \|$/gm)]
      .map((m) => m[1]!.split(' | '))
      .filter((r) => r.length === cells && r.every((c) => /^[0-9a-z_/]+$/.test(c)))
      .filter((r) => /^[0-9a-f]+$/.test(r.at(-1)!));
  return { keks: rows(3), vectors: rows(4) };
}

/** XChaCha20-Poly1305 open, built from HChaCha20 and Node's IETF ChaCha20-Poly1305. */
function independentOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ct: Uint8Array) {
  const words = (b: Uint8Array) => new Uint32Array(b.slice().buffer);
  const sigma = words(utf8('expand 32-byte k'));
  const sub = new Uint32Array(8);
  hchacha(sigma, words(key), words(nonce.subarray(0, 16)), sub);
  const iv = concatBytes(new Uint8Array(4), nonce.subarray(16));
  const d = createDecipheriv('chacha20-poly1305', new Uint8Array(sub.buffer), iv, {
    authTagLength: 16,
  });
  d.setAAD(aad, { plaintextLength: ct.length - 16 });
  d.setAuthTag(ct.subarray(ct.length - 16));
  return new Uint8Array(Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]));
}

describe('sealed format vectors (docs/server.md)', () => {
  const { keks, vectors } = docTables();

  it('publishes one KEK and three sealed values', () => {
    expect(keks.length).toBe(1);
    expect(vectors.length).toBe(3);
  });

  it('derives the KEK identifier and sealing key as documented (and as Node derives them)', () => {
    const [kekHex, id, sealing] = keks[0]!;
    const kek = kekFromBytes(fromHex(kekHex!));
    expect(kek.id).toBe(id);
    expect(toHex(kek.sealingKey)).toBe(sealing);
    const node = (info: string, n: number) =>
      Buffer.from(
        hkdfSync('sha256', fromHex(kekHex!), utf8('simvault/v1 server kek'), utf8(info), n),
      ).toString('hex');
    expect(node('identifier', 8)).toBe(id);
    expect(node('sealing', 32)).toBe(sealing);
  });

  it('seals every vector to the documented bytes, which open, also independently', () => {
    const kek = kekFromBytes(fromHex(keks[0]![0]!));
    for (const [context, key, nonce, sealed] of vectors) {
      const fields = context!.split('/');
      const bytes = fromHex(sealed!);
      expect(toHex(sealSecret(kek, fields, fromHex(key!), fromHex(nonce!)))).toBe(sealed);
      expect(toHex(unsealSecret(kek, fields, bytes))).toBe(key);
      // Layout: version, KEK identifier, nonce, ciphertext + tag.
      expect(bytes[0]).toBe(1);
      expect(sealedKekId(bytes)).toBe(kek.id);
      expect(toHex(bytes.subarray(9, 33))).toBe(nonce);
      const aad = concatBytes(
        bytes.subarray(0, 9),
        ...fields.map((f) => concatBytes(new Uint8Array([f.length]), utf8(f))),
      );
      expect(
        toHex(independentOpen(kek.sealingKey, bytes.subarray(9, 33), aad, bytes.subarray(33))),
      ).toBe(key);
    }
  });
});

describe('a sealed value opens only where and under what it was sealed', () => {
  const kek = kekFromBytes(randomBytes(32));
  const here = ['ota_keysets', 'kic', '89860012345678901234', '1'];
  const key = randomBytes(16);
  const sealed = sealSecret(kek, here, key);

  it('uses a fresh nonce every time', () => {
    expect(toHex(sealSecret(kek, here, key))).not.toBe(toHex(sealed));
  });

  it('refuses another row, column or key version: SERVER_SEALED_CORRUPT', () => {
    for (const there of [
      ['ota_keysets', 'kid', '89860012345678901234', '1'],
      ['ota_keysets', 'kic', '89860012345678901235', '1'],
      ['ota_keysets', 'kic', '89860012345678901234', '2'],
      // The length prefix keeps fields from sliding into each other.
      ['ota_keysets', 'kic', '8986001234567890123', '41'],
    ])
      expect(() => unsealSecret(kek, there, sealed)).toThrow(
        expect.objectContaining({ code: 'SERVER_SEALED_CORRUPT' }),
      );
  });

  it('refuses a flipped bit anywhere, a cut value and an unknown version', () => {
    for (let i = 0; i < sealed.length; i++) {
      const bad = sealed.slice();
      bad[i]! ^= 0x01;
      // A flipped identifier bit names another KEK; every other flip fails authentication.
      const code = i >= 1 && i < 9 ? 'SERVER_KEK_MISMATCH' : 'SERVER_SEALED_CORRUPT';
      expect(() => unsealSecret(kek, here, bad)).toThrow(expect.objectContaining({ code }));
    }
    expect(() => unsealSecret(kek, here, sealed.subarray(0, 40))).toThrow(
      expect.objectContaining({ code: 'SERVER_SEALED_CORRUPT' }),
    );
  });

  it('refuses another KEK: SERVER_KEK_MISMATCH naming both identifiers', () => {
    const other = kekFromBytes(randomBytes(32));
    expect(() => unsealSecret(other, here, sealed)).toThrow(
      expect.objectContaining({
        code: 'SERVER_KEK_MISMATCH',
        message: expect.stringContaining(kek.id) as unknown,
      }),
    );
  });
});

describe('KEK text', () => {
  it('reads 64 hex digits or base64, with white space around', () => {
    const bytes = randomBytes(32);
    expect(parseKekText(` ${toHex(bytes).toUpperCase()}\n`, 'x')).toEqual(bytes);
    expect(parseKekText(`${Buffer.from(bytes).toString('base64')}\n`, 'x')).toEqual(bytes);
  });

  it('refuses anything else with INVALID_ARGUMENT naming the source', () => {
    for (const text of ['', 'ab'.repeat(31), 'ab'.repeat(33), 'zz'.repeat(32), 'AAAA'])
      expect(() => parseKekText(text, 'SIMVAULT_KEK')).toThrow(
        expect.objectContaining({
          code: 'INVALID_ARGUMENT',
          message: expect.stringContaining('SIMVAULT_KEK') as unknown,
        }),
      );
    expect(() => kekFromBytes(new Uint8Array(16))).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});
