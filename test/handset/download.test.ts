// Downloads into a card zone on a scripted file server: resuming with Range/If-Range, starting
// over when the server ignores the range or the file changed, which failures are retried, and
// the source tag an ETag gives.
import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { formatCard, MemoryDevice, mountCard, type CardZone } from '../../src/card/index.js';
import { deriveCardKeys } from '../../src/crypto/index.js';
import { sourceTagOfEtag, storeResource } from '../../src/handset/download.js';
import { ServerLink } from '../../src/handset/server-link.js';
import type { FetchLike } from '../../src/handset/index.js';
import { cutAfter } from './helpers.js';

const CID = new Uint8Array([
  3, 0x53, 0x44, 0x53, 0x55, 0x31, 0x36, 0x47, 0x80, 1, 2, 3, 4, 0x01, 0x85, 0,
]);
const URL_ = new URL('http://ota.test/v1/files/tv.bin');

async function zone(): Promise<CardZone> {
  const device = new MemoryDevice(4 << 20);
  const keys = deriveCardKeys(new Uint8Array(32).fill(7), CID);
  await formatCard(device, { cid: CID, keys, fill: 'zero' });
  return (await mountCard(device, { cid: CID, keys })).zone('multimedia');
}

interface Served {
  fetch: FetchLike;
  requests: { range: string | null; ifRange: string | null; status: number }[];
}

/** `data` as a body arriving in 8 KiB pieces, as from a socket. */
function pieces(data: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= data.length) controller.close();
      else controller.enqueue(data.slice(at, (at += 8192)));
    },
  });
}

/** A file server for `data`; each request may be answered by `plan` instead. */
function serve(
  data: Uint8Array,
  options: {
    etag?: string;
    ignoreRange?: boolean;
    plan?: (n: number, full: () => Response) => Response | Error | undefined;
  } = {},
): Served {
  const requests: Served['requests'] = [];
  const etag = options.etag ?? `"${toHex(sha256(data))}"`;
  const fetch: FetchLike = (_input, init) => {
    const headers = new Headers(init?.headers);
    const range = headers.get('range');
    const ifRange = headers.get('if-range');
    const full = () => new Response(pieces(data), { status: 200, headers: { etag } });
    const planned = options.plan?.(requests.length, full);
    let res: Response;
    if (planned instanceof Error) {
      requests.push({ range, ifRange, status: 0 });
      return Promise.reject(planned);
    }
    if (planned) res = planned;
    else if (range && !options.ignoreRange && ifRange === etag) {
      const from = Number(/^bytes=(\d+)-$/.exec(range)![1]);
      res = new Response(pieces(data.subarray(from)), {
        status: 206,
        headers: { etag, 'content-range': `bytes ${from}-${data.length - 1}/${data.length}` },
      });
    } else res = full();
    requests.push({ range, ifRange, status: res.status });
    return Promise.resolve(res);
  };
  return { fetch, requests };
}

function options(z: CardZone, fetch: FetchLike, data: Uint8Array, maxAttempts = 3) {
  return {
    link: new ServerLink({
      otaUrl: 'http://ota.test',
      cardAppUrl: 'http://cards.test',
      iccid: '89860012345678901234',
      fetch,
    }),
    url: URL_,
    zone: z,
    name: 'tv',
    size: data.length,
    checkpointBytes: 16 << 10,
    maxAttempts,
  };
}

describe('sourceTagOfEtag', () => {
  it('takes strong ETags that fit the card, and nothing else', () => {
    expect(sourceTagOfEtag('"abc"')).toBe('abc');
    expect(sourceTagOfEtag(` "${'a'.repeat(64)}" `)).toBe('a'.repeat(64));
    expect(sourceTagOfEtag(`"${'a'.repeat(65)}"`)).toBeUndefined();
    expect(sourceTagOfEtag('W/"abc"')).toBeUndefined();
    expect(sourceTagOfEtag('abc')).toBeUndefined();
    expect(sourceTagOfEtag(null)).toBeUndefined();
  });
});

