// `npm run bench -- card`: the card engine on a real image file, each number beside a baseline
// measured in the same run on the same disk.
//   put/get   streaming put (get) of 256 MiB (--quick 32 MiB, --size overrides) into a zone of an
//             image file, vs raw content encryption (decryption) into a discarding sink (target
//             ≥ 85%), and vs writing (reading) the same bytes unencrypted to a plain file; for the
//             node and noble backends. Each side runs once untimed first (up to 32 MiB).
//   files     10,000 files of 4 KiB (--quick 1,000) via writeFile, vs plain files with an fsync
//             each (target ≥ 25%).
//   mount     mount time with 1k, 10k, 100k files (--quick 1k, 10k), as a ratio to the 1k mount
//             (target: no faster than logarithmic growth); the counts' mounts are interleaved.
//   memory    RSS growth while putting the large file (bounded, independent of the file size).
// A put/get row has onBackend: false when the engine ran the file contents on another backend
// than the card was mounted with (its ratio then compares different ciphers).
// Images live in a temporary folder (SIMVAULT_BENCH_DIR, default the OS temp folder): keep it on
// the disk you mean to measure.
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatCard, mountCard, MemoryDevice, type Card } from '../src/card/index.js';
import {
  createDecryptStream,
  createEncryptStream,
  deriveCardKeys,
  encrypt,
  getBackend,
  SUITES,
  type BackendName,
  type SuiteName,
} from '../src/crypto/index.js';
import { FileDevice } from '../src/node/index.js';
import type { BenchOptions, BenchRow, BenchSubject } from './row.js';

const MiB = 1024 * 1024;
const PIECE = MiB;
const SUITE: SuiteName = 'cobblestone-256';
const BACKENDS: BackendName[] = ['node', 'noble'];
const CID = Uint8Array.from(Buffer.from('03534453443038478012345678014b7d', 'hex'));
const KEYS = deriveCardKeys(new Uint8Array(32).fill(7), CID);

const mbps = (bytes: number, seconds: number) => bytes / 1e6 / seconds;
const round = (n: number, d = 1) => Number(n.toFixed(d));

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

