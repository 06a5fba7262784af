/** The verdict for one request: allowed, or refused with how long to wait. */
export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number };

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
 * A continuously refilling token bucket per API key, in memory. It lives in one intake replica, so
 * with N replicas behind the load balancer a key gets up to N times its rate: set `ratePerMinute`
 * per replica, or move the buckets to DynamoDB if an exact global limit is ever needed.
 */
export class KeyRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  private readonly burstSeconds: number;

  constructor(options: RateLimiterOptions = {}) {
    this.now = options.now ?? Date.now;
    this.burstSeconds = options.burstSeconds ?? 10;
  }

  take(key: string, ratePerMinute: number): RateDecision {
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
