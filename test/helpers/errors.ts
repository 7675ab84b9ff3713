// The stable code of the SimvaultError a call or promise ends with (undefined when it succeeds);
// anything else thrown fails the test.
import { expect } from 'vitest';
import { SimvaultError, type ErrorCode } from '../../src/errors.js';

export async function errorCodeOf(
  p: Promise<unknown> | (() => unknown),
): Promise<ErrorCode | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(SimvaultError);
    return (e as SimvaultError).code;
  }
}
