/**
 * The shared signing keys of a deployment, kept in a JSON file (`keys.json` in the data folder by
 * default, mode 0600): `[{ "id": "ota", "role": "ota", "secret": "<64 hex>" }, ...]`. The first
 * start creates one `ota` and one `operator` key; the OTA server and the operator's tools read
 * the same file.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { fromHex, toHex } from '../bytes.js';
import { ArgumentError } from '../errors.js';
import { checkSigningKey, type SigningKey } from './auth.js';

/**
 * Parse the text of a keys file.
 *
 * @example
 * ```ts
 * import { parseKeysFile } from './keys.js';
 * parseKeysFile(JSON.stringify([{ id: 'ota', role: 'ota', secret: '11'.repeat(32) }]))[0]?.role; // 'ota'
 * ```
 */
export function parseKeysFile(text: string): SigningKey[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ArgumentError(`keys file: ${(e as Error).message}`);
  }
  if (!Array.isArray(doc))
    throw new ArgumentError('keys file: expected a JSON array of { id, role, secret }');
  const keys = doc.map((k: unknown, i) => {
    const o = (typeof k === 'object' && k !== null ? k : {}) as Record<string, unknown>;
    if (
      typeof o['id'] !== 'string' ||
      typeof o['secret'] !== 'string' ||
      (o['role'] !== 'ota' && o['role'] !== 'operator')
    ) {
      throw new ArgumentError(
        `keys file: entry ${i} needs a string id, a hex secret and a role of ota or operator`,
      );
    }
    return checkSigningKey({ id: o['id'], role: o['role'], secret: fromHex(o['secret']) });
  });
  if (new Set(keys.map((k) => k.id)).size !== keys.length)
    throw new ArgumentError('keys file: a key id appears twice');
  return keys;
}

/**
 * The text of a keys file holding `keys`.
 *
 * @example
 * ```ts
 * import { formatKeysFile } from './keys.js';
 * formatKeysFile([{ id: 'ota', role: 'ota', secret: new Uint8Array(32) }]);
 * ```
 */
export function formatKeysFile(keys: readonly SigningKey[]): string {
  return `${JSON.stringify(
    keys.map((k) => ({ id: k.id, role: k.role, secret: toHex(k.secret) })),
    null,
    2,
  )}\n`;
}

/**
 * Read the keys file at `path`, creating it with fresh `ota` and `operator` keys if it does not
 * exist (never overwriting one).
 *
 * @example
 * ```ts
 * import { loadOrCreateKeys } from './keys.js';
 * const keys = await loadOrCreateKeys('./simvault-data/keys.json');
 * keys.map((k) => k.id); // ['ota', 'operator']
 * ```
 */
export async function loadOrCreateKeys(path: string): Promise<SigningKey[]> {
  try {
    return parseKeysFile(await readFile(path, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const keys: SigningKey[] = [
    { id: 'ota', role: 'ota', secret: new Uint8Array(randomBytes(32)) },
    { id: 'operator', role: 'operator', secret: new Uint8Array(randomBytes(32)) },
  ];
  try {
    await writeFile(path, formatKeysFile(keys), { mode: 0o600, flag: 'wx' });
    return keys;
  } catch (e) {
    // Another process created it first: use theirs.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      return parseKeysFile(await readFile(path, 'utf8'));
    throw e;
  }
}
