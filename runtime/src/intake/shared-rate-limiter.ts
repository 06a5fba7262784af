import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionalCheckFailed } from '../shared/dynamo-conditions';
import type { DynamoStoreOptions } from '../shared/dynamo-store';
import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { TASK_TTL_ATTRIBUTE } from '../shared/task-retention';
import type { RateDecision, RateLimiter } from './rate-limiter';

/** One window per minute, so `ratePerMinute` is the count a window may hold. */
export const RATE_WINDOW_MS = 60_000;

/** Partition key of a key's counters; the sort key is the window start (epoch ms, as a string). */
export const ratePk = (keyName: string): string => `RATE#${keyName}`;

/**
 * A counter item in the tasks table, expiring by the table's TTL attribute (TASK_TTL_ATTRIBUTE).
 * The sort key is the window's start, so a counter is never reused for a later window
 * and lazy TTL deletion needs no guard in the condition.
 */
interface CounterItem {
  readonly pk: string;
  readonly sk: string;
  /** Requests admitted in this window. */
  readonly n: number;
  /** Epoch seconds. */
  readonly [TASK_TTL_ATTRIBUTE]: number;
}

/** `tableName` is the tasks table: its TTL attribute cleans the counters up. */
export interface SharedKeyRateLimiterOptions extends DynamoStoreOptions {
  /** Receives `intake.rate_limiter_failed` when DynamoDB errors and the request is let through. */
  readonly logger: Logger;
  /**
   * A key's slice (the units a replica reserves per UpdateItem) is `ratePerMinute / slicesPerWindow`,
   * so 60 means about one second of the key's rate.
   * @default 60
   */
  readonly slicesPerWindow?: number;
  /**
   * A slice's size while the key is not busy. A busy key's slice grows to `leadMs` of its recent
   * demand on this replica (still at most one slice per window of its rate), so requests keep
   * finding units in hand while the next slice is reserved. @default 50
   */
  readonly maxSlice?: number;
  /** How much of a busy key's recent demand one slice covers. @default 3000 */
  readonly leadMs?: number;
}

/** Requests a replica saw for a key over the current period and the rate of the period before. */
interface Demand {
  periodStart: number;
  count: number;
  previousPerSecond: number;
}

/** Demand is measured over periods this long. */
const DEMAND_PERIOD_MS = 10_000;

interface PreviousCount {
  readonly windowStart: number;
  readonly count: Promise<number>;
}

/** One reservation round that concurrent requests for a key share. */
interface Batch {
  /** Requests waiting on this round (each will try to take one unit when it ends). */
  demand: number;
  /** The newest waiter's cap: caps only grow within a window as the previous window's weight decays. */
  cap: number;
  slice: number;
  /** Resolves to false when the window had no room left at all; rejects when DynamoDB failed. */
  done: Promise<boolean>;
}

/** A replica's units for one key in one window; replaced (units and all) when the window changes. */
interface Slices {
  readonly windowStart: number;
  /** Reserved in DynamoDB for this window and not handed out yet. */
  units: number;
  /** The round that newcomers join; it has not been sent yet. */
  next: Batch | undefined;
  /** Settles when the last round sent has ended; the next round starts only then (single-flight). */
  tail: Promise<unknown>;
  /** A round started ahead of need is pending: requests keep taking units meanwhile. */
  refilling: boolean;
}

/** What one request knows when it has to wait for a reservation. */
interface Ask {
  readonly key: string;
  readonly rate: number;
  readonly previous: number;
  readonly cap: number;
  readonly elapsedMs: number;
}

/**
 * A per-key request rate for the whole intake fleet: a sliding-window counter (as Cloudflare
 * describes it) kept in DynamoDB. Each minute has one atomic counter per key; a request is admitted
 * while `previous × (1 − elapsed/window) + current < rate`.
 *
 * The previous window is closed, so its count is final and is read once per key per window per
 * replica (consistent read, cached). The current counter counts units that replicas have reserved,
 * not requests: a replica reserves a slice (`maxSlice`, or `leadMs` of the key's recent demand on this
 * replica when more, at most `rate / slicesPerWindow` and at least 1) with
 * `ADD n k` on the condition `n + k ≤ cap`, where `cap = floor(rate − previous × (1 − elapsed/window))`,
 * then hands the units out locally, so a busy key costs one UpdateItem per slice instead of one per
 * request (one hot item serialises its updates). DynamoDB serialises the updates of one item, so all
 * replicas together admit at most `cap`. Requests that find no local unit share one reservation in
 * flight per key (its size is the number waiting, rounded up to whole slices, at most `cap`); when
 * less than that is left, the failed condition returns the count and the replica tries once more for
 * exactly what is left. A request waits for at most two rounds, then is refused.
 *
 * Limits of the design: units reserved but not used when the window ends are lost, so a key may be
 * under-admitted by up to `replicas × slice` per window (a 60/min key has slice 1 and loses nothing);
 * the estimate assumes the previous window's requests were spread evenly; and a replica whose clock
 * lags may still add to a window another replica has already cached as closed (by at most its skew's
 * worth of requests).
 */
