// The ChaCha20-Poly1305 suite has no published vectors: check it against an independent build of
// the same construction from node:crypto (HMAC-SHA-512 HKDF-Expand, chacha20-poly1305), and pin the
// example published in docs/encryption.md.
import { createCipheriv, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { encrypt } from '../../src/crypto/index.js';

function independentEncrypt(key: Buffer, salt: Buffer, context: Buffer, msg: Buffer): Buffer {
  const info = Buffer.concat([
    Buffer.from('c2sp.org/chunked-encryption@v1+AEAD_CHACHA20_POLY1305'),
    Buffer.from([0]),
    salt,
    context,
  ]);
  let okm = Buffer.alloc(0);
  let t = Buffer.alloc(0);
  for (let i = 1; okm.length < 32 + 12 + 32; i++) {
    t = createHmac('sha512', key)
      .update(Buffer.concat([t, info, Buffer.from([i])]))
      .digest();
    okm = Buffer.concat([okm, t]);
  }
  const aeadKey = okm.subarray(0, 32);
  const base = okm.subarray(32, 44);
  const commitment = okm.subarray(44, 76);
  const parts = [salt, commitment];
  for (let i = 0; ; i++) {
    const chunk = msg.subarray(i * 16384, (i + 1) * 16384);
    const nonce = Buffer.from(base);
    nonce.writeUInt32BE(nonce.readUInt32BE(8) ^ i, 8);
    const c = createCipheriv('chacha20-poly1305', aeadKey, nonce, { authTagLength: 16 });
    parts.push(c.update(chunk), c.final(), c.getAuthTag());
    if (chunk.length < 16384) break;
  }
  return Buffer.concat(parts);
}

describe('cobblestone-chacha20poly1305', () => {
  it('matches an independent implementation for lengths around chunk boundaries', async () => {
    const key = Buffer.alloc(32, 0x42);
    const salt = Buffer.alloc(24, 0x17);
    const context = Buffer.from('simvault test');
    for (const n of [0, 1, 16383, 16384, 16385, 40000]) {
      const msg = Buffer.alloc(n, 0x61);
      const ours = await encrypt(key, msg, {
        suite: 'cobblestone-chacha20poly1305',
        salt,
        context,
      });
      expect(toHex(ours)).toBe(independentEncrypt(key, salt, context, msg).toString('hex'));
    }
  });

  it('reproduces the example in docs/encryption.md', async () => {
    const doc = readFileSync(new URL('../../docs/encryption.md', import.meta.url), 'utf8');
    const field = (name: string) => {
      const m = doc.match(new RegExp(`^- ${name}: \`([0-9a-f]*)\``, 'm'));
      if (!m) throw new Error(`docs/encryption.md has no ${name}`);
      return fromHex(m[1]!);
    };
    const ct = await encrypt(field('key'), field('message'), {
      suite: 'cobblestone-chacha20poly1305',
      salt: field('salt'),
      context: field('context'),
    });
    expect(toHex(ct)).toBe(toHex(field('ciphertext')));
  });
});
