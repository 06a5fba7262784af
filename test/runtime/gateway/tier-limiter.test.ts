import { MemoryLimitStore, type LimitStore } from '../../../runtime/src/gateway/limit-store';
import { TierLimiter } from '../../../runtime/src/gateway/tier-limiter';
import { CapacityLease } from '../../../runtime/src/gateway/capacity-lease';
import { RateLimitedError } from '../../../runtime/src/gateway/gateway-errors';
import type { Lane } from '../../../runtime/src/shared/gateway-limits';

const ceilings: Record<Lane, number> = { high: 1, normal: 0.8, batch: 0.6 };

/** Leasing off unless a test turns it on: these tests count shared writes and admissions exactly. */
const NO_LEASE = { horizonMs: 0, headroomShare: 0.25, ttlMs: 1000 };

function limiter(store: LimitStore, rpm = 600, extra: Partial<ConstructorParameters<typeof TierLimiter>[0]> = {}) {
  return new TierLimiter({ tier: 'sonnet', limits: { rpm, itpm: 1_000_000, otpm: 1_000_000 }, ceilings, store, maxDepth: 100, jitter: 0.5, pollMs: 20, flushDelayMs: 1, lease: NO_LEASE, ...extra });
}

describe('TierLimiter (admission with lanes, queue and shared state)', () => {
  it('GIVEN two limiters on one store WHEN both admit as fast as they can THEN together they never exceed the burst', async () => {
    const store = new MemoryLimitStore();
    const [a, b] = [limiter(store, 60), limiter(store, 60)];
    const deadline = Date.now() + 50;
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).acquire({ lane: 'high', cost: [1, 0, 0], deadline })),
    );
    // One minute of capacity (60) plus what refills in the 50 ms wait (< 1).
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(60);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected[0]?.reason).toBeInstanceOf(RateLimitedError);
  });

  it('GIVEN batch filling its ceiling WHEN high arrives THEN high is admitted from its reserved share and batch is not', async () => {
    const store = new MemoryLimitStore();
    const l = limiter(store, 100);
    const batch = await Promise.allSettled(Array.from({ length: 100 }, () => l.acquire({ lane: 'batch', cost: [1, 0, 0], deadline: Date.now() })));
    const admittedBatch = batch.filter((r) => r.status === 'fulfilled').length;
    expect(admittedBatch).toBe(60);
    const high = await Promise.allSettled(Array.from({ length: 40 }, () => l.acquire({ lane: 'high', cost: [1, 0, 0], deadline: Date.now() })));
    expect(high.filter((r) => r.status === 'fulfilled')).toHaveLength(40);
  });

  it('GIVEN a full bucket WHEN a request may wait THEN it is admitted once the bucket refills, and a lane that cannot make its deadline is refused at once', async () => {
    const l = limiter(new MemoryLimitStore(), 600, { maxDepth: 1000 }); // one request per 100 ms
    await Promise.all(Array.from({ length: 600 }, () => l.acquire({ lane: 'high', cost: [1, 0, 0], deadline: Date.now() + 1000 })));
    // Batch may not dip into the last 40% of the bucket: about 24 s away, far past its deadline.
    const batch = await l.acquire({ lane: 'batch', cost: [1, 0, 0], deadline: Date.now() + 1500 }).catch((e: unknown) => e as RateLimitedError);
    expect(batch).toBeInstanceOf(RateLimitedError);
    expect((batch as RateLimitedError).retryAfterMs).toBeGreaterThan(20_000);
    // High may use the whole bucket: it waits at most one refill interval (100 ms), within its deadline.
    await expect(l.acquire({ lane: 'high', cost: [1, 0, 0], deadline: Date.now() + 2000 })).resolves.toMatchObject({ queuedMs: expect.any(Number) });
  });

  it('GIVEN waiters in several lanes WHEN capacity frees THEN high goes first, then normal, then batch', async () => {
    const l = limiter(new MemoryLimitStore(), 600, { maxDepth: 1000, ceilings: { high: 1, normal: 1, batch: 1 } });
    await Promise.all(Array.from({ length: 600 }, () => l.acquire({ lane: 'high', cost: [1, 0, 0], deadline: Date.now() + 1000 })));
    const order: string[] = [];
    const wait = (lane: Lane) => l.acquire({ lane, cost: [1, 0, 0], deadline: Date.now() + 3000 }).then(() => order.push(lane));
    await Promise.all([wait('batch'), wait('normal'), wait('high')]);
    expect(order).toEqual(['high', 'normal', 'batch']);
  });

  it('GIVEN no capacity within the deadline WHEN rejected THEN retry-after-ms reflects the bucket, jittered per caller', async () => {
    const store = new MemoryLimitStore();
    const draws = [0, 1];
    const l = limiter(store, 60, { random: () => draws.shift() ?? 0 });
    await Promise.all(Array.from({ length: 60 }, () => l.acquire({ lane: 'high', cost: [1, 0, 0], deadline: Date.now() })));
    const errors = await Promise.all(
      [1, 2].map(() =>
        l.acquire({ lane: 'high', cost: [1, 0, 0], deadline: Date.now() }).then(
          () => undefined,
          (e: unknown) => e as RateLimitedError,
        ),
      ),
    );
    const [first, second] = errors.map((e) => e?.retryAfterMs);
    expect(first).toBeGreaterThan(900);
    expect(first).toBeLessThanOrEqual(2000);
    expect(second).toBeGreaterThan(first ?? 0);
    expect(errors[0]?.headers['retry-after']).toBe(String(Math.ceil((first ?? 0) / 1000)));
  });

  it('GIVEN reserved output WHEN the correction refunds it THEN the capacity is usable again', async () => {
    const store = new MemoryLimitStore();
    const l = new TierLimiter({ tier: 'haiku', limits: { rpm: 1000, itpm: 1_000_000, otpm: 1000 }, ceilings, store, maxDepth: 10, jitter: 0, flushDelayMs: 1, lease: NO_LEASE });
    await l.acquire({ lane: 'high', cost: [1, 10, 1000], deadline: Date.now() });
    await expect(l.acquire({ lane: 'high', cost: [1, 10, 500], deadline: Date.now() })).rejects.toBeInstanceOf(RateLimitedError);
    l.correct([0, 0, -900]);
    await new Promise((r) => setTimeout(r, 200));
    await expect(l.acquire({ lane: 'high', cost: [1, 10, 500], deadline: Date.now() })).resolves.toBeDefined();
  });

  it('GIVEN plenty of headroom WHEN requests arrive one by one THEN most are admitted from local credit, and unused credit goes back', async () => {
    const inner = new MemoryLimitStore();
    let writes = 0;
    const store: LimitStore = { read: (t) => inner.read(t), write: (t, tat, v) => ((writes += 1), inner.write(t, tat, v)) };
    const T0 = 1_000_000;
    const l = limiter(store, 6000, { lease: { horizonMs: 1000, headroomShare: 0.25, ttlMs: 100 }, now: () => T0 }); // 10 ms per request
    for (let i = 0; i < 45; i += 1) await l.acquire({ lane: 'normal', cost: [1, 0, 0], deadline: T0 + 1000 });
    expect(writes).toBeLessThanOrEqual(10);
    await new Promise((r) => setTimeout(r, 500));
    // Once the credit has expired and been refunded, exactly the 45 admitted remain charged.
    const { tat } = await inner.read('sonnet');
    expect(tat[0]).toBeCloseTo(T0 + 45 * 10, 6);
  });

  it('GIVEN a store that takes 20 ms per call and a steady stream of requests WHEN the lease is claimed THEN the requests that arrived meanwhile go on the slice, and later ones need no write of their own', async () => {
    const inner = new MemoryLimitStore();
    let writes = 0;
    const slow = <T>(v: () => Promise<T>) => new Promise<T>((resolve, reject) => setTimeout(() => v().then(resolve, reject), 20));
    const store: LimitStore = { read: (t) => slow(() => inner.read(t)), write: (t, tat, v) => ((writes += 1), slow(() => inner.write(t, tat, v))) };
    const l = limiter(store, 600_000, { lease: { horizonMs: 1000, headroomShare: 0.25, ttlMs: 2000 } });
    const queued: number[] = [];
    const calls: Promise<unknown>[] = [];
    // 150 requests, one every 2 ms: about ten arrive during each 20 ms write.
    for (let i = 0; i < 150; i += 1) {
      calls.push(l.acquire({ lane: 'normal', cost: [1, 0, 0], deadline: Date.now() + 5000 }).then((a) => queued.push(a.queuedMs)));
      await new Promise((r) => setTimeout(r, 2));
    }
    await Promise.all(calls);
    // Only the cold start waits (the first claim, while demand is still being learnt); a slice
    // given back as soon as others were waiting made every batch a write (over 15 here).
    expect(writes).toBeLessThanOrEqual(8);
    expect(queued.filter((q) => q > 0).length).toBeLessThan(40);
    expect(queued.slice(-50).every((q) => q === 0)).toBe(true);
  });

  it('GIVEN a held lease WHEN calls settle with refunds and overruns THEN they cost no write of their own, and once the lease goes back the shared charge is exactly what was used', async () => {
    const inner = new MemoryLimitStore();
    let writes = 0;
    const store: LimitStore = { read: (t) => inner.read(t), write: (t, tat, v) => ((writes += 1), inner.write(t, tat, v)) };
    const T0 = 2_000_000;
    const l = limiter(store, 6000, { lease: { horizonMs: 1000, headroomShare: 0.25, ttlMs: 100 }, now: () => T0 }); // 10 ms per request
    for (let i = 0; i < 40; i += 1) {
      await l.acquire({ lane: 'normal', cost: [1, 0, 100], deadline: T0 + 1000 });
      // 100 output tokens reserved; 10 used (a refund of 90), every fifth call 130 (an overrun of 30).
      l.correct([0, 0, i % 5 === 4 ? 30 : -90]);
    }
    expect(writes).toBeLessThanOrEqual(10);
    await new Promise((r) => setTimeout(r, 500));
    const { tat } = await inner.read('sonnet');
    const used = 32 * 10 + 8 * 130;
    expect(tat[0]).toBeCloseTo(T0 + 40 * 10, 6);
    expect(tat[2]).toBeCloseTo(T0 + (used * 60_000) / 1_000_000, 6);
  });

  it('GIVEN max_tokens above what the lane may hold WHEN asked THEN 400 says what to lower', async () => {
    const l = limiter(new MemoryLimitStore());
    await expect(l.acquire({ lane: 'batch', cost: [1, 0, 2_000_000], deadline: Date.now() })).rejects.toMatchObject({ status: 400, message: expect.stringContaining('lower max_tokens') });
  });

  it('GIVEN leasing on in two replicas WHEN they admit until the burst is gone THEN together they never exceed it, and once leases go back the shared charge is exactly what was admitted', async () => {
    const store = new MemoryLimitStore();
    const lease = { horizonMs: 1000, headroomShare: 0.25, ttlMs: 150 };
    const T0 = 5_000_000;
    const [a, b] = [limiter(store, 600, { lease, now: () => T0 }), limiter(store, 600, { lease, now: () => T0 })];
    let admitted = 0;
    for (let i = 0; i < 800; i += 1) {
      const ok = await (i % 2 === 0 ? a : b).acquire({ lane: 'high', cost: [1, 0, 0], deadline: T0 }).then(
        () => true,
        () => false,
      );
      if (ok) admitted += 1;
    }
    // The clock stands still: one minute of capacity (600) is all there is.
    expect(admitted).toBeLessThanOrEqual(600);
    // Leases are sized below the lowest ceiling: the burst above it is used only by shared writes.
    expect(admitted).toBeGreaterThanOrEqual(600 - 2 * 0.25 * 600 * 0.6);
    await new Promise((r) => setTimeout(r, 600));
    const { tat } = await store.read('sonnet');
    expect(tat[0]).toBeCloseTo(T0 + admitted * 100, 6);
  });

  it('GIVEN a bucket near its lowest ceiling WHEN a slice is sized THEN it shrinks to what the headroom share allows, and to nothing at saturation', () => {
    const rates = { perMinute: [600, 1_000_000, 1_000_000] as const };
    const now = 1_000_000;
    const lease = new CapacityLease({ horizonMs: 1000, headroomShare: 0.25, ttlMs: 1000, rates, floor: 0.6, giveBack: () => undefined, now: () => now });
    for (let i = 0; i < 100; i += 1) lease.record([1, 0, 0]);
    // Empty buckets: twice the demand (~100 requests), well inside a quarter of 360 free.
    expect(lease.slice([0, 0, 0], now)[0]).toBe(90);
    // 8 requests left below the floor (0.6 × 600 = 360 slots of 100 ms): a quarter of them.
    const near = now + (360 - 8) * 100;
    expect(lease.slice([near, 0, 0], now)[0]).toBe(2);
    expect(lease.slice([now + 359 * 100, 0, 0], now)).toEqual([0, 0, 0]);
  });
});