export class SharedKeyRateLimiter implements RateLimiter {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly slicesPerWindow: number;
  private readonly maxSlice: number;
  /** Per key, the count of the window before the current one; bounded by the number of API keys. */
  private readonly previous = new Map<string, PreviousCount>();
  /** Per key, the units reserved for the current window; bounded by the number of API keys. */
  private readonly slices = new Map<string, Slices>();
  /** Per key, this replica's recent demand, which sizes a busy key's slice; bounded by the number of API keys. */
  private readonly demand = new Map<string, Demand>();
  private readonly leadMs: number;

  constructor(options: SharedKeyRateLimiterOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.slicesPerWindow = options.slicesPerWindow ?? 60;
    this.maxSlice = options.maxSlice ?? 50;
    this.leadMs = options.leadMs ?? 3000;
  }

  async take(key: string, ratePerMinute: number): Promise<RateDecision> {
    const now = this.now();
    const windowStart = Math.floor(now / RATE_WINDOW_MS) * RATE_WINDOW_MS;
    const elapsedMs = now - windowStart;
    this.count(key, now);
    let slices = this.slices.get(key);
    // A new window starts with nothing in hand: units of the old one were counted against the old cap.
    if (slices === undefined || slices.windowStart !== windowStart) {
      slices = { windowStart, units: 0, next: undefined, tail: Promise.resolve(), refilling: false };
      this.slices.set(key, slices);
    }
    // Units already reserved stay within the cap: it only grows during a window.
    if (slices.units > 0) {
      slices.units -= 1;
      this.refillAhead(key, ratePerMinute, slices, elapsedMs);
      return { allowed: true };
    }
    try {
      const previous = await this.previousCount(key, windowStart - RATE_WINDOW_MS);
      // Integer arithmetic (rate × window − previous × remaining) so 25% into a window gives exactly 15, not 14.
      const cap = Math.floor((ratePerMinute * RATE_WINDOW_MS - previous * (RATE_WINDOW_MS - elapsedMs)) / RATE_WINDOW_MS);
      // With no room at all the write is pointless, and `attribute_not_exists(n)` would even admit it.
      if (cap <= 0) return refusal(ratePerMinute, previous, 0, elapsedMs);
      const ask: Ask = { key, rate: ratePerMinute, previous, cap, elapsedMs };
      // At most two rounds: the second is for a request whose round ended with room that others took first.
      for (let round = 0; round < 2; round += 1) {
        if (slices.units > 0) {
          slices.units -= 1;
          return { allowed: true };
        }
        const hadRoom = await this.join(slices, ask);
        if (slices.units > 0) {
          slices.units -= 1;
          return { allowed: true };
        }
        if (!hadRoom) break;
      }
      // The window holds `cap` (at least): every unit up to it is reserved.
      return refusal(ratePerMinute, previous, cap, elapsedMs);
    } catch (err) {
      // Fail open: when DynamoDB is failing, the task write that follows on the same table fails too
      // (503), so refusing here would protect nothing and would turn status reads into 429s. Logged so
      // an operator sees the limiter was off.
      this.logger.warn('intake.rate_limiter_failed', { key, error: errorMessage(err) });
      return { allowed: true };
    }
  }

  /**
   * Keep a busy key off the round trip: once a replica's units fall to half a slice, reserve the
   * next slice in the background, so requests find units in hand instead of waiting for an
   * UpdateItem. Only for keys whose slice is more than one unit (from 120/min), so a small key
   * stays exact; a busy key may lose up to two slices per replica at a window's end instead of one.
   */
  private refillAhead(key: string, rate: number, slices: Slices, elapsedMs: number): void {
    const slice = this.sliceFor(key, rate);
    if (slice <= 1 || slices.refilling || slices.next !== undefined || slices.units > slice / 2) return;
    slices.refilling = true;
    const refill = async () => {
      const previous = await this.previousCount(key, slices.windowStart - RATE_WINDOW_MS);
      const cap = Math.floor((rate * RATE_WINDOW_MS - previous * (RATE_WINDOW_MS - elapsedMs)) / RATE_WINDOW_MS);
      if (cap <= 0) return;
      // A slice of demand that no request holds yet: its units stay in hand for the next requests.
      await this.join(slices, { key, rate, previous, cap, elapsedMs }, slice);
    };
    refill()
      .catch((err: unknown) => this.logger.warn('intake.rate_limiter_failed', { key, error: errorMessage(err) }))
      .finally(() => {
        slices.refilling = false;
      });
  }

