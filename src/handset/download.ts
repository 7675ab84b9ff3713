/**
 * Steps 503-504: download an application file from the OTA server straight into a card zone,
 * encrypting as it arrives, in constant memory. The ETag is the put's source tag, so an
 * interrupted download keeps the card's last checkpoint and the next attempt asks only for the
 * rest (`Range` + `If-Range`); a file that changed meanwhile (another ETag) starts over. What was
 * stored is then read back through the card's decryption and hashed: the digest the handset
 * reports in LAUNCH COMPLETE is the card's, not the network's.
 *
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import type { CardZone, ZonePut } from '../card/zone.js';
import { errorMessage, SimvaultError } from '../errors.js';
import { HandsetError } from './errors.js';
import type { ServerLink } from './server-link.js';

/** The card keeps source tags of at most 64 bytes. */
const MAX_TAG = 64;

/**
 * The put source tag for an ETag: the opaque value of a strong ETag (quotes removed) when it
 * fits the card's 64 bytes; `undefined` (no resume) for weak, absent or longer ETags.
 *
 * @example
 * ```ts
 * import { sourceTagOfEtag } from 'simvault/handset';
 * sourceTagOfEtag('"' + 'ab'.repeat(32) + '"'); // 'abab…ab' (64 characters)
 * sourceTagOfEtag('W/"1"'); // undefined: weak ETags cannot make a Range request safe
 * ```
 */
export function sourceTagOfEtag(etag: string | null): string | undefined {
  if (etag === null) return undefined;
  const m = /^"([\x21\x23-\x7e]+)"$/.exec(etag.trim());
  return m && m[1]!.length <= MAX_TAG ? m[1] : undefined;
}

/**
 * What {@link storeResource} needs.
 *
 * @example
 * ```ts
 * import type { StoreResourceOptions } from 'simvault/handset';
 * declare const o: StoreResourceOptions;
 * o.size; // bytes announced by the download resource info
 * ```
 */
export interface StoreResourceOptions {
  /** The servers (downloads go through its `request`, with its error mapping). */
  link: ServerLink;
  /** Absolute URL of the file. */
  url: URL;
  /** The zone the file goes to. */
  zone: CardZone;
  /** The file's name in the zone. */
  name: string;
  /** Its size as the download resource info announces it. */
  size: number;
  /** Checkpoint interval of the put (at least 16 KiB). */
  checkpointBytes: number;
  /** Attempts in all before giving up (each resumes where the card's checkpoint is). */
  maxAttempts: number;
  /** Told about each attempt. */
  onAttempt?: (attempt: { number: number; from: number; status: number; error?: string }) => void;
}

/**
 * What {@link storeResource} stored.
 *
 * @example
 * ```ts
 * import type { StoredResource } from 'simvault/handset';
 * const line = (s: StoredResource) => `${s.size} bytes in ${s.attempts} attempt(s)`;
 * ```
 */
export interface StoredResource {
  /** Plaintext bytes on the card. */
  size: number;
  /** SHA-256 of the file as read back from the card. */
  digest: Uint8Array;
  /** Attempts made. */
  attempts: number;
  /** Offsets later attempts resumed from (empty when the first one went through). */
  resumedFrom: number[];
  /** The ETag of the file downloaded. */
  etag: string | null;
}

function retryable(e: unknown): boolean {
  if (e instanceof HandsetError)
    return e.code === 'HANDSET_HTTP' && (e.status === undefined || e.status >= 500);
  if (e instanceof SimvaultError) return e.code === 'CARD_SIZE_MISMATCH';
  // A body stream that broke off (TypeError "terminated", an aborted socket): the network's fault.
  return true;
}

async function feed(body: ReadableStream<Uint8Array>, put: ZonePut): Promise<void> {
  const writer = put.writable.getWriter();
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      await writer.write(value);
    }
    await writer.close();
  } catch (e) {
    await writer.abort(e).catch(() => undefined);
    await reader.cancel().catch(() => undefined);
    throw e;
  }
}

