// `npm run bench -- crypto`: streaming encrypt and decrypt for every suite × backend, through
// the WHATWG streams (`stream-*` rows) and the async-iterable adapters (`iterable-*` rows), each
// as a ratio to the raw AEAD of the same backend doing the same work: the same message key and
// chunk nonces, the same 16 KiB chunks cut from the same 1 MiB input pieces, output dropped at
// once, a synchronous backend called without an await. The three sides take turns going first
// in each round so drift and other load hit all of them; a row reports the median of the
// per-round ratios, on wall time (`ratio`, the target) and on this process's CPU time
// (`cpuRatio`, steadier on a shared machine). A stream decrypt row also reports `ceiling`: the
// best ratio a stream that passes on one buffer per chunk could reach here, raw / (raw + the
// same pipeline passing ready-made buffers), measured in each round. A memory row: 1 GiB
// through an encrypt→decrypt stream must not grow RSS by 64 MiB.
import {
  availableBackends,
  createDecryptStream,
  createEncryptStream,
  decryptIterable,
  encrypt,
  encryptIterable,
  getBackend,
  SUITES,
  type AeadKey,
  type BackendName,
  type SuiteName,
} from '../src/crypto/index.js';
import { CHUNK_SIZE, chunkNonce, deriveMessageKeys, HEADER_LENGTH } from '../src/crypto/chunked.js';
import type { BenchOptions, BenchRow, BenchSubject } from './row.js';

const MiB = 1024 * 1024;
// Streams are fed 1 MiB pieces, as a file reader with a 1 MiB high-water mark would; memory stays
// bounded by the piece size, not the message size.
const PIECE = MiB;
const SEALED_CHUNK = CHUNK_SIZE + 16;
const TARGET = 0.9;
// Rounds long enough that each side pays for its own garbage: node's AEAD allocates its output per
// chunk, and in 8 MiB rounds the raw side's garbage was collected during the stream's round (raw
// measured 1,200–1,370 MB/s in 8 MiB rounds, 770–810 MB/s in 64 MiB rounds, on the same machine).
const ROUND = 64 * MiB;
// The raw side keys its AEAD from this salt; the encrypting stream draws its own (same cost).
const SALT = new Uint8Array(24).fill(0x24);

/** A source of `total` bytes in 1 MiB pieces of `bytes` (replayed from the start if shorter). */
function source(bytes: Uint8Array, total: number): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(c) {
        if (off >= total) {
          c.close();
          return;
        }
        const n = Math.min(PIECE, total - off);
        const at = bytes.length >= total ? off : 0;
        c.enqueue(bytes.subarray(at, at + n));
        off += n;
      },
    },
    { highWaterMark: 0 },
  );
}

/** The same pieces as {@link source}, as an async iterable (what a Node file stream gives). */
async function* sourcePieces(bytes: Uint8Array, total: number): AsyncGenerator<Uint8Array> {
  function* cut() {
    for (let off = 0; off < total; off += PIECE) {
      const at = bytes.length >= total ? off : 0;
      yield bytes.subarray(at, at + Math.min(PIECE, total - off));
    }
  }
  // Each piece is awaited, as a reader's would be.
  for (const piece of cut()) yield await Promise.resolve(piece);
}

/** Iterate to the end, dropping what comes out. */
async function drop(it: AsyncIterable<Uint8Array>): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  for await (const _ of it);
}

function sink(onChunk?: (c: Uint8Array) => void): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({ write: (c) => onChunk?.(c) });
}

interface Sample {
  wall: number;
  cpu: number;
}

async function sample(fn: () => Promise<void>): Promise<Sample> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1e6 };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const round = (n: number, d = 1) => Number(n.toFixed(d));

/** One row's work: the stream, and the raw AEAD doing what the stream does, each over `bytes`. */
interface Pair {
  stream: () => Promise<void>;
  /** The same work through the async-iterable adapter. */
  iterable: () => Promise<void>;
  raw: () => Promise<void>;
  /**
   * The stream machinery alone: the same source, a transform that passes on as many buffers as
   * the real stream emits (ready-made, nothing decrypted), the same sink. Its time bounds the
   * ratio any stream emitting that many buffers can reach: raw / (raw + passThrough).
   */
  passThrough?: () => Promise<void>;
}

