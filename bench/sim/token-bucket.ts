/**
 * A continuously refilling bucket, as the provider meters requests per minute. `reserve` never
 * refuses: it returns when the caller may go, so callers queue in arrival order (the gateway holds a
 * request until its token is due rather than sending it upstream to be rejected).
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;
  private readonly ratePerSecond: number;

  /**
   * @param perMinute refill rate (the provider's RPM limit)
   * @param capacity burst size; the provider allows a full minute's worth
   */
  constructor(perMinute: number, readonly capacity: number = perMinute, start = 0) {
    if (!(perMinute > 0)) throw new RangeError(`perMinute must be positive, got ${perMinute}`);
    this.ratePerSecond = perMinute / 60;
    this.tokens = capacity;
    this.updatedAt = start;
  }

  /** Take one token at `now` (seconds); returns the time the request may start (>= now). */
  reserve(now: number): number {
    const at = Math.max(now, this.updatedAt);
    this.tokens = Math.min(this.capacity, this.tokens + (at - this.updatedAt) * this.ratePerSecond);
    this.updatedAt = at;
    this.tokens -= 1;
    return this.tokens >= 0 ? at : at + -this.tokens / this.ratePerSecond;
  }
}
