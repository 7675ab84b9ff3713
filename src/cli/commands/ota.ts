/**
 * `simvault ota pack` and `simvault ota unpack`: build and open SIM secured packets (SCP80,
 * TS 31.115 / TS 102 225) from the shell.
 *
 * @module
 */
import { toHex } from '../../bytes.js';
import {
  buildCommandPacket,
  decodeSpi,
  encodeSpi,
  openCommandPacket,
  openResponsePacket,
  type KeyIndicator,
  type OtaKeyset,
  type Spi,
} from '../../protocol/secured-packet.js';
import { parseCommandArgs, UsageError, type Command } from '../command.js';
import { optional, parseHex, required } from '../options.js';

function hexOption(
  name: string,
  value: string | undefined,
  length?: number,
): Uint8Array | undefined {
  return optional(value, (v) => parseHex(v, `--${name}`, length === undefined ? {} : { length }));
}

function byteOption(name: string, value: string | undefined): number | undefined {
  return hexOption(name, value, 1)?.[0];
}

function counterOption(name: string, value: string | undefined): bigint | undefined {
  if (value === undefined) return undefined;
  if (!/^(\d+|0x[0-9a-fA-F]+)$/.test(value))
    throw new UsageError(`--${name} must be a decimal or 0x-hex integer, got '${value}'`);
  const n = BigInt(value);
  if (n >= 1n << 40n) throw new UsageError(`--${name} must be below 2^40`);
  return n;
}

function spiOption(value: string | undefined): Spi | undefined {
  const b = hexOption('spi', value, 2);
  return b ? decodeSpi(b) : undefined;
}

function keysetOf(kicKey: Uint8Array | undefined, kidKey: Uint8Array | undefined): OtaKeyset {
  return { ...(kicKey ? { kic: kicKey } : {}), ...(kidKey ? { kid: kidKey } : {}) };
}

function indicatorJson(ki: KeyIndicator) {
  return {
    hex: toHex(new Uint8Array([ki.raw])),
    keyVersion: ki.keyVersion,
    algorithm: ki.algorithm,
  };
}

function spiJson(spi: Spi) {
  return { hex: toHex(encodeSpi(spi)), ...spi };
}

const KEY_OPTIONS = {
  'kic-key': { type: 'string' },
  'kid-key': { type: 'string' },
} as const;

/** `simvault ota pack`: build a secured command packet and print it as hex. */
export const otaPackCommand: Command = {
  path: ['ota', 'pack'],
  summary: 'build a secured command packet (SCP80) and print it as hex',
  help: `Usage: simvault ota pack --spi HEX --kic HEX --kid HEX --tar HEX --counter N
                         [--kic-key HEX] [--kid-key HEX] [--cc-length 4|8] [--udh] DATA_HEX

Builds a TS 31.115 / TS 102 225 command packet around DATA_HEX and prints it from CPL to
the end as hex (with --udh, prefixed with the SMS user-data header 02 70 00).

Options:
  --spi HEX          the two SPI bytes, e.g. 1621 (counter must be higher, ciphered, CC, PoR)
  --kic HEX          KIc byte: key version (high nibble) and cipher (x2 AES, x5 3DES-2key, x9 3DES-3key)
  --kid HEX          KID byte: key version and checksum (x2 AES-CMAC, x5/x9 3DES; for RC x1 CRC16, x5 CRC32)
  --tar HEX          the 3-byte toolkit application reference
  --counter N        the counter, decimal or 0x-hex, below 2^40
  --kic-key HEX      ciphering key (needed when the SPI asks for ciphering)
  --kid-key HEX      checksum key (needed for a cryptographic checksum)
  --cc-length 4|8    AES-CMAC length (default 8; 3DES checksums are always 8)
  --udh              prefix the 02 70 00 user-data header

Example:
  simvault ota pack --spi 0619 --kic 22 --kid 22 --tar b00011 --counter 0 \\
    --kic-key 200102030405060708090a0b0c0d0e0f --kid-key 201102030405060708090a0b0c0d0e0f 00a40004023f00`,
  run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      spi: { type: 'string' },
      kic: { type: 'string' },
      kid: { type: 'string' },
      tar: { type: 'string' },
      counter: { type: 'string' },
      'cc-length': { type: 'string' },
      udh: { type: 'boolean' },
      ...KEY_OPTIONS,
    });
    if (positionals.length !== 1)
      throw new UsageError('ota pack takes exactly one DATA_HEX argument');
    const data = parseHex(positionals[0]!, 'DATA_HEX');
    const cc = values['cc-length'];
    if (cc !== undefined && cc !== '4' && cc !== '8')
      throw new UsageError('--cc-length must be 4 or 8');
    const packet = buildCommandPacket(
      {
        spi: required('--spi', spiOption(values.spi)),
        kic: required('--kic', byteOption('kic', values.kic)),
        kid: required('--kid', byteOption('kid', values.kid)),
        tar: required('--tar', hexOption('tar', values.tar, 3)),
        counter: required('--counter', counterOption('counter', values.counter)),
        data,
        ...(cc !== undefined ? { ccLength: Number(cc) as 4 | 8 } : {}),
        ...(values.udh ? { udh: true } : {}),
      },
      keysetOf(hexOption('kic-key', values['kic-key']), hexOption('kid-key', values['kid-key'])),
    );
    io.stdout.write(`${toHex(packet)}\n`);
    return Promise.resolve();
  },
};

