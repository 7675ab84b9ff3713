/**
 * Wakes the long-polls and event streams of a SIM when something is queued for it: by this
 * process, or (PostgreSQL) by another one, heard through the store's `LISTEN` connection. The
 * waiters' own periodic re-check covers what a lost connection missed.
 *
 * @module
 */

/**
 * Per-SIM wake-ups.
 *
 * @example
 * ```ts
 * import { MtNotifier } from './mt-notifier.js';
 * const n = new MtNotifier();
 * const woken = n.wait('89860012345678901234', 30_000);
 * n.notify('89860012345678901234');
 * await woken; // true
 * ```
 */
export class MtNotifier {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Wake everything waiting on `iccid`. */
  notify(iccid: string): void {
    const set = this.waiters.get(iccid);
    if (!set) return;
    this.waiters.delete(iccid);
    for (const wake of set) wake();
  }

  /** Wake every waiter (notifications may have been missed: each re-reads its queue). */
  notifyAll(): void {
    const sets = [...this.waiters.values()];
    this.waiters.clear();
    for (const set of sets) for (const wake of set) wake();
  }

  /**
   * Resolve `true` when `iccid` is notified, `false` after `ms` or when `signal` aborts.
   *
   * @param iccid - the SIM
   * @param ms - longest wait
   * @param signal - ends the wait early (the client went away)
   */
  wait(iccid: string, ms: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      if (signal?.aborted) {
        resolve(false);
        return;
      }
      let set = this.waiters.get(iccid);
      if (!set) {
        set = new Set();
        this.waiters.set(iccid, set);
      }
      const done = (woken: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const current = this.waiters.get(iccid);
        current?.delete(wake);
        if (current?.size === 0) this.waiters.delete(iccid);
        resolve(woken);
      };
      const wake = () => {
        done(true);
      };
      const onAbort = () => {
        done(false);
      };
      const timer = setTimeout(() => {
        done(false);
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
      set.add(wake);
    });
  }

  /** Number of SIMs with waiters. */
  get size(): number {
    return this.waiters.size;
  }
}