/** `total` bytes in 1 MiB pieces from one re-used buffer, as a file reader would deliver them. */
function source(total: number, onPiece?: () => void): ReadableStream<Uint8Array> {
  const piece = new Uint8Array(PIECE).map((_, i) => (i * 31 + 7) & 0xff);
  let left = total;
  return new ReadableStream<Uint8Array>(
    {
      pull(c) {
        onPiece?.();
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

function sink(): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({ write: () => undefined });
}

// --- baselines -----------------------------------------------------------------------------

async function rawEncrypt(backend: BackendName, total: number): Promise<number> {
  const key = new Uint8Array(SUITES[SUITE].keyLength).fill(3);
  return mbps(
    total,
    await timed(() =>
      source(total)
        .pipeThrough(createEncryptStream(key, { suite: SUITE, backend }))
        .pipeTo(sink()),
    ),
  );
}

async function rawDecrypt(backend: BackendName, total: number): Promise<number> {
  const key = new Uint8Array(SUITES[SUITE].keyLength).fill(3);
  const ct = await encrypt(key, new Uint8Array(total).fill(0x5a), { suite: SUITE, backend });
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
      replay.pipeThrough(createDecryptStream(key, { suite: SUITE, backend })).pipeTo(sink()),
    ),
  );
}

/** Write `total` bytes to a new plain file in 1 MiB writes, then fsync; and read them back. */
async function plainFile(dir: string, total: number): Promise<{ write: number; read: number }> {
  const path = join(dir, 'plain.bin');
  const write = await timed(async () => {
    const h = await open(path, 'wx');
    const reader = source(total).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      await h.write(value);
    }
    await h.sync();
    await h.close();
  });
  const read = await timed(async () => {
    const h = await open(path, 'r');
    const buf = new Uint8Array(PIECE);
    for (let pos = 0; pos < total;) {
      const { bytesRead } = await h.read(buf, 0, PIECE, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
    }
    await h.close();
  });
  await rm(path);
  return { write: mbps(total, write), read: mbps(total, read) };
}

// --- the card --------------------------------------------------------------------------------

async function newImage(
  dir: string,
  name: string,
  size: number,
  zones: Record<string, number>,
): Promise<string> {
  const path = join(dir, name);
  const dev = await FileDevice.open(path, { create: size });
  await formatCard(dev, { cid: CID, keys: KEYS, zones, fill: 'zero' });
  await dev.close();
  return path;
}

async function mounted(path: string, backend: BackendName | 'auto' = 'auto'): Promise<Card> {
  return mountCard(await FileDevice.open(path), { cid: CID, keys: KEYS, backend });
}

/**
 * Run `fn` counting the keys imported into `backend` meanwhile: whether the engine really ran the
 * file contents on the backend the card was mounted with.
 */
async function countImports<T>(
  backend: BackendName,
  fn: () => Promise<T>,
): Promise<{ value: T; imports: number }> {
  const b = getBackend(backend);
  const original = b.importKey.bind(b);
  let imports = 0;
  b.importKey = (...args) => {
    imports++;
    return original.apply(b, args);
  };
  try {
    return { value: await fn(), imports };
  } finally {
    b.importKey = original;
  }
}

async function streamRows(
  dir: string,
  total: number,
  log: (l: string) => void,
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const blocks = Math.ceil((total * 1.01 + 64 * MiB) / 4096) * 4096;
  const image = await newImage(dir, 'stream.img', blocks + 4 * MiB, {
    operator: MiB,
    advertising: MiB,
    multimedia: MiB,
  });
  const plain = await plainFile(dir, total);
  for (const backend of BACKENDS) {
    const card = await mounted(image, backend);
    const user = card.zone('user');
    // One untimed round of each side first, as the crypto bench does: the first put, get,
    // encryption and decryption in a process run on code the JIT has not yet compiled.
    const warm = Math.min(total, 32 * MiB);
    const w = await user.put('warm', { size: warm });
    await source(warm).pipeTo(w.writable);
    await (await user.get('warm')).pipeTo(sink());
    await user.delete('warm');
    await rawEncrypt(backend, warm);
    await rawDecrypt(backend, warm);
    const encBefore = await rawEncrypt(backend, total);
    // RSS while the put runs, sampled at every piece the source hands over.
    globalThis.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const { value: put, imports: putImports } = await countImports(backend, () =>
      timed(async () => {
        const p = await user.put('big', { size: total });
        await source(total, () => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss))).pipeTo(
          p.writable,
        );
      }),
    );
    const encAfter = await rawEncrypt(backend, total);
    const decBefore = await rawDecrypt(backend, total);
    const { value: get, imports: getImports } = await countImports(backend, () =>
      timed(async () => (await user.get('big')).pipeTo(sink())),
    );
    const decAfter = await rawDecrypt(backend, total);
    await user.delete('big');
    await card.unmount();

    const putMbps = mbps(total, put);
    const getMbps = mbps(total, get);
    const enc = (encBefore + encAfter) / 2;
    const dec = (decBefore + decAfter) / 2;
    const common = { suite: SUITE, backend, sizeMiB: round(total / MiB, 0) };
    rows.push({
      name: 'card-put',
      ...common,
      mbps: round(putMbps),
      baselineMbps: round(enc),
      ratio: round(putMbps / enc, 3),
      target: 0.85,
      // False when the engine ran the contents on another backend than the one mounted with.
      onBackend: putImports > 0,
      ok: putMbps / enc >= 0.85 && putImports > 0,
      plainWriteMbps: round(plain.write),
      plainRatio: round(putMbps / plain.write, 3),
    });
    rows.push({
      name: 'card-get',
      ...common,
      mbps: round(getMbps),
      baselineMbps: round(dec),
      ratio: round(getMbps / dec, 3),
      target: 0.85,
      onBackend: getImports > 0,
      ok: getMbps / dec >= 0.85 && getImports > 0,
      plainReadMbps: round(plain.read),
      plainRatio: round(getMbps / plain.read, 3),
    });
    const growth = (rssPeak - rssBefore) / MiB;
    rows.push({
      name: 'card-put-memory',
      ...common,
      rssGrowthMiB: round(growth),
      limitMiB: 64,
      ok: growth < 64,
    });
    if (!putImports || !getImports)
      log(`note: the card did not run file contents on the ${backend} backend it was mounted with`);
    log(
      `put ${backend}: ${round(putMbps)} MB/s vs raw encrypt ${round(enc)} (${round(putMbps / enc, 3)}), plain write ${round(plain.write)}; RSS +${round(growth)} MiB`,
    );
    log(
      `get ${backend}: ${round(getMbps)} MB/s vs raw decrypt ${round(dec)} (${round(getMbps / dec, 3)}), plain read ${round(plain.read)}`,
    );
  }
  await rm(image);
  return rows;
}

async function smallFileRow(
  dir: string,
  count: number,
  log: (l: string) => void,
): Promise<BenchRow> {
  const data = new Uint8Array(4096).map((_, i) => i & 0xff);
  const plainDir = join(dir, 'plain-files');
  await rm(plainDir, { recursive: true, force: true });
  await mkdir(plainDir);
  const plain = await timed(async () => {
    for (let i = 0; i < count; i++) {
      const h = await open(join(plainDir, `f${i}`), 'wx');
      await h.write(data);
      await h.sync();
      await h.close();
    }
  });
  await rm(plainDir, { recursive: true });
  // Room for the files, their metadata and a table that grows with them.
  const zoneBytes = count * 4 * 4096 + 32 * MiB;
  const image = await newImage(dir, 'files.img', zoneBytes + 4 * MiB, {
    operator: MiB,
    advertising: MiB,
    multimedia: MiB,
  });
  const card = await mounted(image);
  const user = card.zone('user');
  const secs = await timed(async () => {
    for (let i = 0; i < count; i++) await user.writeFile(`f${i}`, data);
  });
  await card.unmount();
  await rm(image);
  const rate = count / secs;
  const plainRate = count / plain;
  log(
    `files: ${count} × 4 KiB: ${round(rate)} files/s vs plain+fsync ${round(plainRate)} (${round(rate / plainRate, 3)})`,
  );
  return {
    name: 'card-small-files',
    suite: SUITE,
    backend: 'auto',
    files: count,
    filesPerSecond: round(rate),
    baselineFilesPerSecond: round(plainRate),
    ratio: round(rate / plainRate, 3),
    target: 0.25,
    ok: rate / plainRate >= 0.25,
  };
}

