import { RateLimitedError, invalidRequest, type RejectReason } from './gateway-errors';
import { CapacityLease } from './capacity-lease';
import { ZERO, addUnits, adjust, clamp, drain, fillShare, isZero, spend, subUnits, waitFor, type Rates, type Units } from './gcra';
import type { LimitStore } from './limit-store';
import { LANES, type Lane, type TierLimits } from '../shared/gateway-limits';

export interface AcquireRequest {
  readonly lane: Lane;
  /** Requests, estimated input tokens, max_tokens. */
  readonly cost: Units;
  /** Epoch ms after which waiting is pointless: the caller would have given up. */
  readonly deadline: number;
  /** Aborts the wait (the caller disconnected). */
  readonly signal?: AbortSignal;
}

export interface Admission {
  /** Time spent waiting for capacity. */
  readonly queuedMs: number;
}

export interface TierLimiterOptions {
  readonly tier: string;
  readonly limits: Pick<TierLimits, 'rpm' | 'itpm' | 'otpm'>;
  /** The window the buckets hold (the limits are per window). @default one minute */
  readonly windowMs?: number;
  /** How full each lane may fill the buckets, as a share of a minute's capacity. */
  readonly ceilings: Readonly<Record<Lane, number>>;
  readonly store: LimitStore;
  /** Waiting requests beyond which new ones are refused at once. */
  readonly maxDepth: number;
  /** Spread added to retry-after, as a share of the wait. */
  readonly jitter: number;
  /** Re-read the shared state at least this often while requests wait. @default 200 */
  readonly pollMs?: number;
  /**
   * Refunds wait this long for an admission write to ride on; only an idle tier writes them
   * alone. Late refunds only under-use, never overshoot. @default 200
   */
  readonly flushDelayMs?: number;
  /**
   * Capacity leased in slices and spent locally with no round trip (see CapacityLease). Slices
   * cover about twice this replica's demand over `horizonMs` (0 turns leasing off), take at most
   * `headroomShare` of the headroom below the lowest lane ceiling, and go back after `ttlMs`.
   * @default { horizonMs: 1000, headroomShare: 0.25, ttlMs: 2000 }
   */
  readonly lease?: { readonly horizonMs: number; readonly headroomShare: number; readonly ttlMs: number };
  /** Called when a request has to wait (for metrics). */
  readonly onQueued?: (lane: Lane) => void;
  /** @default Date.now */
  readonly now?: () => number;
  /** @default Math.random */
  readonly random?: () => number;
}

interface Waiter {
  readonly lane: Lane;
  readonly rank: number;
  readonly cost: Units;
  readonly deadline: number;
  readonly enqueuedAt: number;
  done: boolean;
  resolve(admission: Admission): void;
  reject(err: Error): void;
}

/**
 * Admission for one model tier, shared with every other replica through the store. Waiting
 * requests are served strictly by lane, then arrival; each pass admits as many as fit and commits
 * them in one conditional write, so a replica does one round trip per batch, not per request.
 * Refunds and corrections are folded into the next write.
 */
export class TierLimiter {
  private readonly rates: Rates;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly pollMs: number;
  private readonly flushDelayMs: number;
  private waiters: Waiter[] = [];
  private cached: { tat: Units; version: number } | undefined;
  private pending: Units = ZERO;
  private drainRequested = false;
  /** The lowest caps reported since the last write, per kind; undefined when none is pending. */
  private clampRequested: Units | undefined;
  private running = false;
  private wake: (() => void) | undefined;
  private readonly lease: CapacityLease;
  private refillRequested = false;
  /** After a slice came back empty (no headroom), do not ask again before this instant. */
  private refillQuietUntil = 0;

  constructor(private readonly options: TierLimiterOptions) {
    this.rates = { perMinute: [options.limits.rpm, options.limits.itpm, options.limits.otpm], ...(options.windowMs !== undefined ? { windowMs: options.windowMs } : {}) };
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.pollMs = options.pollMs ?? 200;
    this.flushDelayMs = options.flushDelayMs ?? 200;
    const lease = options.lease ?? { horizonMs: 1000, headroomShare: 0.25, ttlMs: 2000 };
    this.lease = new CapacityLease({
      ...lease,
      rates: this.rates,
      floor: Math.min(...LANES.map((l) => options.ceilings[l])),
      giveBack: (unused) => this.charge(unused),
      now: this.now,
    });
  }