/** A stream of `bytes` in 1 MiB pieces whose transform emits one ready-made buffer per chunk. */
function passThroughPerChunk(bytes: number): () => Promise<void> {
  const out = new Uint8Array(CHUNK_SIZE);
  return () =>
    source(new Uint8Array(PIECE), bytes)
      .pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(piece, controller) {
            for (let off = 0; off < piece.length; off += SEALED_CHUNK) controller.enqueue(out);
          },
        }),
      )
      .pipeTo(sink());
}

async function encryptPair(suite: SuiteName, backend: BackendName, bytes: number): Promise<Pair> {
  const s = SUITES[suite];
  const key = new Uint8Array(s.keyLength).fill(3);
  const plain = new Uint8Array(PIECE).fill(0x5a);
  const { key: messageKey, baseNonce } = deriveMessageKeys(suite, key, SALT);
  const aead: AeadKey = await getBackend(backend).importKey(s.aead, messageKey);
  return {
    stream: () =>
      source(plain, bytes).pipeThrough(createEncryptStream(key, { suite, backend })).pipeTo(sink()),
    iterable: () => drop(encryptIterable(key, sourcePieces(plain, bytes), { suite, backend })),
    async raw() {
      let index = 0;
      for (let off = 0; off < bytes; off += PIECE) {
        for (let c = 0; c < PIECE; c += CHUNK_SIZE) {
          const r = aead.seal(chunkNonce(baseNonce, index++), plain.subarray(c, c + CHUNK_SIZE));
          if (r instanceof Promise) await r;
        }
      }
      // The stream's short final chunk.
      const last = aead.seal(chunkNonce(baseNonce, index), plain.subarray(0, 0));
      if (last instanceof Promise) await last;
    },
  };
}

async function decryptPair(suite: SuiteName, backend: BackendName, bytes: number): Promise<Pair> {
  const s = SUITES[suite];
  const key = new Uint8Array(s.keyLength).fill(3);
  // The ciphertext is made once; both sides read it from memory, so only decryption is timed.
  const ct = await encrypt(key, new Uint8Array(bytes).fill(0x5a), { suite, backend, salt: SALT });
  const { key: messageKey, baseNonce } = deriveMessageKeys(suite, key, SALT);
  const aead: AeadKey = await getBackend(backend).importKey(s.aead, messageKey);
  const chunks = Math.floor(bytes / CHUNK_SIZE) + 1;
  return {
    stream: () =>
      source(ct, ct.length)
        .pipeThrough(createDecryptStream(key, { suite, backend }))
        .pipeTo(sink()),
    iterable: () => drop(decryptIterable(key, sourcePieces(ct, ct.length), { suite, backend })),
    async raw() {
      for (let i = 0; i < chunks; i++) {
        const at = HEADER_LENGTH + i * SEALED_CHUNK;
        const r = aead.open(chunkNonce(baseNonce, i), ct.subarray(at, at + SEALED_CHUNK));
        if (!(r instanceof Promise ? await r : r)) throw new Error(`baseline chunk ${i} failed`);
      }
    },
    // The decrypt stream passes on each chunk's plaintext as its own buffer.
    passThrough: passThroughPerChunk(ct.length),
  };
}

