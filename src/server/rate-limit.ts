/**
 * Token-bucket rate limiting per key: each key holds up to `capacity` tokens, refilled at
 * `refillPerSecond`; a request takes one.
 *
 * Two kinds of traffic are limited apart, so that nobody can lock a SIM or a card out by sending
 * requests in its name: authenticated traffic (a signed SIM message, a handset's signed MT read)
 * per CID and per SIM, anonymous traffic (card verification, SMS posts, failed credentials) per
 * source address.
 *
 * Buckets live in memory, per process: they are not shared through the database, which would cost
 * a write per request. With N server processes behind a balancer a client can therefore reach N
 * times the configured rate (N x burst, then N x refill per second) before every process refuses
 * it; configure the per-process limit as the deployment's limit divided by N.
 *
 * @module
 */
import { ServerError } from './errors.js';

/**
 * Bucket size and refill rate.
 *
 * @example
 * ```ts
 * import type { RateLimitOptions } from './rate-limit.js';
 * const o: RateLimitOptions = { capacity: 20, refillPerSecond: 5 };
 * ```
 */
export interface RateLimitOptions {
  /** Burst size: tokens a full bucket holds (at least 1). */
  capacity: number;
  /** Tokens added per second (more than 0). */
  refillPerSecond: number;
  /** Buckets kept before idle ones are dropped (default 100 000). */
  maxKeys?: number;
}

/**
 * The default: bursts of 20 requests, then 5 per second, per CID and per SIM.
 *
 * @example
 * ```ts
 * import { DEFAULT_RATE_LIMIT } from './rate-limit.js';
 * DEFAULT_RATE_LIMIT.capacity; // 20
 * ```
 */
export const DEFAULT_RATE_LIMIT: RateLimitOptions = { capacity: 20, refillPerSecond: 5 };

/**
 * The default for anonymous traffic: bursts of 60 requests, then 10 per second, per source
 * address.
 *
 * @example
 * ```ts
 * import { DEFAULT_ANONYMOUS_RATE_LIMIT } from './rate-limit.js';
 * DEFAULT_ANONYMOUS_RATE_LIMIT.refillPerSecond; // 10
 * ```
 */
export const DEFAULT_ANONYMOUS_RATE_LIMIT: RateLimitOptions = { capacity: 60, refillPerSecond: 10 };

/**
 * The `SERVER_RATE_LIMITED` error for a refusal of `wait` seconds.
 *
 * @example
 * ```ts
 * import { rateLimited } from './rate-limit.js';
 * rateLimited(3, 'address 127.0.0.1').retryAfter; // 3
 * ```
 */
export function rateLimited(wait: number, what: string): ServerError {
  return new ServerError(
    'SERVER_RATE_LIMITED',
    `too many requests for ${what}; retry in ${wait} s`,
    {
      retryAfter: wait,
    },
  );
}

/**
 * A set of token buckets, one per key.
 *
 * @example
 * ```ts
 * import { TokenBuckets } from './rate-limit.js';
 * const limits = new TokenBuckets({ capacity: 2, refillPerSecond: 1 });
 * limits.take('cid:0353', 0); // 0: allowed
 * limits.take('cid:0353', 0); // 0
 * limits.take('cid:0353', 0); // 1: wait a second
 * ```
 */
export class TokenBuckets {
  private readonly capacity: number;
  private readonly rate: number;
  private readonly maxKeys: number;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  /** @param options - bucket size and refill rate */
  constructor(options: RateLimitOptions) {
    if (!(options.capacity >= 1) || !(options.refillPerSecond > 0)) {
      throw new ServerError(
        'SERVER_INTERNAL',
        'rate limit needs capacity >= 1 and refillPerSecond > 0',
      );
    }
    this.capacity = options.capacity;
    this.rate = options.refillPerSecond;
    this.maxKeys = options.maxKeys ?? 100_000;
  }

  /**
   * Take one token of `key` at time `now` (ms). Resolves to 0 when allowed, otherwise the seconds
   * (rounded up) until a token is available; nothing is taken then.
   */
  take(key: string, now: number): number {
    let bucket = this.buckets.get(key);
    if (bucket) {
      bucket.tokens = Math.min(
        this.capacity,
        bucket.tokens + ((now - bucket.at) / 1000) * this.rate,
      );
      bucket.at = now;
    } else {
      if (this.buckets.size >= this.maxKeys) this.evict(now);
      bucket = { tokens: this.capacity, at: now };
      this.buckets.set(key, bucket);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.rate));
  }

  /**
   * Take one token from each key: allowed only if every key has one (then each loses one).
   * Resolves like {@link TokenBuckets.take}.
   */
  takeAll(keys: readonly string[], now: number): number {
    let wait = 0;
    for (const key of keys) wait = Math.max(wait, this.peek(key, now));
    if (wait > 0) return wait;
    for (const key of keys) this.take(key, now);
    return 0;
  }

  /** Seconds until `key` has a token (0 = now), without taking it. */
  peek(key: string, now: number): number {
    const bucket = this.buckets.get(key);
    if (!bucket) return 0;
    const tokens = Math.min(this.capacity, bucket.tokens + ((now - bucket.at) / 1000) * this.rate);
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / this.rate));
  }

  /** Number of buckets held. */
  get size(): number {
    return this.buckets.size;
  }

  private evict(now: number): void {
    // Full buckets carry no information; drop them first, then the least recently created.
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.rate >= this.capacity) this.buckets.delete(key);
    }
    for (const key of this.buckets.keys()) {
      if (this.buckets.size < this.maxKeys) break;
      this.buckets.delete(key);
    }
  }
}