  /** Resolve when the request may go upstream; reject with 429 when it cannot within its deadline. */
  acquire(request: AcquireRequest): Promise<Admission> {
    const now = this.now();
    const ceiling = this.options.ceilings[request.lane];
    if (waitFor(ZERO, request.cost, this.rates, now, ceiling) === Number.POSITIVE_INFINITY) {
      const [, input, output] = request.cost;
      const { itpm, otpm } = this.options.limits;
      return Promise.reject(
        invalidRequest(
          `Request needs ~${input} input and ${output} output tokens, more than lane "${request.lane}" of tier ${this.options.tier} may use in a minute (${Math.floor(ceiling * itpm)} input, ${Math.floor(ceiling * otpm)} output); lower max_tokens or split the prompt`,
        ),
      );
    }
    this.lease.record(request.cost);
    // Requests already waiting here go first: a lease never lets a newcomer overtake them.
    if (this.waiters.length === 0 && this.lease.take(request.cost)) {
      this.maybeRefill(now);
      return Promise.resolve({ queuedMs: 0 });
    }
    const rank = LANES.indexOf(request.lane);
    if (this.waiters.length >= this.options.maxDepth) {
      return Promise.reject(this.rejection(request.lane, this.estimateWait(request, rank), 'queue_full'));
    }
    const estimate = this.estimateWait(request, rank);
    if (this.cached !== undefined && now + estimate > request.deadline) {
      return Promise.reject(this.rejection(request.lane, estimate, 'deadline'));
    }
    return new Promise<Admission>((resolve, reject) => {
      const waiter: Waiter = { lane: request.lane, rank, cost: request.cost, deadline: request.deadline, enqueuedAt: now, done: false, resolve, reject };
      // Keep the queue ordered by lane, then arrival.
      const at = this.waiters.findIndex((w) => w.rank > rank);
      if (at < 0) this.waiters.push(waiter);
      else this.waiters.splice(at, 0, waiter);
      request.signal?.addEventListener(
        'abort',
        () => this.settle(waiter, undefined, new RateLimitedError('The caller went away while waiting for capacity', { tier: this.options.tier, lane: request.lane, retryAfterMs: 1, reason: 'deadline' })),
        { once: true },
      );
      this.kick();
    });
  }

  /** Correct the charge after the call: negative units refund, positive ones charge more. */
  correct(delta: Units): void {
    if (isZero(delta)) return;
    // While a lease is held, the correction settles against it locally: no write per call.
    this.charge(this.lease.absorb(delta));
  }

  /** Fold units into the next shared write (refunds negative). */
  private charge(delta: Units): void {
    if (isZero(delta)) return;
    this.pending = addUnits(this.pending, delta);
    // No wake-up: corrections wait for the next batch (or the flush delay) to share its write.
    this.kick(false);
  }

  /** The provider answered 429: treat the shared buckets as empty, as the provider's are. */
  drain(): void {
    this.lease.drop();
    this.drainRequested = true;
    this.kick();
  }

  /**
   * The provider reported at most `available` units left (Infinity: no report for that kind):
   * lower the shared buckets to match, never raise them. Folded into the next batch's write, and
   * written only if it changes something, so a report that agrees with us costs no round trip.
   */
  clamp(available: Units): void {
    // Leased capacity is capacity the provider has not seen spent yet: keep no more of it than it
    // has left, and leave the shared buckets only what remains beyond what we hold.
    this.lease.clampTo(available);
    const held = this.lease.held;
    const shared: Units = [available[0] - held[0], available[1] - held[1], available[2] - held[2]];
    const prev = this.clampRequested;
    this.clampRequested = prev === undefined ? shared : [Math.min(prev[0], shared[0]), Math.min(prev[1], shared[1]), Math.min(prev[2], shared[2])];
    // No wake-up: less capacity frees no waiter, and every reply carries a report.
    this.kick(false);
  }

