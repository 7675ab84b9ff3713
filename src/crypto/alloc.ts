/**
 * Output buffers without the zero fill, where the runtime can allocate them (Node's `Buffer`):
 * zeroing a 1 MiB buffer costs about a tenth of sealing it with AES-GCM on native code. Portable:
 * elsewhere it is a plain `new Uint8Array`.
 *
 * @module
 */

interface UnpooledAllocator {
  allocUnsafeSlow(size: number): Uint8Array;
}

const nodeBuffer = (globalThis as { Buffer?: UnpooledAllocator }).Buffer;

// Below this a zero fill costs next to nothing, and a plain array is as fast to make.
const MIN_UNINITIALIZED = 64 * 1024;

/**
 * A `Uint8Array` of `length` bytes whose contents are arbitrary (stale memory). Only for a
 * buffer the caller overwrites completely before it is returned to anyone, and drops when it
 * fails before then. The buffer is never a slice of a shared pool, so it holds no other data.
 */
export function uninitializedBytes(length: number): Uint8Array {
  if (!nodeBuffer || length < MIN_UNINITIALIZED) return new Uint8Array(length);
  const b = nodeBuffer.allocUnsafeSlow(length);
  // A plain Uint8Array (not a Buffer) over the same memory, like every other output.
  return new Uint8Array(b.buffer, b.byteOffset, length);
}
