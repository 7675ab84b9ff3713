// The `simvault encrypt` envelope vector of docs/encryption.md: built from its parts (the input
// key derivation, chunked encryption with the published salt, the context) and opened by
// openEnvelope.
import { hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toHex, utf8 } from '../../src/bytes.js';
import { encrypt, openEnvelope, parseEnvelopeHeader } from '../../src/crypto/index.js';
import { deriveKey } from '../../src/crypto/keys.js';

const doc = readFileSync(new URL('../../docs/encryption.md', import.meta.url), 'utf8');
const rows = new Map<string, Uint8Array>();
for (const m of doc
  .slice(doc.indexOf('| envelope field |'))
  .matchAll(/^\| ([a-z ]+?) \| ([0-9a-f]+) \|$/gm))
  if (!rows.has(m[1]!)) rows.set(m[1]!, fromHex(m[2]!));
const v = (name: string) => rows.get(name)!;

describe('envelope vector (docs/encryption.md)', () => {
  it('is the header, then chunked encryption under the derived input key and context', async () => {
    const header = v('header');
    expect(parseEnvelopeHeader(header)).toEqual({
      version: 1,
      suite: 'cobblestone-chacha20poly1305',
      compressed: false,
    });
    const inputKey = deriveKey(v('file key'), 'envelope', utf8('AEAD_CHACHA20_POLY1305'), 32);
    expect(toHex(inputKey)).toBe(toHex(v('input key')));
    expect(
      Buffer.from(
        hkdfSync(
          'sha256',
          v('file key'),
          'simvault/v1 key hierarchy',
          Buffer.concat([
            Buffer.from('simvault/v1 envelope'),
            Buffer.from([0]),
            Buffer.from('AEAD_CHACHA20_POLY1305'),
          ]),
          32,
        ),
      ).toString('hex'),
    ).toBe(toHex(v('input key')));
    const context = concatBytes(
      utf8('simvault/v1 envelope'),
      new Uint8Array([0]),
      header,
      v('application context'),
    );
    const body = await encrypt(inputKey, v('plaintext'), {
      suite: 'cobblestone-chacha20poly1305',
      context,
      salt: v('salt'),
    });
    expect(toHex(concatBytes(header, body))).toBe(toHex(v('envelope')));
    const opened = await openEnvelope(v('file key'), v('envelope'), {
      context: v('application context'),
    });
    expect(toHex(opened)).toBe(toHex(v('plaintext')));
  });
});
