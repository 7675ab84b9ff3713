/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-return --
   The servers' JSON answers are read ad hoc here; expect() is what checks their shape. */
// Application file downloads from the OTA server on loopback: signed streaming uploads, Range,
// strong ETags with If-None-Match / If-Range, SHA-256 digests, and resuming a cut download.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequest, type SigningKey } from '../../../src/server/auth.js';
import { startOtaServer, type RunningOtaServer } from '../../../src/server/ota/start.js';
import { OPERATOR_KEY, OTA_KEY } from '../fixtures.js';

const CONTENT = new Uint8Array(randomBytes(300_000));
const SHA = createHash('sha256').update(CONTENT).digest('hex');
const ETAG = `"${SHA}"`;

describe('OTA application files', () => {
  let dir: string;
  let ota: RunningOtaServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'simvault-ota-files-'));
    ota = await startOtaServer({
      store: { dataDir: dir },
      keys: [OTA_KEY, OPERATOR_KEY],
      cardAppUrl: 'http://127.0.0.1:9',
      maxUploadBytes: 1_000_000,
    });
    const up = await upload('tv.bin', CONTENT, SHA);
    expect(up.status).toBe(201);
  });
  afterAll(async () => {
    await ota.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function upload(
    name: string,
    body: Uint8Array,
    sha256: string,
    key: SigningKey = OPERATOR_KEY,
    type = 'application/octet-stream',
  ) {
    const url = `${ota.url}/v1/admin/files/${name}?sha256=${sha256}`;
    const res = await fetch(url, {
      method: 'PUT',
      headers: { ...signRequest(key, 'PUT', url), 'content-type': type },
      body: body as Uint8Array<ArrayBuffer>,
    });
    return { status: res.status, json: await res.json() };
  }
  const get = (name: string, headers: Record<string, string> = {}, method = 'GET') =>
    fetch(`${ota.url}/v1/files/${name}`, { method, headers });
  const bytesOf = async (res: Response) => new Uint8Array(await res.arrayBuffer());

  it('serves the whole file with its ETag and SHA-256 digests', async () => {
    const res = await get('tv.bin');
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(ETAG);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('content-length')).toBe(String(CONTENT.length));
    const b64 = Buffer.from(SHA, 'hex').toString('base64');
    expect(res.headers.get('repr-digest')).toBe(`sha-256=:${b64}:`);
    expect(res.headers.get('digest')).toBe(`sha-256=${b64}`);
    expect(Buffer.from(await bytesOf(res)).equals(Buffer.from(CONTENT))).toBe(true);
    const head = await get('tv.bin', {}, 'HEAD');
    expect([head.status, head.headers.get('content-length'), (await head.text()).length]).toEqual([
      200,
      String(CONTENT.length),
      0,
    ]);
  });

  it('serves single ranges with 206, and 416 outside the file', async () => {
    const mid = await get('tv.bin', { range: 'bytes=1000-1999' });
    expect(mid.status).toBe(206);
    expect(mid.headers.get('content-range')).toBe(`bytes 1000-1999/${CONTENT.length}`);
    expect(Buffer.from(await bytesOf(mid)).equals(Buffer.from(CONTENT.subarray(1000, 2000)))).toBe(
      true,
    );
    const suffix = await get('tv.bin', { range: 'bytes=-10' });
    expect(Buffer.from(await bytesOf(suffix)).equals(Buffer.from(CONTENT.subarray(-10)))).toBe(
      true,
    );
    const past = await get('tv.bin', { range: `bytes=${CONTENT.length}-` });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${CONTENT.length}`);
    expect((await past.json()).error.code).toBe('OTA_RANGE_NOT_SATISFIABLE');
    // Several ranges, or a malformed header, are ignored: the whole file.
    expect((await get('tv.bin', { range: 'bytes=0-1,5-6' })).status).toBe(200);
    expect((await get('tv.bin', { range: 'items=0-1' })).status).toBe(200);
  });

  it('answers If-None-Match with 304 and honours If-Range only for the current ETag', async () => {
    const same = await get('tv.bin', { 'if-none-match': ETAG });
    expect([same.status, same.headers.get('etag')]).toEqual([304, ETAG]);
    expect((await get('tv.bin', { 'if-none-match': '"other"' })).status).toBe(200);
    expect((await get('tv.bin', { range: 'bytes=0-9', 'if-range': '"stale"' })).status).toBe(200);
    expect((await get('tv.bin', { range: 'bytes=0-9', 'if-range': `W/${ETAG}` })).status).toBe(200);
    expect((await get('tv.bin', { range: 'bytes=0-9', 'if-range': ETAG })).status).toBe(206);
  });

  it('lets a handset resume an interrupted download and verify the digest', async () => {
    // The first attempt is cut after some bytes.
    const abort = new AbortController();
    const first = await fetch(`${ota.url}/v1/files/tv.bin`, { signal: abort.signal });
    const etag = first.headers.get('etag')!;
    const reader = first.body!.getReader();
    const parts: Uint8Array[] = [];
    let got = 0;
    while (got < 50_000) {
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(value);
      got += value.length;
    }
    abort.abort();
    await reader.cancel().catch(() => undefined);
    expect(got).toBeLessThan(CONTENT.length);
    const rest = await get('tv.bin', { range: `bytes=${got}-`, 'if-range': etag });
    expect(rest.status).toBe(206);
    parts.push(await bytesOf(rest));
    const whole = Buffer.concat(parts);
    expect(whole.length).toBe(CONTENT.length);
    expect(createHash('sha256').update(whole).digest('hex')).toBe(SHA);
  });

  it('replaces a file atomically: a resume against the old ETag gets the new file whole', async () => {
    const v1 = new Uint8Array(randomBytes(5000));
    const v2 = new Uint8Array(randomBytes(6000));
    const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    await upload('app.bin', v1, sha(v1));
    const old = (await get('app.bin', { range: 'bytes=0-99' })).headers.get('etag')!;
    expect(
      (
        await upload(
          'app.bin',
          v2,
          sha(v2),
          OPERATOR_KEY,
          'application/vnd.android.package-archive',
        )
      ).status,
    ).toBe(201);
    const res = await get('app.bin', { range: 'bytes=100-', 'if-range': old });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.android.package-archive');
    expect(Buffer.from(await bytesOf(res)).equals(Buffer.from(v2))).toBe(true);
    // The old content is gone from disk; one object per stored version.
    const listed = await fetch(`${ota.url}/v1/admin/files`, {
      headers: signRequest(OPERATOR_KEY, 'GET', `${ota.url}/v1/admin/files`),
    });
    expect(((await listed.json()) as any[]).map((f) => f.name)).toEqual(['app.bin', 'tv.bin']);
    expect(readdirSync(join(dir, 'files', 'objects')).sort()).toEqual([sha(v2), SHA].sort());
  });

  it('refuses bad uploads and names', async () => {
    const small = new Uint8Array([1, 2, 3]);
    const wrong = await upload('x.bin', small, '00'.repeat(32));
    expect([wrong.status, wrong.json.error.code]).toEqual([422, 'OTA_DIGEST_MISMATCH']);
    const huge = await upload('big.bin', new Uint8Array(1_000_001), '00'.repeat(32));
    expect([huge.status, huge.json.error.code]).toEqual([413, 'OTA_TOO_LARGE']);
    const noDigest = await fetch(`${ota.url}/v1/admin/files/x.bin`, {
      method: 'PUT',
      headers: signRequest(OPERATOR_KEY, 'PUT', `${ota.url}/v1/admin/files/x.bin`),
      body: small,
    });
    expect((await noDigest.json()).error.code).toBe('SERVER_BAD_REQUEST');
    const byOta = await upload(
      'x.bin',
      small,
      createHash('sha256').update(small).digest('hex'),
      OTA_KEY,
    );
    expect(byOta.json.error.code).toBe('SERVER_FORBIDDEN');
    const unsigned = await fetch(`${ota.url}/v1/admin/files/x.bin?sha256=${'00'.repeat(32)}`, {
      method: 'PUT',
      body: small,
    });
    expect((await unsigned.json()).error.code).toBe('SERVER_UNAUTHENTICATED');
    expect((await (await get('..%2Fkeys.json')).json()).error.code).toBe('SERVER_BAD_REQUEST');
    expect((await (await get('.hidden')).json()).error.code).toBe('SERVER_BAD_REQUEST');
    const missing = await get('nothing.bin');
    expect([missing.status, (await missing.json()).error.code]).toEqual([404, 'OTA_UNKNOWN_FILE']);
    // Nothing half-written is left behind.
    expect(readdirSync(join(dir, 'files', 'tmp'))).toEqual([]);
    const del = await fetch(`${ota.url}/v1/admin/files/app.bin`, {
      method: 'DELETE',
      headers: signRequest(OPERATOR_KEY, 'DELETE', `${ota.url}/v1/admin/files/app.bin`),
    });
    expect(del.status).toBe(200);
    expect((await get('app.bin')).status).toBe(404);
  });
});
