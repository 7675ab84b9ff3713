// The shared HTTP layer's body reading, where no Node request stream is behind the app (hono's
// app.request(), a fetch handler served by another runtime): the limit holds and the body is
// read once, the same bytes for every reader.
import { describe, expect, it } from 'vitest';
import { loadDriver } from '../../src/server/drivers.js';
import { bodyOf, createBaseApp, jsonOf, limitBody } from '../../src/server/http.js';
import { silentLogger } from '../../src/server/log.js';
import { streamedBody } from './http-client.js';

async function app() {
  const hono = await loadDriver('hono', 'a test app');
  const a = createBaseApp(hono, { name: 'test', log: silentLogger });
  a.post('/echo', limitBody(16), async (c) => {
    const first = await bodyOf(c);
    const again = await bodyOf(c);
    return c.json({ length: first.length, same: first === again });
  });
  a.post('/json', limitBody(64), async (c) => c.json(await jsonOf(c)));
  a.post('/unlimited', async (c) => c.json({ length: (await bodyOf(c)).length }));
  return a;
}

const post = (path: string, body: BodyInit, headers: Record<string, string> = {}) =>
  new Request(`http://x${path}`, { method: 'POST', body, headers, duplex: 'half' } as RequestInit);

describe('request bodies without a Node request stream', () => {
  it('reads a streamed body once and refuses one over the limit', async () => {
    const a = await app();
    const ok = await a.request(post('/echo', streamedBody(new Uint8Array(16), 5)));
    expect(await ok.json()).toEqual({ length: 16, same: true });
    const over = await a.request(post('/echo', streamedBody(new Uint8Array(17), 5)));
    expect([over.status, await over.json()]).toEqual([
      400,
      { error: { code: 'SERVER_BAD_REQUEST', message: 'the request body exceeds 16 bytes' } },
    ]);
    const declared = await a.request(post('/echo', new Uint8Array(4), { 'content-length': '100' }));
    expect(declared.status).toBe(400);
  });

  it('takes at most 64 KiB on a route without a limit of its own', async () => {
    const a = await app();
    const fits = await a.request(post('/unlimited', streamedBody(new Uint8Array(64 * 1024), 4096)));
    expect(await fits.json()).toEqual({ length: 64 * 1024 });
    const over = await a.request(
      post('/unlimited', streamedBody(new Uint8Array(64 * 1024 + 1), 4096)),
    );
    expect(over.status).toBe(400);
  });

  it('reads JSON as strict UTF-8', async () => {
    const a = await app();
    const json = { 'content-type': 'application/json' };
    const ok = await a.request(post('/json', '\ufeff{"a":"é"}', json));
    expect(await ok.json()).toEqual({ a: 'é' });
    const bad = await a.request(post('/json', new Uint8Array([0x7b, 0xff, 0x7d]), json));
    expect([bad.status, ((await bad.json()) as { error: { code: string } }).error.code]).toEqual([
      400,
      'SERVER_BAD_REQUEST',
    ]);
  });
});
