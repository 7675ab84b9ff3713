/**
 * Small named guards for every value that enters the card application server: CIDs, AIDs, SIM
 * identities, lifecycle values, application definitions. Each returns the value in its canonical
 * form (lower-case hex, trimmed text) or throws a {@link ServerError} `SERVER_BAD_REQUEST` naming
 * the field.
 *
 * @module
 */
import { fromHex, toHex } from '../../bytes.js';
import { ProtocolError } from '../../errors.js';
import { isRecord } from '../../validate.js';
import { cidIdentity, decodeCid } from '../../protocol/cid.js';
import {
  encodeMessage,
  ZONE_CODES,
  type CustomizedApplication,
  type Zone,
} from '../../protocol/messages.js';
import { parseIccid, parseImsi, parseString, requestFields } from '../request-fields.js';
import {
  LIFECYCLE_STATES,
  type ApplicationRecord,
  type LifecycleState,
  type SimIdentity,
} from '../store/store.js';

function bad(field: string, detail: string): never {
  return requestFields.fail(field, detail);
}
const text = parseString;

/**
 * The registry key of a CID register read from a card: its identity (bytes 0-14) as 30
 * lower-case hex digits. The register must decode (valid CRC, or `00` where a host stripped it).
 *
 * @example
 * ```ts
 * import { fromHex } from '../../bytes.js';
 * import { parseCidRegister } from './validate.js';
 * parseCidRegister(fromHex('035344535530314780401c751300637d')); // '035344535530314780401c75130063'
 * ```
 */
export function parseCidRegister(bytes: Uint8Array, field = 'cid'): string {
  try {
    return toHex(cidIdentity(decodeCid(bytes)));
  } catch (e) {
    if (e instanceof ProtocolError) bad(field, e.message);
    throw e;
  }
}

/**
 * The registry key of a CID given as text: the 32 hex digits of the register (as sysfs shows it)
 * or the 30 of its identity.
 *
 * @example
 * ```ts
 * import { parseCidKey } from './validate.js';
 * parseCidKey('035344535530314780401C751300637D'); // '035344535530314780401c75130063'
 * parseCidKey('035344535530314780401c75130063'); // the same
 * ```
 */
export function parseCidKey(value: unknown, field = 'cid'): string {
  const hex = text(value, field).trim();
  if (!/^([0-9a-fA-F]{30}|[0-9a-fA-F]{32})$/.test(hex))
    bad(field, 'must be 32 hex digits (the CID register) or 30 (its identity)');
  return parseCidRegister(fromHex(hex.length === 30 ? `${hex}00` : hex), field);
}

/**
 * An AID given as hex (5-16 bytes), in lower case.
 *
 * @example
 * ```ts
 * import { parseAid } from './validate.js';
 * parseAid('A0000000871001'); // 'a0000000871001'
 * ```
 */
export function parseAid(value: unknown, field = 'aid'): string {
  const hex = text(value, field).trim();
  if (!/^([0-9a-fA-F]{2}){5,16}$/.test(hex)) bad(field, 'must be 5-16 bytes of hex');
  return hex.toLowerCase();
}

const LABEL = /^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,63}$/u;

/**
 * A short label (subscriber brand, lifecycle stage): 1-64 letters, digits, spaces, `.`, `_`, `-`,
 * starting with a letter or digit.
 *
 * @example
 * ```ts
 * import { parseLabel } from './validate.js';
 * parseLabel('GoTone', 'brand'); // 'GoTone'
 * ```
 */
export function parseLabel(value: unknown, field: string): string {
  const v = text(value, field);
  if (!LABEL.test(v))
    bad(field, 'must be 1-64 letters, digits, spaces, dots, underscores or dashes');
  return v;
}

/**
 * An offer name: 1-64 of `A-Z a-z 0-9 . _ -`.
 *
 * @example
 * ```ts
 * import { parseOfferName } from './validate.js';
 * parseOfferName('basic-2024'); // 'basic-2024'
 * ```
 */
export function parseOfferName(value: unknown, field = 'offer'): string {
  const v = text(value, field);
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(v)) bad(field, 'must be 1-64 of A-Z a-z 0-9 . _ -');
  return v;
}