/** Build a card with `count` small files on a memory device, then copy it (sparse) into a file. */
async function imageWithFiles(
  dir: string,
  count: number,
  log: (l: string) => void,
): Promise<string> {
  const size = Math.ceil((count * 3 * 4096 + 16 * MiB) / MiB) * MiB;
  const mem = new MemoryDevice(size);
  await formatCard(mem, {
    cid: CID,
    keys: KEYS,
    zones: { operator: MiB, advertising: MiB, multimedia: MiB },
    fill: 'zero',
  });
  const card = await mountCard(mem, { cid: CID, keys: KEYS });
  const user = card.zone('user');
  const data = new Uint8Array(100).fill(1);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    await user.writeFile(`file-${i}`, data);
    if ((i + 1) % 10_000 === 0)
      log(`  built ${i + 1} of ${count} files (${round((performance.now() - t0) / 1000)} s)`);
  }
  const path = join(dir, `mount-${count}.img`);
  const out = await FileDevice.open(path, { create: size });
  for (let off = 0; off < size; off += MiB) {
    const page = mem.readSync(off, MiB);
    if (page.some((b) => b !== 0)) await out.write(off, page);
  }
  await out.close();
  return path;
}

/** One mount of the image at `path`, and the first stat after it, in milliseconds. */
async function timeMount(path: string, name: string): Promise<{ mount: number; stat: number }> {
  const dev = await FileDevice.open(path);
  const t0 = performance.now();
  const card = await mountCard(dev, { cid: CID, keys: KEYS });
  const t1 = performance.now();
  await card.zone('user').stat(name);
  const t2 = performance.now();
  await card.unmount();
  return { mount: t1 - t0, stat: t2 - t1 };
}

async function mountRows(
  dir: string,
  counts: number[],
  log: (l: string) => void,
): Promise<BenchRow[]> {
  // Every image is built first and the mounts of all counts are interleaved, round by round, so
  // that load and the process's own state (the heap after building 100k files, the JIT) weigh
  // on every count alike: measured one count after another, the 100k mount read ×2.2 of the 1k
  // in one run and ×1.1 in the next.
  const paths: string[] = [];
  for (const count of counts) paths.push(await imageWithFiles(dir, count, log));
  const times: number[][] = counts.map(() => []);
  const lookups: number[][] = counts.map(() => []);
  // Three untimed rounds first: JIT warm-up, and every image in the page cache.
  for (let r = 0; r < 15; r++) {
    for (let k = 0; k < counts.length; k++) {
      // The order rotates, so no count always runs first (or right after the largest).
      const c = (k + r) % counts.length;
      const t = await timeMount(paths[c]!, `file-${(r * 7919) % counts[c]!}`);
      if (r < 3) continue;
      times[c]!.push(t.mount);
      lookups[c]!.push(t.stat);
    }
  }
  for (const path of paths) await rm(path);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const base = median(times[0]!);
  return counts.map((count, c) => {
    const ms = median(times[c]!);
    const logBound = Math.log(count) / Math.log(counts[0]!);
    log(
      `mount with ${count} files: ${round(ms, 2)} ms (×${round(ms / base, 2)} of ${counts[0]}; log bound ×${round(logBound, 2)}), first stat ${round(median(lookups[c]!), 2)} ms`,
    );
    return {
      name: 'card-mount',
      suite: SUITE,
      backend: 'auto',
      files: count,
      ms: round(ms, 2),
      statMs: round(median(lookups[c]!), 2),
      ratio: round(ms / base, 3),
      logBound: round(logBound, 3),
      ok: ms / base <= logBound * 1.25,
    };
  });
}

const subject: BenchSubject = {
  name: 'card',
  async run(options: BenchOptions) {
    const quick = options.flags.has('quick');
    const total = options.size ?? (quick ? 32 * MiB : 256 * MiB);
    const dir = await mkdtemp(
      join(process.env.SIMVAULT_BENCH_DIR ?? tmpdir(), 'simvault-bench-card-'),
    );
    options.log(`card images in ${dir}`);
    try {
      const rows: BenchRow[] = [];
      rows.push(...(await streamRows(dir, total, options.log)));
      rows.push(await smallFileRow(dir, quick ? 1_000 : 10_000, options.log));
      rows.push(
        ...(await mountRows(dir, quick ? [1_000, 10_000] : [1_000, 10_000, 100_000], options.log)),
      );
      return rows;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

export default subject;
