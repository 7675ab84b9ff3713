// Stream helpers for tests: read a WHATWG stream to the end (keeping what arrived before an
// error), and make a stream from bytes in pieces of a given size.

/** Read `stream` to its end into `parts`; rejects with the error that ended it. */
async function readInto(stream: ReadableStream<Uint8Array>, parts: Uint8Array[]): Promise<void> {
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    parts.push(value);
  }
}

/** Everything a stream yields, and the error that ended it (if any). */
export async function drain(
  stream: ReadableStream<Uint8Array>,
): Promise<{ out: Buffer; error: unknown }> {
  const parts: Uint8Array[] = [];
  try {
    await readInto(stream, parts);
    return { out: Buffer.concat(parts), error: undefined };
  } catch (error) {
    return { out: Buffer.concat(parts), error };
  }
}

/** Everything a stream yields; rejects with its error. */
export async function collect(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  await readInto(stream, parts);
  return Buffer.concat(parts);
}

/** A stream of `bytes` in pieces of `size` (a copy each, as a real reader would give). */
export function pieces(bytes: Uint8Array, size = 65536): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (off >= bytes.length) {
        c.close();
        return;
      }
      c.enqueue(bytes.slice(off, off + size));
      off += size;
    },
  });
}
