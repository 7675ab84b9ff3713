// The chip's file-key wrap: the vector in docs/chip-apdus.md, checked against the chip's code and
// against AES-256-GCM from node:crypto; it unwraps for its own context only.
import { createCipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../src/bytes.js';
import { unwrapFileKey, wrapFileKey } from '../../../src/sim/chip/key-wrap.js';

const doc = readFileSync(new URL('../../../docs/chip-apdus.md', import.meta.url), 'utf8');
const section = doc.slice(doc.indexOf('| key wrap | value (hex) |'));
const rows = new Map<string, Uint8Array>();
for (const m of section.matchAll(/^\| ([a-z ]+?) \| ([0-9a-f]+) \|$/gm))
  if (!rows.has(m[1]!)) rows.set(m[1]!, fromHex(m[2]!));
const v = (name: string) => rows.get(name)!;

describe('chip key wrap vector (docs/chip-apdus.md)', () => {
  it('wraps to the published bytes, as AES-256-GCM with the label and format byte as AD', () => {
    expect([...rows.keys()]).toEqual(['chip key', 'file key', 'nonce', 'context', 'wrapped key']);
    const wrapped = wrapFileKey(v('chip key'), v('file key'), v('nonce'), v('context'));
    expect(toHex(wrapped)).toBe(toHex(v('wrapped key')));
    const gcm = createCipheriv('aes-256-gcm', v('chip key'), v('nonce')).setAAD(
      Buffer.concat([Buffer.from('simvault chip file key'), Buffer.from([1]), v('context')]),
    );
    const independent = Buffer.concat([
      Buffer.from([1]),
      v('nonce'),
      gcm.update(v('file key')),
      gcm.final(),
      gcm.getAuthTag(),
    ]);
    expect(independent.toString('hex')).toBe(toHex(v('wrapped key')));
  });

  it('unwraps for its own context on its own chip only', () => {
    expect(toHex(unwrapFileKey(v('chip key'), v('wrapped key'), v('context'))!)).toBe(
      toHex(v('file key')),
    );
    const other = v('context').slice();
    other[other.length - 1]! ^= 1;
    expect(unwrapFileKey(v('chip key'), v('wrapped key'), other)).toBeUndefined();
    expect(unwrapFileKey(new Uint8Array(32), v('wrapped key'), v('context'))).toBeUndefined();
  });
});
