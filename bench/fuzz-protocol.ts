// Long seeded fuzzing of the protocol decoders, beyond the 20k iterations of the unit tests:
//
//   npx tsx bench/fuzz-protocol.ts [--iterations N] [--seed S] [--only name,name] [--max-len L]
//
// Each target gets N inputs (default 1,000,000): half random byte strings, half mutations of
// valid seeds (bit flips, truncation, insertion, duplication; see test/protocol/fuzz-util.ts).
// The only acceptable failure is a SimvaultError; anything else — a TypeError, a RangeError, a
// failed self-check — stops the run with the input in hex, the iteration and the seed, and the
// exit status is 1. The same seed replays the same inputs.
//
// Adding a decoder is one entry in TARGETS: a name and a `load` returning the decode function and
// a few valid inputs to mutate.
import { readFileSync } from 'node:fs';
import { fromHex, toHex } from '../src/bytes.js';
import { fuzzDecoder } from '../test/protocol/fuzz-util.js';

interface Loaded {
  decode: (bytes: Uint8Array) => unknown;
  seeds: Uint8Array[];
}

interface FuzzTarget {
  name: string;
  load(): Promise<Loaded>;
}

const hexSeeds = (...hex: string[]) => hex.map((h) => fromHex(h));
/** An SMS-DELIVER for SMS-PP data download (TP-PID 7F, TP-DCS F6), as carried in an envelope. */
const SMS_DELIVER = '0408D0E5759A0E7FF6907090307513000824010101BB400101';

/** The hex examples of docs/protocol.md (comments stripped), valid and rejected alike. */
function docMessageSeeds(): Uint8Array[] {
  const text = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8');
  return [...text.matchAll(/```hex[^\n]*\n([\s\S]*?)```/g)].map((m) =>
    fromHex(
      m[1]!
        .split('\n')
        .map((line) => line.replace(/#.*$/, ''))
        .join(''),
    ),
  );
}

const TARGETS: FuzzTarget[] = [
  {
    name: 'messages',
    async load() {
      const { decodeMessage, encodeMessage, messageToJSON } =
        await import('../src/protocol/messages.js');
      return {
        // Whatever is accepted must survive re-encoding unchanged (unknown optional fields aside).
        decode(bytes) {
          const m = decodeMessage(bytes);
          const again = decodeMessage(encodeMessage(m));
          if (JSON.stringify(messageToJSON(again)) !== JSON.stringify(messageToJSON(m))) {
            throw new Error(`re-encoding changed the message ${toHex(bytes)}`);
          }
          return m;
        },
        seeds: docMessageSeeds(),
      };
    },
  },
  {
    name: 'cid',
    async load() {
      const { decodeCid } = await import('../src/protocol/cid.js');
      return {
        decode: decodeCid,
        seeds: hexSeeds(
          '035344535530314780401c751300637d',
          '035344534331364780a1b2c3d4014adf',
          '035344534331364780a1b2c3d4014a00',
        ),
      };
    },
  },
  {
    name: 'command APDU',
    async load() {
      const { decodeCommandApdu } = await import('../src/protocol/apdu.js');
      return {
        decode: decodeCommandApdu,
        seeds: hexSeeds(
          '80c2000009d30782020181900102',
          '801400000f8103012400820282818301009001 02',
          '80120000 10',
          '00a40004 02 3f00',
          '80e40000074f05a000000087',
          '80e2000000 0100 aa 0000',
        ),
      };
    },
  },
  {
    name: 'response APDU',
    async load() {
      const { decodeResponseApdu } = await import('../src/protocol/apdu.js');
      return {
        decode: decodeResponseApdu,
        seeds: hexSeeds('9000', '910f', 'd00b810301250082028182 9000', '6a82'),
      };
    },
  },
  {
    name: 'BER-TLV list',
    async load() {
      const { decodeBerTlvList } = await import('../src/protocol/ber-tlv.js');
      return {
        decode: decodeBerTlvList,
        seeds: hexSeeds(
          'd30782020181900102',
          '4f01aa5001bb',
          '9f2701aa',
          'd181c8' + '00'.repeat(200),
        ),
      };
    },
  },
  {
    name: 'COMPREHENSION-TLV list',
    async load() {
      const { decodeComprehensionTlvList } = await import('../src/protocol/comprehension-tlv.js');
      return {
        decode: (b) => decodeComprehensionTlvList(b),
        seeds: hexSeeds('810301240082028281830100900102', '820201819001 02', '7f0001 02 aabb'),
      };
    },
  },
  {
    name: 'secured packet structure',
    async load() {
      const { decodeSecuredPacketStructure } = await import('../src/protocol/secured-packet.js');
      return {
        decode: decodeSecuredPacketStructure,
        seeds: hexSeeds(
          '00180d04193535b00000e3ec80a849b554421276af3883927c20',
          '027000' + '00180d04193535b00000e3ec80a849b554421276af3883927c20',
          '027100' + '000ea0b00000' + '0000000001' + '0000' + 'aabbccdd',
        ),
      };
    },
  },
  {
    name: 'SMS TPDU',
    async load() {
      const { decodeSmsTpdu } = await import('../src/protocol/sms.js');
      return {
        decode: decodeSmsTpdu,
        seeds: hexSeeds(SMS_DELIVER, '0100' + '0a81' + '2143658709' + '7ff6' + '05' + 'c8329bfd06'),
      };
    },
  },
  {
    name: 'proactive command',
    async load() {
      const { decodeProactiveCommand } = await import('../src/protocol/toolkit.js');
      return {
        decode: decodeProactiveCommand,
        seeds: hexSeeds(
          'd0168103012500820281828504436172648f050142696e64',
          'd00d8103012180820281028d020448',
          'd009810301010182028182',
        ),
      };
    },
  },
  {
    name: 'envelope',
    async load() {
      const { decodeEnvelope } = await import('../src/protocol/toolkit-envelope.js');
      return {
        decode: decodeEnvelope,
        seeds: hexSeeds('d30782020181900102', 'd11f820283818b19' + SMS_DELIVER),
      };
    },
  },
  {
    name: 'terminal response',
    async load() {
      const { decodeTerminalResponse } = await import('../src/protocol/toolkit-terminal.js');
      return {
        decode: decodeTerminalResponse,
        seeds: hexSeeds('810301240082028281830100900102', '8103012500820282818301 00'),
      };
    },
  },
];

function usage(message?: string): never {
  if (message) process.stderr.write(`fuzz-protocol: ${message}\n`);
  process.stderr.write(
    `Usage: npx tsx bench/fuzz-protocol.ts [--iterations N] [--seed S] [--only ${TARGETS.map((t) => `'${t.name}'`).join(',')}] [--max-len L]\n`,
  );
  process.exit(2);
}

function intArg(value: string | undefined, name: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) usage(`${name} needs a positive integer`);
  return n;
}

const argv = process.argv.slice(2);
let iterations = 1_000_000;
let seed = 1;
let maxLen = 300;
let only: Set<string> | undefined;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  if (a === '--iterations') iterations = intArg(argv[++i], a);
  else if (a === '--seed') seed = intArg(argv[++i], a);
  else if (a === '--max-len') maxLen = intArg(argv[++i], a);
  else if (a === '--only') only = new Set((argv[++i] ?? '').split(',').map((s) => s.trim()));
  else if (a === '--help' || a === '-h') usage();
  else usage(`unknown argument ${a}`);
}
if (only)
  for (const name of only)
    if (!TARGETS.some((t) => t.name === name)) usage(`unknown target ${name}`);

