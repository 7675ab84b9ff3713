/**
 * `simvault`: the shared foundation (errors and byte helpers). Each layer has its own subpath:
 * `simvault/crypto`, `simvault/protocol`.
 *
 * @module
 */
export {
  ERROR_CODES,
  SimvaultError,
  ArgumentError,
  CryptoError,
  ProtocolError,
  CardError,
  type ErrorCode,
} from './errors.js';
export {
  toHex,
  fromHex,
  concatBytes,
  equalBytes,
  utf8,
  assertBytes,
  randomBytes,
} from './bytes.js';
