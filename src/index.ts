/**
 * `simvault`: turn a phone's memory card into encrypted storage bound to the SIM. This root entry
 * holds the shared foundation — the one error family ({@link SimvaultError} with a stable
 * {@link SimvaultError.code | code} from {@link ERROR_CODES}) and byte helpers. Each layer has
 * its own subpath:
 *
 * | import | what it holds |
 * |---|---|
 * | `simvault` | errors and byte helpers (this page) |
 * | `simvault/crypto` | key hierarchy, chunked encryption (one-shot, streaming, random access), envelopes |
 * | `simvault/protocol` | codecs: simvault messages, secured packets, SMS, CID, APDUs, SIM Toolkit |
 * | `simvault/card` | the card filesystem on a block device: zones, files, fsck, memory and fault devices |
 * | `simvault/sim` | the emulated SIM applet and secure chip, and the clients that speak their APDUs |
 * | `simvault/handset` | the orchestrator of every flow, with everything a handset vendor integrates |
 * | `simvault/node` | Node-only: card-image files, state files, the image lock, PC/SC |
 * | `simvault/server` | Node-only: the card application and OTA servers, the registry, their clients |
 *
 * `simvault/server` needs optional packages (`hono`, `@hono/node-server`, and `better-sqlite3`
 * or `pg`) only when a server starts; every other entry installs and runs without them. The
 * `simvault` command line is a Node program of the package (see the README).
 *
 * @example
 * ```ts
 * import { fromHex, SimvaultError, toHex } from 'simvault';
 * try {
 *   fromHex('abc');
 * } catch (e) {
 *   if (e instanceof SimvaultError) console.log(e.code); // 'INVALID_ARGUMENT'
 * }
 * console.log(toHex(new Uint8Array([0xca, 0xfe]))); // 'cafe'
 * ```
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
  IoError,
  type ErrorCode,
} from './errors.js';
export { toHex, fromHex, concatBytes, equalBytes, utf8, randomBytes } from './bytes.js';