/** `simvault ota unpack`: open a secured command or response packet and print it as JSON. */
export const otaUnpackCommand: Command = {
  path: ['ota', 'unpack'],
  summary: 'decipher and verify a secured command or response packet; print it as JSON',
  help: `Usage: simvault ota unpack [--kic-key HEX] [--kid-key HEX] [options] PACKET_HEX

Opens a secured packet: a command (from CPL, optionally with its 02 70 00 header) or a
response / proof of receipt (starting with 02 71 00). Deciphers it, verifies its checksum
and prints its fields, its status and its data as JSON. A checksum that does not verify
exits with status 1 and PROTOCOL_BAD_CHECKSUM.

A response carries no SPI, KIc or KID: give the ones of the command it answers.

Options:
  --kic-key HEX      ciphering key
  --kid-key HEX      checksum key
  --spi HEX          (response) the command's SPI
  --kic HEX          (response) the command's KIc byte
  --kid HEX          (response) the command's KID byte
  --last-counter N   (command) enforce the SPI's counter mode against this last accepted counter

Example:
  simvault ota unpack --kid-key 301102030405060708090a0b0c0d0e0f --spi 0609 --kic 35 --kid 35 \\
    027100001612b0001100000000000000b5bcd6353a421fae016132`,
  run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      spi: { type: 'string' },
      kic: { type: 'string' },
      kid: { type: 'string' },
      'last-counter': { type: 'string' },
      ...KEY_OPTIONS,
    });
    if (positionals.length !== 1)
      throw new UsageError('ota unpack takes exactly one PACKET_HEX argument');
    const bytes = parseHex(positionals[0]!, 'PACKET_HEX', { nonEmpty: true });
    const keys = keysetOf(
      hexOption('kic-key', values['kic-key']),
      hexOption('kid-key', values['kid-key']),
    );
    const isResponse =
      bytes.length >= 3 && bytes[0] === 0x02 && bytes[1] === 0x71 && bytes[2] === 0x00;
    let result: Record<string, unknown>;
    if (isResponse) {
      const por = openResponsePacket(bytes, keys, {
        spi: required('--spi (the command SPI, for a response)', spiOption(values.spi)),
        kic: required('--kic (the command KIc, for a response)', byteOption('kic', values.kic)),
        kid: required('--kid (the command KID, for a response)', byteOption('kid', values.kid)),
      });
      result = {
        kind: 'response',
        rpl: por.rpl,
        rhl: por.rhl,
        tar: toHex(por.tar),
        counter: Number(por.counter),
        paddingCount: por.paddingCount,
        status: por.status,
        statusCode: por.statusCode,
        checksum: toHex(por.checksum),
        data: toHex(por.data),
      };
    } else {
      for (const name of ['spi', 'kic', 'kid'] as const) {
        if (values[name] !== undefined)
          throw new UsageError(`--${name} only applies to a response; a command carries its own`);
      }
      const lastCounter = counterOption('last-counter', values['last-counter']);
      const p = openCommandPacket(bytes, keys, lastCounter !== undefined ? { lastCounter } : {});
      result = {
        kind: 'command',
        udh: p.udh,
        cpl: p.cpl,
        chl: p.chl,
        spi: spiJson(p.spi),
        kic: indicatorJson(p.kic),
        kid: indicatorJson(p.kid),
        tar: toHex(p.tar),
        counter: Number(p.counter),
        paddingCount: p.paddingCount,
        checksum: toHex(p.checksum),
        status: 'ok',
        data: toHex(p.data),
      };
    }
    io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return Promise.resolve();
  },
};
