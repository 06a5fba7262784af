/**
 * GCRA (generic cell rate algorithm) over three continuously refilling buckets: requests, input
 * tokens and output tokens per minute, the way the provider meters them. A bucket is one number,
 * its theoretical arrival time (TAT): the instant at which it would be full again. Spending n
 * units moves the TAT n emission intervals later; a spend is allowed while the TAT stays within
 * the tolerance (one minute of capacity) of now. One number per bucket is what makes the state
 * cheap to share between replicas with a single conditional write.
 */

/** Units per kind, always in this order: requests, input tokens, output tokens. */
export type Units = readonly [requests: number, inputTokens: number, outputTokens: number];

export const WINDOW_MS = 60_000;

export const ZERO: Units = [0, 0, 0];

export interface Rates {
  /** Limits per window in Units order (per minute unless `windowMs` says otherwise). */
  readonly perMinute: Units;
  /** The window a bucket holds: its capacity is one window of the limit. @default WINDOW_MS (a minute) */
  readonly windowMs?: number;
}

const windowOf = (rates: Rates): number => rates.windowMs ?? WINDOW_MS;

/** A bucket that has refilled past now is simply full: its TAT counts as now. */
const base = (tat: number, now: number): number => Math.max(tat, now);

/** The TATs after spending `cost` at `now`. */
export function spend(tat: Units, cost: Units, rates: Rates, now: number): Units {
  return tat.map((t, i) => base(t, now) + ((cost[i] ?? 0) * windowOf(rates)) / (rates.perMinute[i] ?? 1)) as unknown as Units;
}

/**
 * Milliseconds until `cost` fits below `ceiling` (a share of the minute's capacity); 0 when it fits
 * now. A cost larger than the ceiling itself never fits: Infinity.
 */
export function waitFor(tat: Units, cost: Units, rates: Rates, now: number, ceiling: number): number {
  let wait = 0;
  const allowed = ceiling * windowOf(rates);
  for (let i = 0; i < 3; i += 1) {
    const need = ((cost[i] ?? 0) * windowOf(rates)) / (rates.perMinute[i] ?? 1);
    if (need > allowed + 1e-9) return Number.POSITIVE_INFINITY;
    const over = base(tat[i] ?? 0, now) + need - allowed - now;
    if (over > wait) wait = over;
  }
  return wait;
}

/**
 * Apply a correction after the call: negative units are refunded (reserved output not generated,
 * input over-estimated), positive ones charged. A refund cannot make a full bucket fuller.
 */
export function adjust(tat: Units, delta: Units, rates: Rates, now: number): Units {
  return tat.map((t, i) => {
    const d = ((delta[i] ?? 0) * windowOf(rates)) / (rates.perMinute[i] ?? 1);
    if (d < 0) return t + d < now ? Math.min(t, now) : t + d;
    return base(t, now) + d;
  }) as unknown as Units;
}

/** Empty every bucket: the provider said 429, so its bucket is empty whatever ours says. */
export function drain(tat: Units, now: number, ceiling = 1): Units {
  return tat.map((t) => Math.max(t, now + ceiling * WINDOW_MS)) as unknown as Units;
}

/**
 * Lower what each bucket holds to at most `available` units (Infinity leaves a bucket alone): the
 * provider reported less remaining than we believe. Only ever moves a TAT later, so it cannot add
 * capacity; `available` 0 is a drain of that bucket.
 */
export function clamp(tat: Units, available: Units, rates: Rates, now: number): Units {
  return tat.map((t, i) => {
    const cap = available[i] ?? Number.POSITIVE_INFINITY;
    if (!Number.isFinite(cap)) return t;
    const floor = now + windowOf(rates) - (Math.max(0, cap) * windowOf(rates)) / (rates.perMinute[i] ?? 1);
    return floor > base(t, now) ? floor : t;
  }) as unknown as Units;
}

/** Units still available to a lane below `ceiling`, per kind (for headers and tests). */
export function remaining(tat: Units, rates: Rates, now: number, ceiling = 1): Units {
  return tat.map((t, i) => Math.max(0, Math.floor(((ceiling * windowOf(rates) - (base(t, now) - now)) * (rates.perMinute[i] ?? 1)) / windowOf(rates)))) as unknown as Units;
}

/** How full each bucket is, as a share of its window's capacity (0 empty, 1 full). */
export function fillShare(tat: Units, rates: Rates, now: number): Units {
  return tat.map((t) => Math.min(1, (base(t, now) - now) / windowOf(rates))) as unknown as Units;
}

export function addUnits(a: Units, b: Units): Units {
  return [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
}

export function subUnits(a: Units, b: Units): Units {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
}

export const isZero = (u: Units): boolean => u[0] === 0 && u[1] === 0 && u[2] === 0;
