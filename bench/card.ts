// `npm run bench -- card`: the card engine on a real image file, each number beside a baseline
// measured in the same run on the same disk.
//   put/get   streaming put (get) of 256 MiB (--quick 32 MiB, --size overrides) into a zone of an
//             image file, vs raw content encryption (decryption) into a discarding sink (target
//             ≥ 85%), and vs writing (reading) the same bytes unencrypted to a plain file
//             (`plainRatio`); for the node and noble backends. The engine rows do the same put
//             (get) on a memory device: the card's own cost, apart from the disk. Each side runs
//             once untimed first (up to 32 MiB), then all sides take turns over several rounds
//             (5, noble 2), the order rotating; a row reports the median of per-round ratios.
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
  return timed(() =>
    source(total)
      .pipeThrough(createEncryptStream(key, { suite: SUITE, backend }))
      .pipeTo(sink()),
  );
}

async function rawDecrypt(backend: BackendName, ct: Uint8Array): Promise<number> {
  const key = new Uint8Array(SUITES[SUITE].keyLength).fill(3);
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
  return timed(() =>
    replay.pipeThrough(createDecryptStream(key, { suite: SUITE, backend })).pipeTo(sink()),
  );
}

/** Write `total` bytes to a new plain file at `path` in 1 MiB writes, then fsync; seconds. */
async function plainWrite(path: string, total: number): Promise<number> {
  return timed(async () => {
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
}

/** Read the plain file at `path` back in 1 MiB reads; seconds. */
async function plainRead(path: string, total: number): Promise<number> {
  return timed(async () => {
    const h = await open(path, 'r');
    const buf = new Uint8Array(PIECE);
    for (let pos = 0; pos < total;) {
      const { bytesRead } = await h.read(buf, 0, PIECE, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
    }
    await h.close();
  });
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

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** Run every side once, in the given order rotated by `round`; seconds per side. */
async function rotated(
  sides: Record<string, () => Promise<number>>,
  round: number,
): Promise<Record<string, number>> {
  const names = Object.keys(sides);
  const out: Record<string, number> = {};
  for (let k = 0; k < names.length; k++) {
    const name = names[(k + round) % names.length]!;
    out[name] = await sides[name]!();
  }
  return out;
}

async function streamRows(
  dir: string,
  total: number,
  log: (l: string) => void,
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const blocks = Math.ceil((total * 1.01 + 64 * MiB) / 4096) * 4096;
  const zones = { operator: MiB, advertising: MiB, multimedia: MiB };
  const image = await newImage(dir, 'stream.img', blocks + 4 * MiB, zones);
  const plainPath = join(dir, 'plain.bin');
  for (const backend of BACKENDS) {
    const card = await mounted(image, backend);
    // The same engine on a memory device: what the card costs apart from the disk.
    const mem = new MemoryDevice(blocks + 4 * MiB);
    await formatCard(mem, { cid: CID, keys: KEYS, zones });
    const memCard = await mountCard(mem, { cid: CID, keys: KEYS, backend });
    const sealed = (n: number) =>
      encrypt(new Uint8Array(SUITES[SUITE].keyLength).fill(3), new Uint8Array(n).fill(0x5a), {
        suite: SUITE,
        backend,
      });
    const ct = await sealed(total);
    const put = (c: Card, size: number, onPiece?: () => void) =>
      timed(async () => {
        const p = await c.zone('user').put('big', { size });
        await source(size, onPiece).pipeTo(p.writable);
      });
    const get = (c: Card) => timed(async () => (await c.zone('user').get('big')).pipeTo(sink()));
    // One untimed round of each side first, as the crypto bench does: the first put, get,
    // encryption and decryption in a process run on code the JIT has not yet compiled.
    const warm = Math.min(total, 32 * MiB);
    for (const c of [card, memCard]) {
      await put(c, warm);
      await get(c);
      await c.zone('user').delete('big');
    }
    await rawEncrypt(backend, warm);
    await rawDecrypt(backend, await sealed(warm));

    // Rounds alternate every side, so drift and other load on a shared machine hit all of them;
    // a row reports the median of the per-round ratios. Pure-JavaScript AES runs at tens of MB/s:
    // fewer rounds keep its rows short.
    const rounds = backend === 'noble' ? 2 : 5;
    const ratios: Record<string, number[]> = {};
    const secs: Record<string, number[]> = {};
    const note = (r: Record<string, number>, pairs: [string, string, string][]) => {
      for (const [k, v] of Object.entries(r)) (secs[k] ??= []).push(v);
      for (const [name, side, base] of pairs) (ratios[name] ??= []).push(r[base]! / r[side]!);
    };
    // Keys imported into the backend per side: whether the engine really ran on it.
    const imports: Record<string, number> = {};
    const counted = (side: string, fn: () => Promise<number>) => async () => {
      const r = await countImports(backend, fn);
      imports[side] = (imports[side] ?? 0) + r.imports;
      return r.value;
    };
    // RSS while the first put runs, sampled at every piece the source hands over.
    globalThis.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    for (let round = 0; round < rounds; round++) {
      const sample =
        round === 0 ? () => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)) : undefined;
      const writes = await rotated(
        {
          encrypt: () => rawEncrypt(backend, total),
          put: counted('put', () => put(card, total, sample)),
          memPut: counted('memPut', () => put(memCard, total)),
          plainWrite: () => plainWrite(plainPath, total),
        },
        round,
      );
      note(writes, [
        ['put', 'put', 'encrypt'],
        ['memPut', 'memPut', 'encrypt'],
        ['putPlain', 'put', 'plainWrite'],
      ]);
      const reads = await rotated(
        {
          decrypt: () => rawDecrypt(backend, ct),
          get: counted('get', () => get(card)),
          memGet: counted('memGet', () => get(memCard)),
          plainRead: () => plainRead(plainPath, total),
        },
        round,
      );
      note(reads, [
        ['get', 'get', 'decrypt'],
        ['memGet', 'memGet', 'decrypt'],
        ['getPlain', 'get', 'plainRead'],
      ]);
      await card.zone('user').delete('big');
      await memCard.zone('user').delete('big');
      await rm(plainPath);
    }
    await card.unmount();
    await memCard.unmount();

    const rate = (side: string) => round(mbps(total, median(secs[side]!)));
    const ratio = (name: string) => round(median(ratios[name]!), 3);
    const common = { suite: SUITE, backend, sizeMiB: round(total / MiB, 0), rounds };
    const row = (
      name: string,
      device: string,
      side: string,
      base: string,
      extra: Record<string, number> = {},
    ): BenchRow => ({
      name,
      ...common,
      device,
      target: 0.85,
      mbps: rate(side),
      baselineMbps: rate(base),
      ratio: ratio(side),
      // False when the engine ran the contents on another backend than the one mounted with.
      onBackend: (imports[side] ?? 0) > 0,
      ok: ratio(side) >= 0.85 && (imports[side] ?? 0) > 0,
      ...extra,
    });
    rows.push(
      row('card-put', 'file', 'put', 'encrypt', {
        plainWriteMbps: rate('plainWrite'),
        plainRatio: ratio('putPlain'),
      }),
      row('card-get', 'file', 'get', 'decrypt', {
        plainReadMbps: rate('plainRead'),
        plainRatio: ratio('getPlain'),
      }),
      row('card-put-engine', 'memory', 'memPut', 'encrypt'),
      row('card-get-engine', 'memory', 'memGet', 'decrypt'),
    );
    const growth = (rssPeak - rssBefore) / MiB;
    rows.push({
      name: 'card-put-memory',
      ...common,
      rssGrowthMiB: round(growth),
      limitMiB: 64,
      ok: growth < 64,
    });
    if (['put', 'get', 'memPut', 'memGet'].some((side) => !imports[side]))
      log(`note: the card did not run file contents on the ${backend} backend it was mounted with`);
    log(
      `put ${backend}: ${rate('put')} MB/s vs raw encrypt ${rate('encrypt')} (${ratio('put')}), plain write ${rate('plainWrite')} (${ratio('putPlain')}), on a memory device ${rate('memPut')} (${ratio('memPut')}); RSS +${round(growth)} MiB`,
    );
    log(
      `get ${backend}: ${rate('get')} MB/s vs raw decrypt ${rate('decrypt')} (${ratio('get')}), plain read ${rate('plainRead')} (${ratio('getPlain')}), on a memory device ${rate('memGet')} (${ratio('memGet')})`,
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
