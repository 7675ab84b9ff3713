/**
 * The readers both servers validate request values with: every failure is a {@link ServerError}
 * `SERVER_BAD_REQUEST` naming the field, and the SIM identities they share are read one way.
 *
 * @module
 */
import { fieldsOf, type Fields } from '../validate.js';
import { ServerError } from './errors.js';

/**
 * Field readers that fail with `SERVER_BAD_REQUEST` and the field's path.
 *
 * @example
 * ```ts
 * import { requestFields } from './request-fields.js';
 * requestFields.int(3, 'version', 1, 15); // 3
 * ```
 */
export const requestFields: Fields = fieldsOf((path, detail) => {
  throw new ServerError('SERVER_BAD_REQUEST', `${path}: ${detail}`);
});

/**
 * An ICCID: 10-20 decimal digits.
 *
 * @example
 * ```ts
 * import { parseIccid } from './request-fields.js';
 * parseIccid('89860012345678901234'); // '89860012345678901234'
 * ```
 */
export function parseIccid(value: unknown, field = 'iccid'): string {
  return requestFields.digits(value, field, 10, 20);
}

/**
 * An IMSI: 6-15 decimal digits.
 *
 * @example
 * ```ts
 * import { parseImsi } from './request-fields.js';
 * parseImsi('460001234567890'); // '460001234567890'
 * ```
 */
export function parseImsi(value: unknown, field = 'imsi'): string {
  return requestFields.digits(value, field, 6, 15);
}

/**
 * An MSISDN: 5-15 decimal digits.
 *
 * @example
 * ```ts
 * import { parseMsisdn } from './request-fields.js';
 * parseMsisdn('8613800000001'); // '8613800000001'
 * ```
 */
export function parseMsisdn(value: unknown, field = 'msisdn'): string {
  return requestFields.digits(value, field, 5, 15);
}

/**
 * A string, as it is; its own rules (length, characters) are the caller's.
 *
 * @example
 * ```ts
 * import { parseString } from './request-fields.js';
 * parseString('2.1', 'version'); // '2.1'
 * ```
 */
export function parseString(value: unknown, field: string): string {
  if (typeof value !== 'string') requestFields.fail(field, 'must be a string');
  return value;
}
