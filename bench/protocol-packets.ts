// Secure + verify throughput of SCP80 secured packets (build a ciphered, checksummed command
// packet, then open it: decipher, verify, check padding), one row per keyset algorithm. The
// baseline, measured in the same run on the same bytes, is the bare primitive work the packet
// needs: CBC-encrypt + MAC, then CBC-decrypt + MAC, with no framing. For AES that is
// @noble/ciphers' AES-CBC and AES-CMAC; the 3DES row also has its own 3DES baseline.
// `ratio` = packet ops / AES-CBC+CMAC baseline ops; `ratioToOwnBaseline` compares with the same
// algorithm's primitives, so it isolates the cost of the packet codec itself.
import { cbc, cmac } from '@noble/ciphers/aes.js';
import { tdesCbcMac } from '../src/protocol/checksums.js';
import { tdesCbcDecrypt, tdesCbcEncrypt } from '../src/protocol/des.js';
import {
  buildCommandPacket,
  decodeSpi,
  openCommandPacket,
} from '../src/protocol/secured-packet.js';
import { opsPerSecond, type BenchOptions, type BenchRow } from './row.js';

const DATA = new Uint8Array(100).map((_, i) => (i * 37) & 0xff); // a typical single-SMS payload
const TAR = new Uint8Array([0xb0, 0x00, 0x11]);
const SPI = decodeSpi(new Uint8Array([0x16, 0x21])); // counter must be higher, ciphered, CC, PoR via SUBMIT

const KEYSETS = [
  {
    name: 'aes-128',
    kic: 0x12,
    kid: 0x12,
    keys: { kic: new Uint8Array(16).fill(0x11), kid: new Uint8Array(16).fill(0x22) },
    block: 16,
  },
  {
    name: '3des-2key',
    kic: 0x15,
    kid: 0x15,
    keys: { kic: new Uint8Array(16).fill(0x13), kid: new Uint8Array(16).fill(0x24) },
    block: 8,
  },
] as const;

/** The plaintext the packet ciphers and MACs (CNTR..data plus padding), to give the baselines the same bytes. */
function plainLength(block: number): number {
  const n = 6 + 8 + DATA.length;
  return Math.ceil(n / block) * block;
}

/**
 * One row per keyset algorithm: packet size, packets secured + verified per second, the AES
 * primitive baseline (and, for 3DES, its own) per second, and the ratios. `--quick` measures 0.2 s
 * per figure instead of 1 s.
 */
export async function benchPackets(opts: BenchOptions): Promise<BenchRow[]> {
  const seconds = opts.flags.has('quick') ? 0.2 : 1;
  let sink = 0;

  const aesKey = KEYSETS[0].keys;
  const aesPlain = new Uint8Array(plainLength(16)).fill(0x5a);
  const zero16 = new Uint8Array(16);
  const aesBaseline = await opsPerSecond(() => {
    const mac = cmac(aesPlain, aesKey.kid);
    const ct = cbc(aesKey.kic, zero16, { disablePadding: true }).encrypt(aesPlain);
    const pt = cbc(aesKey.kic, zero16, { disablePadding: true }).decrypt(ct);
    sink ^= mac[0]! ^ cmac(pt, aesKey.kid)[0]!;
  }, seconds);
  opts.log(`baseline AES-CBC+CMAC: ${Math.round(aesBaseline)} ops/s`);

  const rows: BenchRow[] = [];
  for (const ks of KEYSETS) {
    const params = { spi: SPI, kic: ks.kic, kid: ks.kid, tar: TAR, data: DATA };
    let counter = 1n;
    const packetBytes = buildCommandPacket({ ...params, counter }, ks.keys).length;
    const packetOps = await opsPerSecond(() => {
      const packet = buildCommandPacket({ ...params, counter: counter++ }, ks.keys);
      sink ^= Number(
        openCommandPacket(packet, ks.keys, { lastCounter: counter - 2n }).counter & 0xffn,
      );
    }, seconds);

    let ownBaseline = aesBaseline;
    if (ks.block === 8) {
      const plain = new Uint8Array(plainLength(8)).fill(0x5a);
      ownBaseline = await opsPerSecond(() => {
        const mac = tdesCbcMac(ks.keys.kid, plain);
        const pt = tdesCbcDecrypt(ks.keys.kic, tdesCbcEncrypt(ks.keys.kic, plain));
        sink ^= mac[0]! ^ tdesCbcMac(ks.keys.kid, pt)[0]!;
      }, seconds);
      opts.log(`baseline 3DES-CBC+CBC-MAC: ${Math.round(ownBaseline)} ops/s`);
    }
    opts.log(`packet ${ks.name}: ${Math.round(packetOps)} secure+verify ops/s`);
    rows.push({
      name: `secured packet ${ks.name} secure+verify`,
      bytes: packetBytes,
      opsPerSecond: Math.round(packetOps),
      baselineOpsPerSecond: Math.round(aesBaseline),
      ratio: packetOps / aesBaseline,
      ownBaselineOpsPerSecond: Math.round(ownBaseline),
      ratioToOwnBaseline: packetOps / ownBaseline,
    });
  }
  // Keeps the work observable so nothing is optimized away.
  if (sink === -1) opts.log('unreachable');
  return rows;
}
