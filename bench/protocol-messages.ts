// Encode+decode throughput of the simvault messages, one row per message kind, against
// JSON.stringify+JSON.parse of the same message in its JSON-safe form (messageToJSON: bytes as
// hex), measured in the same run. `ratio` = codec ops / JSON ops; above 1 the codec is faster.
import { fromHex, utf8 } from '../src/bytes.js';
import {
  decodeMessage,
  encodeMessage,
  messageToJSON,
  type MessageType,
  type SimvaultMessage,
} from '../src/protocol/messages.js';
import { opsPerSecond, type BenchOptions, type BenchRow } from './row.js';

const cid = fromHex('035344534331364780a1b2c3d4014adf');
const aid = fromHex('a0000000871001');
const digest = fromHex('bf7dace540626145dc438a10293b1b9f3fe4af853b7a3477b1cf6d75b5abd034');
const resource = { url: 'https://ota.example.cn/tv/2.1.bin', digest, size: 2_097_152 };

/** One realistic message per kind, the same as the examples in docs/protocol.md. */
const SAMPLES: { [K in MessageType]: Extract<SimvaultMessage, { type: K }> } = {
  bindRequest: {
    type: 'bindRequest',
    transactionId: 0x101,
    cid,
    iccid: '89860012345678901234',
    imsi: '460001234567890',
  },
  bindResponse: {
    type: 'bindResponse',
    transactionId: 0x101,
    cid,
    result: 'ok',
    applications: [
      { aid, name: '手机电视', zone: 'multimedia', size: 2_621_440, version: '2.1', resource },
      {
        aid: fromHex('a000000087300001'),
        name: 'Offers',
        zone: 'advertising',
        size: 40_960,
        version: '1.0',
      },
    ],
  },
  unbindRequest: { type: 'unbindRequest', transactionId: 0x103, cid },
  unbindResponse: { type: 'unbindResponse', transactionId: 0x103, cid, result: 'ok' },
  launchRequest: { type: 'launchRequest', transactionId: 0x104, cid, aid, input: utf8('ch=5') },
  downloadResourceInfo: {
    type: 'downloadResourceInfo',
    transactionId: 0x104,
    cid,
    aid,
    zone: 'multimedia',
    resource,
  },
  launchComplete: {
    type: 'launchComplete',
    transactionId: 0x104,
    cid,
    aid,
    size: 2_097_152,
    digest,
  },
  downloadComplete: { type: 'downloadComplete', transactionId: 0x104, cid, result: 'ok', aid },
  deleteRequest: { type: 'deleteRequest', transactionId: 0x105, aid: fromHex('a000000087200002') },
  deleteCommand: {
    type: 'deleteCommand',
    transactionId: 0x105,
    cid,
    aid: fromHex('a000000087200002'),
  },
  stkListUpdate: {
    type: 'stkListUpdate',
    transactionId: 0x106,
    listVersion: 42,
    cards: [
      {
        cid,
        applications: [
          { aid, name: '手机电视', zone: 'multimedia', state: 'active' },
          { aid: fromHex('a000000087200002'), name: 'Games', zone: 'user', state: 'masked' },
        ],
      },
    ],
  },
};

/**
 * One row per message kind: encoded size, codec encode+decode per second, JSON
 * stringify+parse per second, and their ratio. `--quick` measures 0.2 s per figure instead of 1 s.
 */
export async function benchMessages(opts: BenchOptions): Promise<BenchRow[]> {
  const seconds = opts.flags.has('quick') ? 0.2 : 1;
  const rows: BenchRow[] = [];
  let sink = 0;
  for (const msg of Object.values(SAMPLES) as SimvaultMessage[]) {
    const bytes = encodeMessage(msg);
    const json = messageToJSON(msg);
    const codecOps = await opsPerSecond(() => {
      sink ^= decodeMessage(encodeMessage(msg)).transactionId;
    }, seconds);
    const jsonOps = await opsPerSecond(() => {
      sink ^= (JSON.parse(JSON.stringify(json)) as { transactionId: number }).transactionId;
    }, seconds);
    opts.log(
      `message ${msg.type}: ${Math.round(codecOps)} codec ops/s, ${Math.round(jsonOps)} JSON ops/s`,
    );
    rows.push({
      name: `message ${msg.type}`,
      bytes: bytes.length,
      jsonBytes: JSON.stringify(json).length,
      opsPerSecond: Math.round(codecOps),
      jsonOpsPerSecond: Math.round(jsonOps),
      ratio: codecOps / jsonOps,
    });
  }
  // Keeps the work observable so nothing is optimized away.
  if (sink === -1) opts.log('unreachable');
  return rows;
}
