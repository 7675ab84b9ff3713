/**
 * A tiny async mutex: one writer at a time per zone.
 *
 * @module
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  /** Wait for the lock; resolves to the function that releases it. */
  acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => next);
    return ready;
  }
}
