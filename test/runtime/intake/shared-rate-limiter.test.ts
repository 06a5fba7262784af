import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RateDecision } from '../../../runtime/src/intake/rate-limiter';
import { RATE_WINDOW_MS, SharedKeyRateLimiter, ratePk } from '../../../runtime/src/intake/shared-rate-limiter';
import { createLogger, silentLogger } from '../../../runtime/src/shared/logger';
import { createTestAws, type TestAws } from '../../support/aws';

/** A window boundary, so `T0 + x` is `x` ms into a window. */
const T0 = 1_800_000_000_000;

describe('SharedKeyRateLimiter on DynamoDB Local', () => {
  let aws: TestAws;
  let clock: number;
  /** Two intake replicas: separate instances (and caches) on one table and one clock. */
  let replicas: [SharedKeyRateLimiter, SharedKeyRateLimiter];

  beforeAll(async () => {
    aws = await createTestAws();
  });
  afterAll(() => aws.destroy());
  beforeEach(() => {
    clock = T0;
    const make = () => new SharedKeyRateLimiter({ client: aws.dynamo, tableName: aws.resources.tasksTable, logger: silentLogger, now: () => clock });
    replicas = [make(), make()];
  });

  const key = () => `key-${Math.random().toString(36).slice(2)}`;
  /** `count` requests for `name` at once, alternating between the two replicas. */
  const burst = (name: string, count: number, rate = 60): Promise<RateDecision[]> =>
    Promise.all(Array.from({ length: count }, (_, i) => replicas[i % 2]!.take(name, rate)));
  const admitted = (decisions: readonly RateDecision[]) => decisions.filter((d) => d.allowed).length;

  it('GIVEN two replicas and a key at 60/min WHEN 200 requests arrive at once across both THEN exactly 60 pass, not 120', async () => {
    const k = key();
    const decisions = await burst(k, 200);
    expect(admitted(decisions)).toBe(60);
    // Still full for the rest of the window, whichever replica is asked.
    clock = T0 + 59_000;
    expect(await replicas[0].take(k, 60)).toMatchObject({ allowed: false });
    expect(await replicas[1].take(k, 60)).toMatchObject({ allowed: false });
  });

  it('GIVEN a full previous window WHEN 25% into the next THEN the sliding estimate admits floor(60 - 60 x 0.75) = 15 more', async () => {
    const k = key();
    expect(admitted(await burst(k, 80))).toBe(60);
    // Right at the roll the previous window still weighs fully: no room, and nothing is written.
    clock = T0 + RATE_WINDOW_MS;
    expect(await replicas[1].take(k, 60)).toEqual({ allowed: false, retryAfterMs: 1000 });
    clock = T0 + RATE_WINDOW_MS + RATE_WINDOW_MS / 4;
    const next = await burst(k, 40);
    expect(admitted(next)).toBe(15);
    // One more slot opens each second as the previous window's weight decays (60/min).
    expect(next.find((d) => !d.allowed)).toEqual({ allowed: false, retryAfterMs: 1000 });
    clock += 1000;
    expect(admitted(await burst(k, 5))).toBe(1);
  });

  it('GIVEN a refused request THEN retryAfterMs is above 0 and at most the window, and ends no later than the window', async () => {
    const k = key();
    clock = T0 + 10_000;
    const decisions = await burst(k, 70);
    const refused = decisions.filter((d): d is Extract<RateDecision, { allowed: false }> => !d.allowed);
    expect(refused).toHaveLength(10);
    for (const d of refused) {
      expect(d.retryAfterMs).toBeGreaterThan(0);
      expect(d.retryAfterMs).toBeLessThanOrEqual(RATE_WINDOW_MS);
    }
    // Nothing carried over and the window is full: wait for it to end (50 s from here).
    expect(refused[0]?.retryAfterMs).toBe(50_000);
    // The last millisecond of a full window still waits at least 1 ms, never 0.
    clock = T0 + RATE_WINDOW_MS - 1;
    expect(await replicas[0].take(k, 60)).toEqual({ allowed: false, retryAfterMs: 1 });
  });

  it('GIVEN a key over its rate WHEN another key asks THEN it has its own count', async () => {
    const busy = key();
    const quiet = key();
    expect(admitted(await burst(busy, 70))).toBe(60);
    expect(admitted(await burst(quiet, 70))).toBe(60);
    expect(admitted(await burst(busy, 5))).toBe(0);
  });

  it('GIVEN admitted requests THEN the window item counts them and carries the TTL attribute two windows past its end', async () => {
    const k = key();
    clock = T0 + 30_000;
    expect(admitted(await burst(k, 3))).toBe(3);
    const out = await aws.dynamo.send(new GetCommand({ TableName: aws.resources.tasksTable, Key: { pk: ratePk(k), sk: String(T0) }, ConsistentRead: true }));
    expect(out.Item).toEqual({ pk: `RATE#${k}`, sk: String(T0), n: 3, ttl: (T0 + 3 * RATE_WINDOW_MS) / 1000 });
  });

  it('GIVEN many requests in a window WHEN served THEN the closed previous window is read once per key per window, not per request', async () => {
    const reads: string[] = [];
    // Counts the real client's reads; every call still goes to DynamoDB Local.
    const counting = new Proxy(aws.dynamo, {
      get(target, prop, receiver) {
        if (prop !== 'send') return Reflect.get(target, prop, receiver) as unknown;
        return (command: unknown) => {
          if (command instanceof GetCommand) reads.push(String(command.input.Key?.['sk']));
          return target.send(command as GetCommand);
        };
      },
    }) as DynamoDBDocumentClient;
    const limiter = new SharedKeyRateLimiter({ client: counting, tableName: aws.resources.tasksTable, logger: silentLogger, now: () => clock });
    const k = key();
    await Promise.all(Array.from({ length: 30 }, () => limiter.take(k, 60)));
    clock = T0 + RATE_WINDOW_MS + 1000;
    await Promise.all(Array.from({ length: 30 }, () => limiter.take(k, 60)));
    expect(reads).toEqual([String(T0 - RATE_WINDOW_MS), String(T0)]);
  });

  /** A replica with its own slice options whose UpdateItems are recorded (the `:k` each asked for); all still go to DynamoDB Local. */
  const slicing = (options: { slicesPerWindow?: number; maxSlice?: number }) => {
    const updates: number[] = [];
    const client = new Proxy(aws.dynamo, {
      get(target, prop, receiver) {
        if (prop !== 'send') return Reflect.get(target, prop, receiver) as unknown;
        return (command: unknown) => {
          if (command instanceof UpdateCommand) updates.push(Number(command.input.ExpressionAttributeValues?.[':k']));
          return target.send(command as UpdateCommand);
        };
      },
    }) as DynamoDBDocumentClient;
    const limiter = new SharedKeyRateLimiter({ client, tableName: aws.resources.tasksTable, logger: silentLogger, now: () => clock, ...options });
    return { limiter, updates };
  };
  const counted = async (k: string, windowStart: number) =>
    (await aws.dynamo.send(new GetCommand({ TableName: aws.resources.tasksTable, Key: { pk: ratePk(k), sk: String(windowStart) }, ConsistentRead: true }))).Item?.['n'] as
      | number
      | undefined;

  it('GIVEN a key at 6000/min (slice 100, capped at maxSlice 50) WHEN 400 requests arrive at once across two replicas THEN all pass with at most ceil(400/50)+2 UpdateItems per replica', async () => {
    const a = slicing({ slicesPerWindow: 60 });
    const b = slicing({ slicesPerWindow: 60 });
    const k = key();
    const decisions = await Promise.all(Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? a : b).limiter.take(k, 6000)));
    expect(admitted(decisions)).toBe(400);
    for (const { updates } of [a, b]) {
      expect(updates.length).toBeGreaterThan(0);
      expect(updates.length).toBeLessThanOrEqual(Math.ceil(400 / 50) + 2);
    }
  });

  it('GIVEN a key at 120/min with slice 2 on two replicas WHEN 500 requests arrive at once THEN exactly 120 pass and the window counts 120', async () => {
    const a = slicing({ slicesPerWindow: 60 });
    const b = slicing({ slicesPerWindow: 60 });
    const k = key();
    clock = T0 + 5_000;
    const decisions = await Promise.all(Array.from({ length: 500 }, (_, i) => (i % 2 === 0 ? a : b).limiter.take(k, 120)));
    expect(admitted(decisions)).toBe(120);
    expect(await counted(k, T0)).toBe(120);
    // And the next request, on either replica, is refused until the window ends.
    expect(await a.limiter.take(k, 120)).toEqual({ allowed: false, retryAfterMs: 55_000 });
    expect(await b.limiter.take(k, 120)).toEqual({ allowed: false, retryAfterMs: 55_000 });
  });

  it('GIVEN a key at 10/min with slice 4 WHEN 11 requests come one after another THEN 10 pass (the last reservation takes only what is left) and the 11th waits for the window', async () => {
    const { limiter, updates } = slicing({ slicesPerWindow: 2, maxSlice: 4 });
    const k = key();
    const decisions: RateDecision[] = [];
    for (let i = 0; i < 11; i += 1) decisions.push(await limiter.take(k, 10));
    expect(decisions.slice(0, 10)).toEqual(Array.from({ length: 10 }, () => ({ allowed: true })));
    expect(decisions[10]).toEqual({ allowed: false, retryAfterMs: RATE_WINDOW_MS });
    expect(await counted(k, T0)).toBe(10);
    // 4, then 4 reserved ahead (half a slice left), then 4 refused by the condition, which reports 8,
    // so exactly 2; a refill ahead and the 11th each learn from a refused 4 that the window is full.
    expect(updates).toEqual([4, 4, 4, 2, 4, 4]);
  });

  it('GIVEN a busy key WHEN its units fall to half a slice THEN the next slice is reserved in the background and requests do not wait for it', async () => {
    const { limiter, updates } = slicing({ slicesPerWindow: 2, maxSlice: 4 });
    const k = key();
    // The first request waits for the first slice of 4; taking units down to 2 starts the next reservation.
    expect(await limiter.take(k, 100)).toEqual({ allowed: true });
    expect(await limiter.take(k, 100)).toEqual({ allowed: true });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(updates).toEqual([4, 4]);
    // 2 left + 4 reserved ahead: the next five are served from units in hand, with no UpdateItem.
    for (let i = 0; i < 5; i += 1) expect(await limiter.take(k, 100)).toEqual({ allowed: true });
    expect(updates.length).toBeLessThanOrEqual(3);
    // Whatever was reserved ahead is counted in the window: the fleet-wide bound still holds.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await counted(k, T0)).toBe(updates.reduce((a, b) => a + b, 0));
  });

  it('GIVEN units left from a slice of the last window WHEN the new window has no room THEN the request is refused, not served from them', async () => {
    const a = slicing({ slicesPerWindow: 2 });
    const b = slicing({ slicesPerWindow: 2 });
    const k = key();
    // Slice 5: replica a reserves 5 and uses 1; replica b takes the other 5 of the window's 10.
    expect(await a.limiter.take(k, 10)).toEqual({ allowed: true });
    expect(admitted(await Promise.all(Array.from({ length: 9 }, () => b.limiter.take(k, 10))))).toBe(5);
    expect(await counted(k, T0)).toBe(10);
    // At the roll the full previous window still weighs fully: cap 0, and a's 4 spare units belong to the old window.
    clock = T0 + RATE_WINDOW_MS;
    const before = a.updates.length;
    expect(await a.limiter.take(k, 10)).toEqual({ allowed: false, retryAfterMs: 6_000 });
    expect(a.updates.length).toBe(before);
  });

  it('GIVEN DynamoDB failing (no such table) WHEN a request arrives THEN it is let through and a warning is logged', async () => {
    const lines: string[] = [];
    const logger = createLogger({}, { write: (line) => lines.push(line) });
    const broken = new SharedKeyRateLimiter({ client: aws.dynamo, tableName: 'no-such-table', logger, now: () => clock });
    expect(await broken.take('k', 1)).toEqual({ allowed: true });
    expect(lines.map((l) => JSON.parse(l) as { event?: string; level?: string })).toEqual([
      expect.objectContaining({ event: 'intake.rate_limiter_failed', level: 'warn' }),
    ]);
  });
});
