// `npm run bench -- crypto`: streaming encrypt and decrypt for every suite × backend, each beside
// the raw AEAD throughput of the same backend on the same 16 KiB chunks measured in the same run;
// and a memory row: 1 GiB through an encrypt→decrypt stream must not grow RSS by 64 MiB.
import {
  availableBackends,
  createDecryptStream,
  createEncryptStream,
  encrypt,
  getBackend,
  SUITES,
  type BackendName,
  type SuiteName,
} from '../src/crypto/index.js';
import { CHUNK_SIZE } from '../src/crypto/chunked.js';
import type { BenchOptions, BenchRow, BenchSubject } from './row.js';

const MiB = 1024 * 1024;
// Streams are fed 1 MiB pieces, as a file reader with a 1 MiB high-water mark would; memory stays
// bounded by the piece size, not the message size.
const PIECE = MiB;

/** A source of `total` bytes in 1 MiB pieces, re-using one buffer (no allocation per piece). */
function source(total: number, fill = 0x5a): ReadableStream<Uint8Array> {
  const piece = new Uint8Array(PIECE).fill(fill);
  let left = total;
  return new ReadableStream<Uint8Array>(
    {
      pull(c) {
        if (left <= 0) {
          c.close();
          return;
        }
        const n = Math.min(PIECE, left);
        left -= n;
        c.enqueue(n === PIECE ? piece : piece.subarray(0, n));
      },
    },
    { highWaterMark: 0 },
  );
}

function sink(onChunk?: (c: Uint8Array) => void): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({ write: (c) => onChunk?.(c) });
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

const mbps = (bytes: number, seconds: number) => bytes / 1e6 / seconds;

// The baseline: the backend's AEAD alone, sealing 16 KiB chunks from one buffer, then opening
// those sealed chunks again (so decryption reads fresh memory, like the stream does).
async function rawAead(
  suite: SuiteName,
  backend: BackendName,
  total: number,
): Promise<{ seal: number; open: number }> {
  const s = SUITES[suite];
  const aead = await getBackend(backend).importKey(s.aead, new Uint8Array(s.keyLength).fill(3));
  const chunk = new Uint8Array(CHUNK_SIZE).fill(0x5a);
  const chunks = Math.ceil(total / CHUNK_SIZE);
  const nonceOf = (i: number) => {
    const n = new Uint8Array(12);
    new DataView(n.buffer).setUint32(8, i);
    return n;
  };
  const sealed: Uint8Array[] = new Array(chunks);
  const sealSecs = await timed(async () => {
    for (let i = 0; i < chunks; i++) sealed[i] = await aead.seal(nonceOf(i), chunk);
  });
  const openSecs = await timed(async () => {
    for (let i = 0; i < chunks; i++) {
      if (!(await aead.open(nonceOf(i), sealed[i]!)))
        throw new Error('baseline chunk failed to open');
    }
  });
  return { seal: mbps(chunks * CHUNK_SIZE, sealSecs), open: mbps(chunks * CHUNK_SIZE, openSecs) };
}

async function streamEncrypt(
  suite: SuiteName,
  backend: BackendName,
  total: number,
): Promise<number> {
  const key = new Uint8Array(SUITES[suite].keyLength).fill(3);
  return mbps(
    total,
    await timed(() =>
      source(total).pipeThrough(createEncryptStream(key, { suite, backend })).pipeTo(sink()),
    ),
  );
}

async function streamDecrypt(
  suite: SuiteName,
  backend: BackendName,
  total: number,
): Promise<number> {
  // The ciphertext is produced once, then replayed from memory in 1 MiB pieces so only
  // decryption is timed.
  const key = new Uint8Array(SUITES[suite].keyLength).fill(3);
  const ct = await encrypt(key, new Uint8Array(total).fill(0x5a), { suite, backend });
  let off = 0;
  const replay = new ReadableStream<Uint8Array>(
    {
      pull(c) {
        if (off >= ct.length) {
          c.close();
          return;
        }
        c.enqueue(ct.subarray(off, off + PIECE));
        off += PIECE;
      },
    },
    { highWaterMark: 0 },
  );
  return mbps(
    total,
    await timed(() =>
      replay.pipeThrough(createDecryptStream(key, { suite, backend })).pipeTo(sink()),
    ),
  );
}

async function memoryRow(total: number, log: (l: string) => void): Promise<BenchRow> {
  const key = new Uint8Array(32).fill(3);
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  let seen = 0;
  await source(total)
    .pipeThrough(createEncryptStream(key))
    .pipeThrough(createDecryptStream(key))
    .pipeTo(
      sink((c) => {
        seen += c.length;
        if ((seen & (64 * MiB - 1)) < c.length) peak = Math.max(peak, process.memoryUsage().rss);
      }),
    );
  peak = Math.max(peak, process.memoryUsage().rss);
  if (seen !== total) throw new Error(`memory run lost bytes: ${seen} of ${total}`);
  const growth = (peak - before) / MiB;
  log(`memory: ${total / MiB} MiB streamed, RSS growth ${growth.toFixed(1)} MiB`);
  return {
    name: 'stream-memory',
    suite: 'cobblestone-256',
    backend: getBackend('auto', 'AEAD_AES_256_GCM').name,
    streamedMiB: total / MiB,
    rssGrowthMiB: Number(growth.toFixed(1)),
    limitMiB: 64,
    ratio: Number((growth / 64).toFixed(3)),
    ok: growth < 64,
  };
}

const subject: BenchSubject = {
  name: 'crypto',
  async run(options: BenchOptions) {
    const quick = options.flags.has('quick');
    const total = options.size ?? (quick ? 32 * MiB : 256 * MiB);
    const rows: BenchRow[] = [];
    for (const suite of Object.keys(SUITES) as SuiteName[]) {
      for (const backend of availableBackends()) {
        if (!getBackend(backend).supports(SUITES[suite].aead)) continue;
        for (const op of ['encrypt', 'decrypt'] as const) {
          // Baseline before and after, averaged, so drift (GC, other load) hits both sides.
          const pick = (r: { seal: number; open: number }) => (op === 'encrypt' ? r.seal : r.open);
          const b1 = pick(await rawAead(suite, backend, total));
          const m =
            op === 'encrypt'
              ? await streamEncrypt(suite, backend, total)
              : await streamDecrypt(suite, backend, total);
          const b2 = pick(await rawAead(suite, backend, total));
          const baseline = (b1 + b2) / 2;
          const row: BenchRow = {
            name: `stream-${op}`,
            suite,
            backend,
            mbps: Number(m.toFixed(1)),
            baselineMbps: Number(baseline.toFixed(1)),
            ratio: Number((m / baseline).toFixed(3)),
          };
          options.log(
            `${row.name} ${suite} ${backend}: ${row.mbps} MB/s vs raw ${row.baselineMbps} (${row.ratio})`,
          );
          rows.push(row);
        }
      }
    }
    rows.push(await memoryRow(quick ? 256 * MiB : 1024 * MiB, options.log));
    return rows;
  },
};

export default subject;
