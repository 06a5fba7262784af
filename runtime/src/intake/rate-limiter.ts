/** The verdict for one request: allowed, or refused with how long to wait. */
export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number };

/**
 * What the intake asks of a per-key limiter. Async because the production one
 * (`SharedKeyRateLimiter`, shared-rate-limiter.ts) counts in DynamoDB so the rate holds across replicas.
 */
export interface RateLimiter {
  /** Count one request for `key` and say whether it is within `ratePerMinute`. */
  take(key: string, ratePerMinute: number): Promise<RateDecision>;
}

export interface RateLimiterOptions {
  /** @default Date.now */
  readonly now?: () => number;
  /** Seconds of traffic a key may send at once after being idle. @default 10 */
  readonly burstSeconds?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A continuously refilling token bucket per API key, in memory. It only sees one process, so with N
 * intake replicas a key would get up to N times its rate: the deployed intake uses
 * `SharedKeyRateLimiter` (one count per key for the whole fleet) instead. This one stays for unit
 * tests and single-process runs, where its burst and exact retry times are easy to reason about.
 */
export class KeyRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  private readonly burstSeconds: number;

  constructor(options: RateLimiterOptions = {}) {
    this.now = options.now ?? Date.now;
    this.burstSeconds = options.burstSeconds ?? 10;
  }

  take(key: string, ratePerMinute: number): Promise<RateDecision> {
    return Promise.resolve(this.decide(key, ratePerMinute));
  }

  private decide(key: string, ratePerMinute: number): RateDecision {
    const perMs = ratePerMinute / 60_000;
    const capacity = Math.max(1, (ratePerMinute * this.burstSeconds) / 60);
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: capacity, at: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + (now - bucket.at) * perMs);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterMs: Math.ceil((1 - bucket.tokens) / perMs) };
  }
}
