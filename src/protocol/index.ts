/**
 * `simvault/protocol`: pure codecs for the CID register, APDUs and TLVs, SIM Toolkit commands,
 * SMS TPDUs, secured packets (SCP80) and the simvault messages. Bytes in, typed values out; bad
 * bytes get a {@link ProtocolError}. Portable: no `node:` imports.
 *
 * @module
 */
export { ProtocolError } from '../errors.js';
export { ByteReader, ByteWriter } from './reader.js';