/**
 * A lifecycle state name.
 *
 * @example
 * ```ts
 * import { parseLifecycleState } from './validate.js';
 * parseLifecycleState('blocked'); // 'blocked'
 * ```
 */
export function parseLifecycleState(value: unknown, field = 'state'): LifecycleState {
  const v = text(value, field);
  return requestFields.oneOf(v, field, LIFECYCLE_STATES);
}

/**
 * The SIM identity of a request: ICCID, and the optional IMSI and brand.
 *
 * @example
 * ```ts
 * import { parseSimIdentity } from './validate.js';
 * parseSimIdentity({ iccid: '89860012345678901234', brand: 'GoTone' });
 * ```
 */
export function parseSimIdentity(value: {
  iccid: unknown;
  imsi?: unknown;
  brand?: unknown;
}): SimIdentity {
  return {
    iccid: parseIccid(value.iccid),
    ...(value.imsi !== undefined ? { imsi: parseImsi(value.imsi) } : {}),
    ...(value.brand !== undefined ? { brand: parseLabel(value.brand, 'brand') } : {}),
  };
}

function sizeOf(value: unknown, field: string): number {
  return requestFields.int(value, field, 0, Number.MAX_SAFE_INTEGER);
}

/**
 * An application definition given as JSON: an object with `aid`, `name`, `zone`, `size`,
 * `version` and an optional `resource` (`url`, `digest`, `size`). Everything the bind response will carry is checked by the message encoder
 * itself, so a defined application can always be sent.
 *
 * @example
 * ```ts
 * import { parseApplication } from './validate.js';
 * parseApplication({
 *   aid: 'a0000000871001', name: 'TV', zone: 'multimedia', size: 2097152, version: '2.1',
 *   resource: { url: 'https://ota.example/tv.bin', digest: 'ab'.repeat(32), size: 2097152 },
 * });
 * ```
 */
export function parseApplication(value: unknown): ApplicationRecord {
  if (!isRecord(value)) bad('application', 'must be a JSON object');
  const zone = text(value['zone'], 'zone');
  if (!Object.hasOwn(ZONE_CODES, zone))
    bad('zone', `must be one of ${Object.keys(ZONE_CODES).join(', ')}`);
  const r = value['resource'];
  let resource: ApplicationRecord['resource'] = null;
  if (r !== undefined && r !== null) {
    if (!isRecord(r)) bad('resource', 'must be a JSON object');
    const digest = text(r['digest'], 'resource.digest');
    if (!/^[0-9a-fA-F]{64}$/.test(digest))
      bad('resource.digest', 'must be 64 hex digits (SHA-256)');
    resource = {
      url: text(r['url'], 'resource.url'),
      digest: digest.toLowerCase(),
      size: sizeOf(r['size'], 'resource.size'),
    };
  }
  const app: ApplicationRecord = {
    aid: parseAid(value['aid']),
    name: text(value['name'], 'name'),
    zone: zone as Zone,
    size: sizeOf(value['size'], 'size'),
    version: text(value['version'], 'version'),
    resource,
  };
  try {
    encodeMessage({
      type: 'bindResponse',
      transactionId: 0,
      cid: new Uint8Array(16),
      result: 'ok',
      applications: [toCustomized(app)],
    });
  } catch (e) {
    if (e instanceof ProtocolError)
      bad(e.field.replace(/^applications\[0\]\.?/, '') || 'application', e.message);
    throw e;
  }
  return app;
}

/**
 * An application record as the bind response carries it.
 *
 * @example
 * ```ts
 * import { toCustomized } from './validate.js';
 * toCustomized({ aid: 'a000000087', name: 'Ads', zone: 'advertising', size: 1, version: '1', resource: null }).aid.length; // 5
 * ```
 */
export function toCustomized(app: ApplicationRecord): CustomizedApplication {
  return {
    aid: fromHex(app.aid),
    name: app.name,
    zone: app.zone,
    size: app.size,
    version: app.version,
    ...(app.resource
      ? {
          resource: {
            url: app.resource.url,
            digest: fromHex(app.resource.digest),
            size: app.resource.size,
          },
        }
      : {}),
  };
}
