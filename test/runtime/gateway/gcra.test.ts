import { adjust, drain, remaining, spend, waitFor, type Units } from '../../../runtime/src/gateway/gcra';

const rates = { perMinute: [60, 6000, 1200] as Units };
const now = 1_000_000;

describe('GCRA buckets (requests, input tokens, output tokens per minute)', () => {
  it('GIVEN a full bucket WHEN spending a minute of requests THEN the next one waits one emission interval', () => {
    let tat: Units = [0, 0, 0];
    for (let i = 0; i < 60; i += 1) {
      expect(waitFor(tat, [1, 0, 0], rates, now, 1)).toBe(0);
      tat = spend(tat, [1, 0, 0], rates, now);
    }
    expect(waitFor(tat, [1, 0, 0], rates, now, 1)).toBeCloseTo(1000, 6);
    expect(remaining(tat, rates, now)).toEqual([0, 6000, 1200]);
  });

  it('GIVEN a lane ceiling WHEN the bucket is filled to it THEN that lane waits while a higher ceiling still fits', () => {
    const tat = spend([0, 0, 0], [48, 0, 0], rates, now); // 80% used
    expect(waitFor(tat, [1, 0, 0], rates, now, 0.8)).toBeGreaterThan(0);
    expect(waitFor(tat, [1, 0, 0], rates, now, 1)).toBe(0);
  });

  it('GIVEN a reservation of max_tokens WHEN the reply used fewer THEN the refund frees exactly the difference', () => {
    const tat = spend([0, 0, 0], [1, 100, 1200], rates, now);
    expect(waitFor(tat, [0, 0, 300], rates, now, 1)).toBeGreaterThan(0);
    const refunded = adjust(tat, [0, 0, -300], rates, now);
    expect(waitFor(refunded, [0, 0, 300], rates, now, 1)).toBe(0);
    expect(remaining(refunded, rates, now)[2]).toBe(300);
  });

  it('GIVEN a full bucket WHEN refunded THEN it does not grow past full', () => {
    const refunded = adjust([0, 0, 0], [0, 0, -5000], rates, now);
    expect(remaining(refunded, rates, now)[2]).toBe(1200);
  });

  it('GIVEN an under-estimate of input WHEN corrected upwards THEN the extra is charged', () => {
    const tat = spend([0, 0, 0], [1, 1000, 0], rates, now);
    expect(remaining(adjust(tat, [0, 500, 0], rates, now), rates, now)[1]).toBe(4500);
  });

  it('GIVEN a cost larger than the lane may ever hold WHEN asked THEN it never fits', () => {
    expect(waitFor([0, 0, 0], [1, 0, 1000], rates, now, 0.6)).toBe(Number.POSITIVE_INFINITY);
  });

  it('GIVEN time passing WHEN the bucket refills continuously THEN capacity returns in proportion', () => {
    const tat = spend([0, 0, 0], [60, 0, 0], rates, now);
    expect(remaining(tat, rates, now + 30_000)[0]).toBe(30);
  });

  it('GIVEN the provider answered 429 WHEN drained THEN every bucket is empty', () => {
    expect(remaining(drain([0, 0, 0], now), rates, now)).toEqual([0, 0, 0]);
  });
});