// Chunks keep progress visible; chunk k uses seed + k, so a run is reproducible from its seed.
const CHUNK = 100_000;
let failed = false;
const started = performance.now();
process.stdout.write(
  `target                      iterations   accepted   rejected   seconds   inputs/s\n`,
);
for (const target of TARGETS) {
  if (only && !only.has(target.name)) continue;
  let loaded: Loaded;
  try {
    loaded = await target.load();
  } catch (e) {
    process.stderr.write(`${target.name}: cannot load (${(e as Error).message}); skipped\n`);
    failed = true;
    continue;
  }
  let accepted = 0;
  let rejected = 0;
  const t0 = performance.now();
  try {
    for (let done = 0, k = 0; done < iterations; done += CHUNK, k++) {
      const n = Math.min(CHUNK, iterations - done);
      const r = fuzzDecoder(loaded.decode, loaded.seeds, { iterations: n, seed: seed + k, maxLen });
      accepted += r.accepted;
      rejected += r.rejected;
      if (process.stderr.isTTY) process.stderr.write(`\r${target.name}: ${done + n}/${iterations}`);
    }
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  } catch (e) {
    process.stderr.write(`\n${target.name}: FAILED: ${(e as Error).message}\n`);
    failed = true;
    continue;
  }
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(
    `${target.name.padEnd(26)}  ${String(iterations).padStart(10)} ${String(accepted).padStart(10)} ${String(rejected).padStart(10)} ${seconds
      .toFixed(1)
      .padStart(9)} ${Math.round(iterations / seconds)
      .toString()
      .padStart(10)}\n`,
  );
}
process.stdout.write(
  `total ${((performance.now() - started) / 1000).toFixed(1)} s, seed ${seed}${failed ? ', FAILED' : ''}\n`,
);
process.exit(failed ? 1 : 0);
