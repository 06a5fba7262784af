import { ZERO, WINDOW_MS, addUnits, isZero, subUnits, type Rates, type Units } from './gcra';

export interface CapacityLeaseOptions {
  /**
   * A slice covers about twice what this replica was asked for over this long, so a refill
   * requested at half a slice lands before the slice runs out. 0 turns leasing off.
   */
  readonly horizonMs: number;
  /** A slice takes at most this share of the headroom left below the lowest lane ceiling. */
  readonly headroomShare: number;
  /** Unused capacity goes back to the shared buckets this long after the last slice. */
  readonly ttlMs: number;
  readonly rates: Rates;
  /** The lowest lane ceiling: below it every lane admits freely, so a lease bends no lane rule. */
  readonly floor: number;
  /** Give unused capacity back (a negative correction on the shared buckets). */
  readonly giveBack: (unused: Units) => void;
  readonly now: () => number;
}

const fits = (cost: Units, available: Units): boolean => cost[0] <= available[0] && cost[1] <= available[1] && cost[2] <= available[2];

/**
 * Capacity this replica has already charged to the shared buckets and may spend locally, with no
 * round trip: the shared write happens when a slice is claimed (in the background, before the
 * current slice runs out), not per request. Limits stay exact because a slice is charged like any
 * admission; the cost is capacity held but not used, which is bounded: a slice is sized from this
 * replica's recent demand, never more than a share of the headroom left below the lowest lane
 * ceiling (so it shrinks to nothing as the buckets near saturation, where every admission is a
 * shared write again and lanes decide), and what is unused goes back after `ttlMs`.
 */
export class CapacityLease {
  private credit: Units = ZERO;
  private lastSlice: Units = ZERO;
  /** Requests asked for, decaying with time constant `horizonMs`: about the last horizon's demand. */
  private demand = 0;
  private demandAt = 0;
  /** Running mean cost of a request here, per kind. */
  private meanCost: Units = ZERO;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: CapacityLeaseOptions) {}

  get enabled(): boolean {
    return this.options.horizonMs > 0;
  }

  /** What is held now (for tests and metrics). */
  get held(): Units {
    return this.credit;
  }

  /** Count a request this replica was asked to admit: the demand that sizes the next slice. */
  record(cost: Units): void {
    if (!this.enabled) return;
    const now = this.options.now();
    this.demand = this.decayed(now) + 1;
    this.demandAt = now;
    const w = 0.1;
    this.meanCost = isZero(this.meanCost) ? cost : [this.meanCost[0] * (1 - w) + cost[0] * w, this.meanCost[1] * (1 - w) + cost[1] * w, this.meanCost[2] * (1 - w) + cost[2] * w];
  }

  /** Spend from the lease if the cost fits; false leaves the request to the shared buckets. */
  take(cost: Units): boolean {
    if (!fits(cost, this.credit)) return false;
    this.credit = subUnits(this.credit, cost);
    return true;
  }

  /** The lease is running low (any kind under half its last slice) while requests keep coming: claim the next slice now. */
  get wantsRefill(): boolean {
    if (!this.enabled || this.decayed(this.options.now()) < 1) return false;
    if (isZero(this.lastSlice)) return true;
    for (let i = 0; i < 3; i += 1) if ((this.lastSlice[i] ?? 0) > 0 && (this.credit[i] ?? 0) < (this.lastSlice[i] ?? 0) / 2) return true;
    return false;
  }

  /**
   * Settle a call's correction against the lease while one is held, with no shared write: a refund
   * (negative) joins the credit, since it is capacity already charged to the shared buckets, and
   * goes back with it; an overrun (positive) is paid from the credit as far as it goes. Returns
   * what is left for the shared buckets (all of it when no lease is held). Refunds add no request
   * units, so they never let a request in on their own: only slices do, below the lowest ceiling.
   */
  absorb(delta: Units): Units {
    if (isZero(this.lastSlice)) return delta;
    const credit: [number, number, number] = [this.credit[0], this.credit[1], this.credit[2]];
    const rest: [number, number, number] = [0, 0, 0];
    for (let i = 0; i < 3; i += 1) {
      const d = delta[i] ?? 0;
      if (d <= 0) credit[i] = (credit[i] ?? 0) - d;
      else {
        const paid = Math.min(d, credit[i] ?? 0);
        credit[i] = (credit[i] ?? 0) - paid;
        rest[i] = d - paid;
      }
    }
    this.credit = credit;
    return rest;
  }

  /**
   * The slice to claim when the shared buckets stand at `tat`: twice the recent demand in mean
   * requests, capped by the headroom share below the lowest ceiling (ZERO when under one request).
   */
  slice(tat: Units, now: number): Units {
    if (!this.enabled || isZero(this.meanCost)) return ZERO;
    const wanted = Math.ceil(2 * Math.max(1, this.decayed(now)));
    let fit = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 3; i += 1) {
      const per = this.meanCost[i] ?? 0;
      if (per <= 0) continue;
      const window = this.options.rates.windowMs ?? WINDOW_MS;
      const interval = window / (this.options.rates.perMinute[i] ?? 1);
      const free = (this.options.floor * window - (Math.max(tat[i] ?? 0, now) - now)) / interval;
      fit = Math.min(fit, free / per);
    }
    const n = Math.min(wanted, Math.floor(fit * this.options.headroomShare));
    if (n < 1) return ZERO;
    return [Math.ceil(this.meanCost[0] * n), Math.ceil(this.meanCost[1] * n), Math.ceil(this.meanCost[2] * n)];
  }

  /** A slice was charged to the shared buckets: hold it, and give back what is unused after the TTL. */
  add(slice: Units): void {
    this.credit = addUnits(this.credit, slice);
    this.lastSlice = slice;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.release(), this.options.ttlMs);
    this.timer.unref();
  }

  /** Keep no more than `available` per kind (the provider reported less left than we hold). */
  clampTo(available: Units): void {
    this.credit = [Math.min(this.credit[0], available[0]), Math.min(this.credit[1], available[1]), Math.min(this.credit[2], available[2])];
  }

  /** The provider's buckets are empty: what we hold is gone too (nothing is given back). */
  drop(): void {
    this.credit = ZERO;
    this.lastSlice = ZERO;
  }

  /** Give back everything held now. */
  release(): void {
    clearTimeout(this.timer);
    const unused = this.credit;
    this.credit = ZERO;
    this.lastSlice = ZERO;
    if (!isZero(unused)) this.options.giveBack([-unused[0], -unused[1], -unused[2]]);
  }

  private decayed(now: number): number {
    if (this.demand === 0) return 0;
    return this.demand * Math.exp(-(now - this.demandAt) / this.options.horizonMs);
  }
}