async function compare(
  pair: Pair,
  rounds: number,
): Promise<{
  stream: Sample[];
  iterable: Sample[];
  raw: Sample[];
  ratio: number[];
  iterableRatio: number[];
  cpuRatio: number[];
  iterableCpuRatio: number[];
  ceiling: number[];
}> {
  // One untimed round of each: JIT warm-up.
  await pair.raw();
  await pair.stream();
  await pair.iterable();
  await pair.passThrough?.();
  const sides = { raw: [] as Sample[], stream: [] as Sample[], iterable: [] as Sample[] };
  const order = ['raw', 'stream', 'iterable'] as const;
  const pass: Sample[] = [];
  for (let r = 0; r < rounds; r++) {
    // Each side goes first, second and third in turn, so drift and other load hit all of them.
    for (let k = 0; k < order.length; k++) {
      const side = order[(r + k) % order.length]!;
      sides[side].push(await sample(pair[side]));
    }
    if (pair.passThrough) pass.push(await sample(pair.passThrough));
  }
  const { raw, stream, iterable } = sides;
  return {
    stream,
    iterable,
    raw,
    ratio: stream.map((s, i) => raw[i]!.wall / s.wall),
    iterableRatio: iterable.map((s, i) => raw[i]!.wall / s.wall),
    cpuRatio: stream.map((s, i) => raw[i]!.cpu / s.cpu),
    iterableCpuRatio: iterable.map((s, i) => raw[i]!.cpu / s.cpu),
    ceiling: pass.map((p, i) => raw[i]!.wall / (raw[i]!.wall + p.wall)),
  };
}

async function memoryRow(total: number, log: (l: string) => void): Promise<BenchRow> {
  const key = new Uint8Array(32).fill(3);
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  let seen = 0;
  await source(new Uint8Array(PIECE).fill(0x5a), total)
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
    rssGrowthMiB: round(growth),
    limitMiB: 64,
    ratio: round(growth / 64, 3),
    ok: growth < 64,
  };
}

const subject: BenchSubject = {
  name: 'crypto',
  async run(options: BenchOptions) {
    const quick = options.flags.has('quick');
    const total = options.size ?? (quick ? 128 * MiB : 1024 * MiB);
    const rows: BenchRow[] = [];
    for (const suite of Object.keys(SUITES) as SuiteName[]) {
      for (const backend of availableBackends()) {
        if (!getBackend(backend).supports(SUITES[suite].aead)) continue;
        // Pure-JavaScript AES runs at tens of MB/s: a quarter of the bytes keeps its rows short.
        const slow = backend === 'noble' && suite !== 'cobblestone-chacha20poly1305';
        const bytes = slow ? total / 4 : total;
        // At least 8 rounds: on a shared machine the load changes within seconds.
        const rounds = Math.min(64, Math.max(8, Math.round(bytes / ROUND)));
        const roundBytes = Math.max(PIECE, Math.round(bytes / rounds / PIECE) * PIECE);
        for (const op of ['encrypt', 'decrypt'] as const) {
          const pair =
            op === 'encrypt'
              ? await encryptPair(suite, backend, roundBytes)
              : await decryptPair(suite, backend, roundBytes);
          const r = await compare(pair, rounds);
          const mbps = (xs: Sample[]) => roundBytes / 1e6 / median(xs.map((x) => x.wall));
          const common = {
            suite,
            backend,
            baselineMbps: round(mbps(r.raw)),
            rounds,
            roundMiB: roundBytes / MiB,
            target: TARGET,
          };
          const row = (kind: string, runs: Sample[], ratios: number[], cpu: number[]) => {
            const ratio = median(ratios);
            return {
              name: `${kind}-${op}`,
              ...common,
              mbps: round(mbps(runs)),
              ratio: round(ratio, 3),
              cpuRatio: round(median(cpu), 3),
              ok: ratio >= TARGET,
            } satisfies BenchRow;
          };
          const streamRow: BenchRow = {
            ...row('stream', r.stream, r.ratio, r.cpuRatio),
            ...(r.ceiling.length ? { ceiling: round(median(r.ceiling), 3) } : {}),
          };
          const iterRow: BenchRow = row(
            'iterable',
            r.iterable,
            r.iterableRatio,
            r.iterableCpuRatio,
          );
          for (const row of [streamRow, iterRow]) {
            const ceiling = row.ceiling === undefined ? '' : `; ceiling ${row.ceiling}`;
            options.log(
              `${row.name} ${suite} ${backend}: ${row.mbps} MB/s vs raw ${row.baselineMbps} (${row.ratio}; cpu ${row.cpuRatio}${ceiling})`,
            );
            rows.push(row);
          }
        }
      }
    }
    rows.push(await memoryRow(quick ? 256 * MiB : 1024 * MiB, options.log));
    return rows;
  },
};

export default subject;
