// Raw HTTP for what fetch cannot do: send from another loopback address, or send bytes that are
// not a valid request at all.
import { request, type RequestOptions } from 'node:http';
import { connect } from 'node:net';

function exchange(
  url: string,
  options: RequestOptions,
  body: string | undefined,
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(url, options, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as unknown) : null });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** POST a JSON body from a chosen local address (127.0.0.0/8 is all loopback on Linux). */
export function postFrom(
  localAddress: string,
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown }> {
  return exchange(
    url,
    { method: 'POST', localAddress, headers: { 'content-type': 'application/json', ...headers } },
    JSON.stringify(body),
  );
}

/** GET from a chosen local address; resolves to the status and parsed JSON body. */
export function getFrom(
  localAddress: string,
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown }> {
  return exchange(url, { method: 'GET', localAddress, headers }, undefined);
}

/** Send raw bytes to a server and resolve to everything it answered before closing. */
export function rawExchange(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.write(bytes);
    });
    const parts: Buffer[] = [];
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      resolve(Buffer.concat(parts).toString('utf8'));
    });
  });
}

/** `bytes` as a web stream of `part`-byte pieces: a body sent without a content-length. */
export function streamedBody(bytes: Uint8Array, part: number): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < bytes.length; at += part)
        controller.enqueue(bytes.slice(at, at + part));
      controller.close();
    },
  });
}
