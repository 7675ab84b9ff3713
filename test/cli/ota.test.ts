import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (d: Buffer) => out.push(d));
  stderr.on('data', (d: Buffer) => err.push(d));
  stdin.end();
  const code = await runCli(args, { stdin, stdout, stderr });
  return {
    code,
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
  };
}

// pySim's SJA5 sample keysets (tests/unittests/test_ota.py).
const AES_KIC = '200102030405060708090a0b0c0d0e0f';
const AES_KID = '201102030405060708090a0b0c0d0e0f';
const TDES_KID = '301102030405060708090a0b0c0d0e0f';
const AES_PACKET =
  '00281506192222b00011e87cceebb2d93083011ce294f93fc4d8de80da1abae8c37ca3e72ec4432e5058';
const PACK_ARGS = [
  '--spi',
  '0619',
  '--kic',
  '22',
  '--kid',
  '22',
  '--tar',
  'b00011',
  '--counter',
  '0',
  '--kic-key',
  AES_KIC,
  '--kid-key',
  AES_KID,
];

describe('simvault ota pack', () => {
  it('prints the known AES packet', async () => {
    const r = await run(['ota', 'pack', ...PACK_ARGS, '00a40004023f00']);
    expect(r).toEqual({ code: 0, stdout: `${AES_PACKET}\n`, stderr: '' });
  });

  it('--udh prefixes 02 70 00; --cc-length 4 shortens the CMAC', async () => {
    expect((await run(['ota', 'pack', ...PACK_ARGS, '--udh', '00a40004023f00'])).stdout).toBe(
      `027000${AES_PACKET}\n`,
    );
    const short = await run(['ota', 'pack', ...PACK_ARGS, '--cc-length', '4', '00a40004023f00']);
    expect(short.code).toBe(0);
    expect(short.stdout.slice(4, 6)).toBe('11'); // CHL = 13 + 4
  });

  it('exits 2 on usage errors', async () => {
    expect((await run(['ota', 'pack', ...PACK_ARGS])).code).toBe(2);
    expect((await run(['ota', 'pack', ...PACK_ARGS.slice(2), '00'])).code).toBe(2); // no --spi
    expect((await run(['ota', 'pack', ...PACK_ARGS, '--tar', 'b000', '00'])).code).toBe(2);
    expect((await run(['ota', 'pack', ...PACK_ARGS, '--counter', 'ten', '00'])).code).toBe(2);
    expect((await run(['ota', 'pack', ...PACK_ARGS, '--cc-length', '6', '00'])).code).toBe(2);
    expect((await run(['ota', 'pack', ...PACK_ARGS, 'zz'])).code).toBe(2);
  });

  it('exits 1 with the error code when a key is missing or wrong', async () => {
    const r = await run(['ota', 'pack', ...PACK_ARGS.slice(0, 10), '--kid-key', AES_KID, '00']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/INVALID_ARGUMENT/);
    const bad = await run([
      'ota',
      'pack',
      ...PACK_ARGS.slice(0, 10),
      '--kic-key',
      'aabb',
      '--kid-key',
      AES_KID,
      '00',
    ]);
    expect(bad.stderr).toMatch(/CRYPTO_BAD_KEY/);
  });

  it('has help', async () => {
    const r = await run(['ota', 'pack', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: simvault ota pack/);
  });
});

describe('simvault ota unpack', () => {
  it('opens a command packet with its UDH and prints JSON', async () => {
    const r = await run([
      'ota',
      'unpack',
      '--kic-key',
      AES_KIC,
      '--kid-key',
      AES_KID,
      `027000${AES_PACKET}`,
    ]);
    expect(r.code).toBe(0);
    const j: unknown = JSON.parse(r.stdout);
    expect(j).toMatchObject({
      kind: 'command',
      udh: true,
      cpl: 40,
      chl: 21,
      spi: {
        hex: '0619',
        counter: 'none',
        ciphered: true,
        integrity: 'cc',
        porRequest: 'always',
        porCiphered: true,
      },
      kic: { hex: '22', keyVersion: 2, algorithm: 'aes' },
      kid: { hex: '22', keyVersion: 2, algorithm: 'aes' },
      tar: 'b00011',
      counter: 0,
      paddingCount: 11,
      status: 'ok',
      data: '00a40004023f00',
    });
  });

  it('opens a response with the command SPI/KIc/KID', async () => {
    const r = await run([
      'ota',
      'unpack',
      '--kid-key',
      TDES_KID,
      '--spi',
      '0609',
      '--kic',
      '35',
      '--kid',
      '35',
      '027100001612b0001100000000000000b5bcd6353a421fae016132',
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      kind: 'response',
      rpl: 22,
      rhl: 18,
      tar: 'b00011',
      counter: 0,
      paddingCount: 0,
      status: 'ok',
      statusCode: 0,
      checksum: 'b5bcd6353a421fae',
      data: '016132',
    });
  });

  it('a forged byte or a wrong key exits 1 with PROTOCOL_BAD_CHECKSUM', async () => {
    const forged = `${AES_PACKET.slice(0, -2)}59`;
    const r = await run(['ota', 'unpack', '--kic-key', AES_KIC, '--kid-key', AES_KID, forged]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/PROTOCOL_BAD_CHECKSUM/);
    const wrong = await run([
      'ota',
      'unpack',
      '--kic-key',
      AES_KIC,
      '--kid-key',
      AES_KIC,
      AES_PACKET,
    ]);
    expect(wrong.stderr).toMatch(/PROTOCOL_BAD_CHECKSUM/);
  });

  it('enforces --last-counter', async () => {
    const pack = await run([
      'ota',
      'pack',
      '--spi',
      '1201',
      '--kic',
      '00',
      '--kid',
      '12',
      '--tar',
      'b00011',
      '--counter',
      '7',
      '--kid-key',
      AES_KID,
      'aa',
    ]);
    const packet = pack.stdout.trim();
    expect(
      (await run(['ota', 'unpack', '--kid-key', AES_KID, '--last-counter', '6', packet])).code,
    ).toBe(0);
    const replay = await run([
      'ota',
      'unpack',
      '--kid-key',
      AES_KID,
      '--last-counter',
      '7',
      packet,
    ]);
    expect(replay.code).toBe(1);
    expect(replay.stderr).toMatch(/PROTOCOL_REPLAY/);
  });

  it('needs the command SPI/KIc/KID for a response, and refuses them for a command', async () => {
    expect(
      (
        await run([
          'ota',
          'unpack',
          '--kid-key',
          TDES_KID,
          '027100001612b0001100000000000000b5bcd6353a421fae016132',
        ])
      ).code,
    ).toBe(2);
    expect(
      (
        await run([
          'ota',
          'unpack',
          '--spi',
          '0619',
          '--kic-key',
          AES_KIC,
          '--kid-key',
          AES_KID,
          AES_PACKET,
        ])
      ).code,
    ).toBe(2);
    expect((await run(['ota', 'unpack'])).code).toBe(2);
  });
});