describe('storeResource', () => {
  it('resumes a broken download from the checkpoint with Range and If-Range', async () => {
    const data = new Uint8Array(randomBytes(200_000));
    const served = serve(data, {
      plan: (n, full) => (n === 0 ? cutAfter(full(), 100_000) : undefined),
    });
    const z = await zone();
    const attempts: number[] = [];
    const r = await storeResource({
      ...options(z, served.fetch, data),
      onAttempt: (a) => attempts.push(a.status),
    });
    expect(r).toMatchObject({ size: data.length, attempts: 2 });
    expect(toHex(r.digest)).toBe(toHex(sha256(data)));
    expect(r.resumedFrom).toHaveLength(1);
    expect(served.requests.map((q) => q.status)).toEqual([200, 206]);
    expect(attempts).toEqual([0, 206]);
  });

  it('starts over when the server ignores the range, or the file changed (another ETag)', async () => {
    for (const variant of ['ignores range', 'changed'] as const) {
      const data = new Uint8Array(randomBytes(120_000));
      let etag = '"v1"';
      const served = serve(data, {
        ignoreRange: variant === 'ignores range',
        plan: (n, full) => {
          if (n !== 0) return undefined;
          if (variant === 'changed') etag = '"v2"';
          return cutAfter(full(), 60_000);
        },
      });
      const z = await zone();
      const wrapped: FetchLike = (input, init) =>
        served.fetch(input, init).then((res) => {
          if (variant !== 'changed' || res.status !== 200) return res;
          return new Response(res.body, { status: 200, headers: { etag } });
        });
      const r = await storeResource(options(z, wrapped, data));
      expect(r.resumedFrom).toEqual([]);
      expect(toHex(r.digest)).toBe(toHex(sha256(data)));
      expect(served.requests.at(-1)!.status).toBe(200);
      expect(await z.pending()).toEqual([]);
    }
  });

  it('retries network failures and 5xx answers, then gives up with HANDSET_DOWNLOAD_FAILED', async () => {
    const data = new Uint8Array(randomBytes(30_000));
    const flaky = serve(data, {
      plan: (n) =>
        n === 0
          ? new TypeError('fetch failed')
          : n === 1
            ? new Response('busy', { status: 503 })
            : undefined,
    });
    const r = await storeResource(options(await zone(), flaky.fetch, data));
    expect(r.attempts).toBe(3);
    const down = serve(data, { plan: () => new TypeError('fetch failed') });
    const failed = storeResource(options(await zone(), down.fetch, data, 2));
    await expect(failed).rejects.toMatchObject({ code: 'HANDSET_DOWNLOAD_FAILED' });
    await expect(failed).rejects.toThrow(/fetch failed \(after 2 attempt\(s\)\)$/);
    expect(down.requests).toHaveLength(2);
  });

  it('does not retry what another attempt cannot fix', async () => {
    const data = new Uint8Array(randomBytes(30_000));
    const missing = serve(data, {
      plan: () =>
        new Response(JSON.stringify({ error: { code: 'OTA_UNKNOWN_FILE', message: 'gone' } }), {
          status: 404,
        }),
    });
    await expect(storeResource(options(await zone(), missing.fetch, data))).rejects.toMatchObject({
      code: 'OTA_UNKNOWN_FILE',
      status: 404,
    });
    expect(missing.requests).toHaveLength(1);
    const empty = serve(data, { plan: () => new Response(null, { status: 200 }) });
    await expect(storeResource(options(await zone(), empty.fetch, data))).rejects.toMatchObject({
      code: 'HANDSET_DOWNLOAD_FAILED',
    });
    expect(empty.requests).toHaveLength(1);
    // A file larger than the zone: the card refuses the put before a byte is written.
    const huge = new Uint8Array(8 << 20);
    const tooBig = serve(huge);
    await expect(storeResource(options(await zone(), tooBig.fetch, huge))).rejects.toMatchObject({
      code: 'CARD_NO_SPACE',
    });
    expect(tooBig.requests).toHaveLength(1);
  });

  it('a body shorter than announced is retried (CARD_SIZE_MISMATCH), without a tag from a weak ETag', async () => {
    const data = new Uint8Array(randomBytes(40_000));
    const served = serve(data, {
      etag: 'W/"weak"',
      plan: (n) =>
        n === 0
          ? new Response(data.slice(0, 10_000), { status: 200, headers: { etag: 'W/"weak"' } })
          : undefined,
    });
    const z = await zone();
    const r = await storeResource(options(z, served.fetch, data));
    expect(r).toMatchObject({ attempts: 2, resumedFrom: [], etag: 'W/"weak"' });
    expect(served.requests.every((q) => q.range === null)).toBe(true);
  });
});
