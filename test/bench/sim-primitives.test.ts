import { EventQueue } from '../../bench/sim/event-queue';
import { evaluateMetricMath, MetricMathError } from '../../bench/sim/metric-math';
import { seededRng } from '../../bench/sim/rng';
import { TokenBucket } from '../../bench/sim/token-bucket';

describe('EventQueue', () => {
  it('GIVEN events scheduled out of order WHEN popped THEN they come by time, ties in scheduling order', () => {
    const q = new EventQueue<string>();
    q.schedule(5, 'e');
    q.schedule(1, 'a');
    q.schedule(3, 'c1');
    q.schedule(3, 'c2');
    q.schedule(0.5, 'first');
    q.schedule(3, 'c3');
    const out: string[] = [];
    for (let e = q.pop(); e !== undefined; e = q.pop()) out.push(e.payload);
    expect(out).toEqual(['first', 'a', 'c1', 'c2', 'c3', 'e']);
  });

  it('keeps order over many random events', () => {
    const rng = seededRng(7);
    const q = new EventQueue<number>();
    for (let i = 0; i < 2000; i++) q.schedule(Math.floor(rng.uniform(0, 100)), i);
    let last = { at: -1, payload: -1 };
    for (let e = q.pop(); e !== undefined; e = q.pop()) {
      expect(e.at > last.at || (e.at === last.at && e.payload > last.payload)).toBe(true);
      last = e;
    }
  });

  it('rejects a time that is not finite, naming it', () => {
    expect(() => new EventQueue<number>().schedule(Number.NaN, 1)).toThrow(/finite, got NaN/);
  });
});

describe('seededRng', () => {
  it('repeats a sequence for a seed and differs for another', () => {
    const a = Array.from({ length: 5 }, ((r) => () => r.next())(seededRng(42)));
    const b = Array.from({ length: 5 }, ((r) => () => r.next())(seededRng(42)));
    const c = Array.from({ length: 5 }, ((r) => () => r.next())(seededRng(43)));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('stays in range and has the requested mean', () => {
    const r = seededRng(1);
    const ints = Array.from({ length: 5000 }, () => r.int(2, 6));
    expect(Math.min(...ints)).toBe(2);
    expect(Math.max(...ints)).toBe(6);
    const exp = Array.from({ length: 20000 }, () => r.exponential(3));
    const mean = exp.reduce((s, v) => s + v, 0) / exp.length;
    expect(mean).toBeGreaterThan(2.85);
    expect(mean).toBeLessThan(3.15);
  });
});

describe('evaluateMetricMath', () => {
  it('evaluates the worker templates expressions', () => {
    expect(evaluateMetricMath('(high + normal) / tasks', { high: 10, normal: 30, tasks: 8 })).toBe(5);
    const fromZero = 'IF((FILL(high, 0) + FILL(normal, 0)) > 0 AND FILL(tasks, 0) == 0, 1, 0)';
    expect(evaluateMetricMath(fromZero, { high: 0, normal: 3, tasks: 0 })).toBe(1);
    expect(evaluateMetricMath(fromZero, { high: 0, normal: 3, tasks: 2 })).toBe(0);
    expect(evaluateMetricMath(fromZero, { high: Number.NaN, normal: 0, tasks: Number.NaN })).toBe(0);
    expect(evaluateMetricMath('2 * 3 - 4 / 2', {})).toBe(4);
  });

  it('gives no datapoint for a division by zero', () => {
    expect(evaluateMetricMath('q / tasks', { q: 10, tasks: 0 })).toBeNaN();
  });

  it('refuses ids and syntax it does not know', () => {
    expect(() => evaluateMetricMath('a + b', { a: 1 })).toThrow(MetricMathError);
    expect(() => evaluateMetricMath('a + b', { a: 1 })).toThrow(/unknown id b/);
    expect(() => evaluateMetricMath('a $ 2', { a: 1 })).toThrow(/cannot parse/);
  });
});

describe('TokenBucket', () => {
  it('lets a burst through and then spaces callers at the refill rate, in order', () => {
    const bucket = new TokenBucket(60, 2); // 1 per second, burst 2
    expect(bucket.reserve(0)).toBe(0);
    expect(bucket.reserve(0)).toBe(0);
    expect(bucket.reserve(0)).toBeCloseTo(1);
    expect(bucket.reserve(0)).toBeCloseTo(2);
    expect(bucket.reserve(10)).toBe(10);
  });
});