  /**
   * How full each shared bucket stood at this replica's last read or write, as a share of its
   * capacity (for metrics); undefined before the first.
   */
  fill(): Units | undefined {
    if (this.cached === undefined) return undefined;
    const now = this.now();
    return fillShare(adjust(this.cached.tat, this.pending, this.rates, now), this.rates, now);
  }

  /** Requests waiting in this replica (for tests and metrics). */
  get depth(): number {
    return this.waiters.length;
  }

  private rejection(lane: Lane, waitMs: number, reason: RejectReason): RateLimitedError {
    const base = Number.isFinite(waitMs) && waitMs > 0 ? waitMs : this.pollMs;
    // Each caller draws its own spread, so a fleet told "wait" does not come back in lockstep.
    const retryAfterMs = base * (1 + this.options.jitter * this.random());
    const message =
      reason === 'queue_full'
        ? `Tier ${this.options.tier} has ${this.waiters.length} requests waiting; retry after ${Math.ceil(retryAfterMs)} ms`
        : `Rate limit for tier ${this.options.tier}, lane "${lane}": no capacity within this request's deadline; retry after ${Math.ceil(retryAfterMs)} ms`;
    return new RateLimitedError(message, { tier: this.options.tier, lane, retryAfterMs, reason });
  }

  private estimateWait(request: AcquireRequest, rank: number): number {
    if (this.cached === undefined) return 0;
    const now = this.now();
    let tat = adjust(this.cached.tat, this.pending, this.rates, now);
    if (this.clampRequested !== undefined) tat = clamp(tat, this.clampRequested, this.rates, now);
    for (const w of this.waiters) if (w.rank <= rank) tat = spend(tat, w.cost, this.rates, now);
    return waitFor(tat, request.cost, this.rates, now, this.options.ceilings[request.lane]);
  }

  /**
   * Waiters the lease can cover go now, in queue order (lane, then arrival), stopping at the first
   * that does not fit. Without this, requests that arrived while a write was claiming a slice
   * would find the slice given back on the next pass, and a busy replica would never leave the
   * shared path: one round trip per batch, for good.
   */
  private serveFromLease(): void {
    const now = this.now();
    let served = false;
    for (const w of [...this.waiters]) {
      if (w.done) continue;
      if (!this.lease.take(w.cost)) break;
      if (now - w.enqueuedAt > 1) this.options.onQueued?.(w.lane);
      this.settle(w, { queuedMs: now - w.enqueuedAt });
      served = true;
    }
    if (served) this.maybeRefill(now);
  }

  /** Claim the next slice in the background while the current one still lasts. */
  private maybeRefill(now: number): void {
    if (this.refillRequested || now < this.refillQuietUntil || !this.lease.wantsRefill) return;
    this.refillRequested = true;
    this.kick(false);
  }

  private settle(waiter: Waiter, admission: Admission | undefined, err?: Error): void {
    if (waiter.done) return;
    waiter.done = true;
    this.waiters = this.waiters.filter((w) => w !== waiter);
    if (admission !== undefined) waiter.resolve(admission);
    else waiter.reject(err ?? new Error('rejected'));
  }