  /**
   * `maxSlice` units, or `leadMs` of the key's recent demand when that is more (a replica serving
   * 70 requests a second holds about three seconds of them), never more than one slice of the
   * window (`rate / slicesPerWindow`), which is what bounds the units lost at a window's end.
   */
  private sliceFor(key: string, rate: number): number {
    const busy = Math.ceil((this.perSecond(key) * this.leadMs) / 1000);
    return Math.min(Math.max(this.maxSlice, busy), Math.max(1, Math.floor(rate / this.slicesPerWindow)));
  }

  private count(key: string, now: number): void {
    const d = this.demand.get(key);
    if (d === undefined) {
      this.demand.set(key, { periodStart: now, count: 1, previousPerSecond: 0 });
      return;
    }
    if (now - d.periodStart >= DEMAND_PERIOD_MS) {
      d.previousPerSecond = (d.count * 1000) / Math.max(DEMAND_PERIOD_MS, now - d.periodStart);
      d.periodStart = now;
      d.count = 0;
    }
    d.count += 1;
  }

  /** Requests per second for `key` on this replica: the last full period's rate, or this period's so far if higher. */
  private perSecond(key: string): number {
    const d = this.demand.get(key);
    return d === undefined ? 0 : Math.max(d.previousPerSecond, (d.count * 1000) / DEMAND_PERIOD_MS);
  }

  /**
   * Wait for the key's next reservation round, starting one if none is pending. A round is sent once
   * the previous one has ended and after the current tick, so requests that arrive together share it.
   */
  private join(slices: Slices, ask: Ask, demand = 1): Promise<boolean> {
    const slice = this.sliceFor(ask.key, ask.rate);
    let batch = slices.next;
    if (batch === undefined) {
      const created: Batch = { demand: 0, cap: ask.cap, slice, done: Promise.resolve(true) };
      const run = (): Promise<boolean> => {
        // From here on newcomers form the next round, sent after this one.
        slices.next = undefined;
        return this.reserve(slices, ask.key, created);
      };
      created.done = slices.tail.then(run, run);
      slices.tail = created.done.catch(() => undefined);
      slices.next = created;
      batch = created;
    }
    batch.demand += demand;
    batch.cap = ask.cap;
    batch.slice = slice;
    return batch.done;
  }

  /** One round: reserve enough whole slices for its waiters; false when the window is full. */
  private async reserve(slices: Slices, key: string, batch: Batch): Promise<boolean> {
    const needed = batch.demand - slices.units;
    if (needed <= 0) return true;
    const wanted = Math.min(batch.cap, Math.ceil(needed / batch.slice) * batch.slice);
    const first = await this.add(key, slices.windowStart, wanted, batch.cap);
    if (first.added) {
      slices.units += wanted;
      return true;
    }
    // Less than asked for is left: try once more for what the failed condition says is left (or 1).
    const left = first.count === undefined ? 1 : Math.min(wanted - 1, batch.cap - first.count);
    if (wanted <= 1 || left <= 0) return false;
    const second = await this.add(key, slices.windowStart, left, batch.cap);
    if (!second.added) return false;
    slices.units += left;
    return true;
  }

  /** `ADD n :k` while `n + k ≤ cap`; on a failed condition, the count the item held (when returned). */
  private async add(key: string, windowStart: number, k: number, cap: number): Promise<{ added: boolean; count?: number }> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: ratePk(key), sk: String(windowStart) },
          UpdateExpression: 'ADD n :k SET #ttl = :ttl',
          // k ≤ cap always (the caller clamps), so `attribute_not_exists(n)` cannot admit past the cap.
          ConditionExpression: 'attribute_not_exists(n) OR n <= :capMinusK',
          ExpressionAttributeNames: { '#ttl': TASK_TTL_ATTRIBUTE },
          // Kept until two windows after this one ends: it is read as "previous" during the next window.
          ExpressionAttributeValues: { ':k': k, ':capMinusK': cap - k, ':ttl': Math.ceil((windowStart + 3 * RATE_WINDOW_MS) / 1000) },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { added: true };
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw err;
      const count = countOf((err as { Item?: unknown }).Item);
      return count === undefined ? { added: false } : { added: false, count };
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
 * `n` of the item a failed condition returned. The document client does not unmarshall the
 * exception's item, so it is a raw attribute value (`{ N: "12" }`); a plain number is accepted too.
 */
function countOf(item: unknown): number | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const n = (item as Record<string, unknown>)['n'];
  if (typeof n === 'number') return n;
  if (typeof n === 'object' && n !== null && typeof (n as { N?: unknown }).N === 'string') return Number((n as { N: string }).N);
  return undefined;
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