function rangeStart(res: Response): number | undefined {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
  return m ? Number(m[1]) : undefined;
}

/** One attempt: resume from the card's checkpoint when there is one, else download it all. */
async function attempt(
  o: StoreResourceOptions,
  resumed: (from: number) => void,
): Promise<{ status: number; from: number; etag: string | null }> {
  const pending = (await o.zone.pending()).find(
    (p) => p.name === o.name && p.size === o.size && p.sourceTag !== '' && p.durableBytes > 0,
  );
  if (pending) {
    const put = await o.zone.put(o.name, {
      size: o.size,
      sourceTag: pending.sourceTag,
      resume: true,
      checkpointBytes: o.checkpointBytes,
    });
    let res: Response;
    try {
      res = await o.link.request(o.url, {
        headers: { range: `bytes=${put.offset}-`, 'if-range': `"${pending.sourceTag}"` },
      });
    } catch (e) {
      await put.writable.abort(e).catch(() => undefined);
      throw e;
    }
    if (
      res.status === 206 &&
      res.body &&
      rangeStart(res) === put.offset &&
      sourceTagOfEtag(res.headers.get('etag')) === pending.sourceTag
    ) {
      resumed(put.offset);
      await feed(res.body, put);
      return { status: 206, from: put.offset, etag: res.headers.get('etag') };
    }
    // The file changed (If-Range failed) or the server ignored the range: start over below.
    await put.writable.abort(new Error('the source changed')).catch(() => undefined);
    await res.body?.cancel().catch(() => undefined);
    await o.zone.abandon(o.name).catch(() => undefined);
  }
  const res = await o.link.request(o.url);
  if (!res.body)
    throw new HandsetError('HANDSET_DOWNLOAD_FAILED', `${o.url.pathname}: the answer has no body`);
  const etag = res.headers.get('etag');
  const tag = sourceTagOfEtag(etag);
  let put: ZonePut;
  try {
    put = await o.zone.put(o.name, {
      size: o.size,
      checkpointBytes: o.checkpointBytes,
      ...(tag !== undefined ? { sourceTag: tag } : {}),
    });
  } catch (e) {
    await res.body.cancel().catch(() => undefined);
    throw e;
  }
  await feed(res.body, put);
  return { status: res.status, from: 0, etag };
}

/**
 * Download the file at `url` into `zone` as `name`, resuming after interruptions, then read it
 * back from the card and hash it.
 *
 * @example
 * ```ts
 * import { storeResource, ServerLink } from 'simvault/handset';
 * declare const link: ServerLink, zone: import('simvault/card').CardZone;
 * const stored = await storeResource({ link, url: new URL(`${link.otaUrl}/v1/files/tv.bin`), zone, name: 'a0000000871001',
 *   size: 2_097_152, checkpointBytes: 1 << 20, maxAttempts: 5 });
 * ```
 */
export async function storeResource(o: StoreResourceOptions): Promise<StoredResource> {
  const resumedFrom: number[] = [];
  let etag: string | null;
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      const done = await attempt(o, (from) => resumedFrom.push(from));
      etag = done.etag;
      o.onAttempt?.({ number: attempts, from: done.from, status: done.status });
      break;
    } catch (e) {
      const from =
        (await o.zone.pending().catch(() => [])).find((p) => p.name === o.name)?.durableBytes ?? 0;
      o.onAttempt?.({
        number: attempts,
        from,
        status: e instanceof HandsetError ? (e.status ?? 0) : 0,
        error: errorMessage(e),
      });
      if (!retryable(e)) throw e;
      if (attempts >= o.maxAttempts)
        throw new HandsetError(
          'HANDSET_DOWNLOAD_FAILED',
          `${o.url.pathname}: ${errorMessage(e)} (after ${attempts} attempt(s))`,
          { cause: e },
        );
    }
  }
  const hash = sha256.create();
  let size = 0;
  const reader = (await o.zone.get(o.name)).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    hash.update(value);
    size += value.length;
  }
  return { size, digest: hash.digest(), attempts, resumedFrom, etag };
}