  private kick(wakeSleeper = true): void {
    if (wakeSleeper) this.wake?.();
    if (this.running) return;
    this.running = true;
    void this.pump()
      .catch((err: unknown) => {
        // The store failed (throttled, unreachable): fail the waiters rather than hang them.
        this.cached = undefined;
        for (const w of [...this.waiters]) this.settle(w, undefined, err instanceof Error ? err : new Error(String(err)));
      })
      .finally(() => {
        this.running = false;
        if (this.waiters.length > 0 || !isZero(this.pending) || this.drainRequested || this.clampRequested !== undefined || this.refillRequested) this.kick();
      });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      // The server keeps the process alive; a waiting limiter alone should not.
      timer.unref();
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private async pump(): Promise<void> {
    while (this.waiters.length > 0 || !isZero(this.pending) || this.drainRequested || this.clampRequested !== undefined || this.refillRequested) {
      // Refunds wait for company; a lease refill does not, it is what keeps requests off the round trip.
      if (this.waiters.length === 0 && !this.refillRequested) await this.sleep(this.flushDelayMs);
      this.serveFromLease();
      // Requests the lease cannot cover are waiting here: what it holds must serve them through the
      // shared buckets now, not sit unused until its TTL (that would under-use the limit).
      if (this.waiters.length > 0 && !isZero(this.lease.held)) this.lease.release();
      const state = this.cached ?? (await this.options.store.read(this.options.tier));
      this.cached = state;
      const now = this.now();
      const pendingSnap = this.pending;
      const drainSnap = this.drainRequested;
      const refillSnap = this.refillRequested;
      const clampSnap = this.clampRequested;
      let tat = adjust(state.tat, pendingSnap, this.rates, now);
      if (drainSnap) tat = drain(tat, now);
      let clamped = false;
      if (clampSnap !== undefined) {
        const lowered = clamp(tat, clampSnap, this.rates, now);
        clamped = lowered.some((t, i) => t !== tat[i]);
        tat = lowered;
      }

      const admitted: Waiter[] = [];
      let nextWake = this.pollMs;
      let blocked = false;
      // Where the buckets would stand once everyone ahead has gone: a waiter that cannot make its
      // deadline even then is told so now, not when the deadline passes.
      let ahead = tat;
      for (const w of [...this.waiters]) {
        if (w.done) continue;
        const ceiling = this.options.ceilings[w.lane];
        const wait = waitFor(blocked ? ahead : tat, w.cost, this.rates, now, ceiling);
        if (!blocked && wait === 0) {
          tat = spend(tat, w.cost, this.rates, now);
          ahead = tat;
          admitted.push(w);
          continue;
        }
        // Strict order: nothing behind the first waiter that does not fit may overtake it.
        blocked = true;
        if (now + wait > w.deadline) {
          this.settle(w, undefined, this.rejection(w.lane, wait, 'deadline'));
          continue;
        }
        ahead = spend(ahead, w.cost, this.rates, now);
        nextWake = Math.min(nextWake, Math.max(wait, 1));
      }

      // A slice rides on this write when there are no waiters left behind (they come first).
      const grant = (admitted.length > 0 || refillSnap) && !blocked && !drainSnap ? this.lease.slice(tat, now) : ZERO;
      if (!isZero(grant)) tat = spend(tat, grant, this.rates, now);
      if (refillSnap && isZero(grant)) this.refillQuietUntil = now + this.pollMs;
      if (admitted.length > 0 || !isZero(pendingSnap) || drainSnap || clamped || !isZero(grant)) {
        const ok = await this.options.store.write(this.options.tier, tat, state.version);
        if (!ok) {
          // Another replica wrote first: re-read and decide again.
          this.cached = undefined;
          continue;
        }
        this.cached = { tat, version: state.version + 1 };
        this.pending = subUnits(this.pending, pendingSnap);
        if (!isZero(grant)) this.lease.add(grant);
        if (refillSnap) this.refillRequested = false;
        if (drainSnap) this.drainRequested = false;
        if (this.clampRequested === clampSnap) this.clampRequested = undefined;
        const at = this.now();
        for (const w of admitted) {
          if (w.done) this.pending = subUnits(this.pending, w.cost); // aborted mid-write: give it back
          else {
            if (at - w.enqueuedAt > 1) this.options.onQueued?.(w.lane);
            this.settle(w, { queuedMs: at - w.enqueuedAt });
          }
        }
        // Those who arrived during this write go on the slice it just claimed.
        this.serveFromLease();
      } else {
        // A clamp that changed nothing needs no write; one that arrived meanwhile stays for the next pass.
        if (this.clampRequested === clampSnap) this.clampRequested = undefined;
        if (refillSnap) this.refillRequested = false;
      }
      if (this.waiters.length > 0 && admitted.length === 0) {
        await this.sleep(Math.max(1, Math.ceil(nextWake)));
        // Other replicas may have refunded meanwhile.
        this.cached = undefined;
      }
    }
  }
}
