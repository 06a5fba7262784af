import { stubFailures, type StubOverride } from '../../tools/local/stub-model';

/**
 * The provider's request limit, enforced by the stub model through its `intercept` hook: a
 * continuously refilling bucket holding one minute of requests, as Anthropic meters RPM. A request
 * without a token gets the provider's 429 with `retry-after` (whole seconds).
 */
export class UpstreamRateLimit {
  private tokens: number;
  private updatedAt: number;
  accepted = 0;
  rejected = 0;
  /** When each accepted request arrived (ms), for a steady-state window. */
  private readonly acceptedAt: number[] = [];

  constructor(readonly rpm: number, private readonly now: () => number = Date.now) {
    this.tokens = rpm;
    this.updatedAt = now();
  }

  /** Use as the stub's `intercept`: undefined lets the call through, otherwise a 429. */
  readonly intercept = (): StubOverride | undefined => {
    const now = this.now();
    this.tokens = Math.min(this.rpm, this.tokens + ((now - this.updatedAt) * this.rpm) / 60_000);
    this.updatedAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.accepted += 1;
      this.acceptedAt.push(now);
      return undefined;
    }
    this.rejected += 1;
    return stubFailures.rateLimited(Math.max(1, Math.ceil(((1 - this.tokens) * 60) / this.rpm)));
  };

  /** Share of the minute of burst still in the bucket. */
  level(): number {
    const now = this.now();
    return Math.min(this.rpm, this.tokens + ((now - this.updatedAt) * this.rpm) / 60_000) / this.rpm;
  }

  acceptedBetween(from: number, to: number): number {
    return this.acceptedAt.filter((t) => t >= from && t < to).length;
  }
}
