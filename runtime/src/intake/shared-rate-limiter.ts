import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { conditionHeld, errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { RateDecision, RateLimiter } from './rate-limiter';

/** One window per minute, so `ratePerMinute` is the count a window may hold. */
export const RATE_WINDOW_MS = 60_000;

/** Partition key of a key's counters; the sort key is the window start (epoch ms, as a string). */
export const ratePk = (keyName: string): string => `RATE#${keyName}`;

/**
 * A counter item in the tasks table. `ttl` is the table's TTL attribute (lib/constructs/task-store.ts
 * TTL_ATTRIBUTE). The sort key is the window's start, so a counter is never reused for a later window
 * and lazy TTL deletion needs no guard in the condition.
 */
interface CounterItem {
  readonly pk: string;
  readonly sk: string;
  /** Requests admitted in this window. */
  readonly n: number;
  /** Epoch seconds. */
  readonly ttl: number;
}

export interface SharedKeyRateLimiterOptions {
  readonly client: DynamoDBDocumentClient;
  /** The tasks table (it has the `ttl` TTL attribute the counters rely on for cleanup). */
  readonly tableName: string;
  /** Receives `intake.rate_limiter_failed` when DynamoDB errors and the request is let through. */
  readonly logger: Logger;
  /** @default Date.now */
  readonly now?: () => number;
}

interface PreviousCount {
  readonly windowStart: number;
  readonly count: Promise<number>;
}

/**
 * A per-key request rate for the whole intake fleet: a sliding-window counter (as Cloudflare
 * describes it) kept in DynamoDB. Each minute has one atomic counter per key; a request is admitted
 * while `previous × (1 − elapsed/window) + current < rate`.
 *
 * One round-trip per request: the previous window is closed, so its count is final and is read once
 * per key per window per replica (consistent read, cached); the current counter is bumped with
 * `ADD n 1` on the condition `n < cap`, where `cap = floor(rate − previous × (1 − elapsed/window))`.
 * DynamoDB serialises the updates of one item, so all replicas together admit at most `cap`.
 *
 * Limits of the design: the estimate assumes the previous window's requests were spread evenly; and a
 * replica whose clock lags may still add to a window another replica has already cached as closed
 * (by at most its skew's worth of requests).
 */
export class SharedKeyRateLimiter implements RateLimiter {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly logger: Logger;
  private readonly now: () => number;
  /** Per key, the count of the window before the current one; bounded by the number of API keys. */
  private readonly previous = new Map<string, PreviousCount>();

  constructor(options: SharedKeyRateLimiterOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
  }

  async take(key: string, ratePerMinute: number): Promise<RateDecision> {
    const now = this.now();
    const windowStart = Math.floor(now / RATE_WINDOW_MS) * RATE_WINDOW_MS;
    const elapsedMs = now - windowStart;
    try {
      const previous = await this.previousCount(key, windowStart - RATE_WINDOW_MS);
      // Integer arithmetic (rate × window − previous × remaining) so 25% into a window gives exactly 15, not 14.
      const cap = Math.floor((ratePerMinute * RATE_WINDOW_MS - previous * (RATE_WINDOW_MS - elapsedMs)) / RATE_WINDOW_MS);
      // With no room at all the write is pointless, and `attribute_not_exists(n)` would even admit it.
      if (cap <= 0) return refusal(ratePerMinute, previous, 0, elapsedMs);
      const admitted = await conditionHeld(() =>
        this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { pk: ratePk(key), sk: String(windowStart) },
            UpdateExpression: 'ADD n :one SET #ttl = :ttl',
            ConditionExpression: 'attribute_not_exists(n) OR n < :cap',
            ExpressionAttributeNames: { '#ttl': 'ttl' },
            // Kept until two windows after this one ends: it is read as "previous" during the next window.
            ExpressionAttributeValues: { ':one': 1, ':cap': cap, ':ttl': Math.ceil((windowStart + 3 * RATE_WINDOW_MS) / 1000) },
          }),
        ),
      );
      // A failed condition means this window already holds `cap` requests (at least).
      return admitted ? { allowed: true } : refusal(ratePerMinute, previous, cap, elapsedMs);
    } catch (err) {
      // Fail open: when DynamoDB is failing, the task write that follows on the same table fails too
      // (503), so refusing here would protect nothing and would turn status reads into 429s. Logged so
      // an operator sees the limiter was off.
      this.logger.warn('intake.rate_limiter_failed', { key, error: errorMessage(err) });
      return { allowed: true };
    }
  }

  /** The closed window's final count, fetched once per key per window; a failed read is retried next time. */
  private previousCount(key: string, windowStart: number): Promise<number> {
    const cached = this.previous.get(key);
    if (cached !== undefined && cached.windowStart === windowStart) return cached.count;
    const count = this.client
      .send(new GetCommand({ TableName: this.tableName, Key: { pk: ratePk(key), sk: String(windowStart) }, ConsistentRead: true }))
      .then((out) => (out.Item as CounterItem | undefined)?.n ?? 0);
    this.previous.set(key, { windowStart, count });
    count.catch(() => {
      if (this.previous.get(key)?.count === count) this.previous.delete(key);
    });
    return count;
  }
}

/**
 * How long until one more request fits: the previous window's weight must decay until
 * `previous × (1 − t/window) ≤ rate − current − 1`. If even a zero weight is not enough, the current
 * window is full and the wait is until it ends. Never 0, never past the window's end. After a failed
 * condition the current count is only known to be at least `cap`; using `cap` gives the earliest
 * moment a retry could succeed (a busier window only makes the client retry once more).
 */
function refusal(rate: number, previous: number, current: number, elapsedMs: number): RateDecision {
  const room = rate - current - 1;
  // (previous − room) / previous of the window, in integers so an exact second is not rounded up past it.
  const readyAt = room < 0 || previous === 0 ? RATE_WINDOW_MS : Math.ceil((RATE_WINDOW_MS * (previous - room)) / previous);
  return { allowed: false, retryAfterMs: Math.min(RATE_WINDOW_MS - elapsedMs, Math.max(1, readyAt - elapsedMs)) };
}
