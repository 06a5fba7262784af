import { RateLimitedError, invalidRequest, type RejectReason } from './gateway-errors';
import { ZERO, addUnits, adjust, clamp, drain, isZero, spend, subUnits, waitFor, type Rates, type Units } from './gcra';
import type { LimitStore } from './limit-store';
import { LANES, type Lane, type TierLimits } from '../shared/gateway-limits';

const fits = (cost: Units, available: Units): boolean => cost[0] <= available[0] && cost[1] <= available[1] && cost[2] <= available[2];

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
   * While the shared buckets are far from saturation, each write also claims capacity for this
   * many more requests like the ones just admitted, spent locally with no round trip. It is
   * charged to the shared buckets like any admission, so limits still hold; what is not used
   * within `creditTtlMs` is refunded. 0 turns it off. @default 0
   */
  readonly creditRequests?: number;
  /** @default 1000 */
  readonly creditTtlMs?: number;
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
  private credit: Units = ZERO;
  private creditTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: TierLimiterOptions) {
    this.rates = { perMinute: [options.limits.rpm, options.limits.itpm, options.limits.otpm] };
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.pollMs = options.pollMs ?? 200;
    this.flushDelayMs = options.flushDelayMs ?? 200;
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
    if (fits(request.cost, this.credit)) {
      this.credit = subUnits(this.credit, request.cost);
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
    this.pending = addUnits(this.pending, delta);
    // No wake-up: corrections wait for the next batch (or the flush delay) to share its write.
    this.kick(false);
  }

  /** The provider answered 429: treat the shared buckets as empty, as the provider's are. */
  drain(): void {
    this.drainRequested = true;
    this.kick();
  }

  /**
   * The provider reported at most `available` units left (Infinity: no report for that kind):
   * lower the shared buckets to match, never raise them. Folded into the next batch's write, and
   * written only if it changes something, so a report that agrees with us costs no round trip.
   */
  clamp(available: Units): void {
    const prev = this.clampRequested;
    this.clampRequested = prev === undefined ? available : [Math.min(prev[0], available[0]), Math.min(prev[1], available[1]), Math.min(prev[2], available[2])];
    // Local credit is capacity the provider has not seen spent yet: keep no more of it than it has left.
    this.credit = [Math.min(this.credit[0], available[0]), Math.min(this.credit[1], available[1]), Math.min(this.credit[2], available[2])];
    // No wake-up: less capacity frees no waiter, and every reply carries a report.
    this.kick(false);
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
   * Credit worth `creditRequests` of the batch's average request, if the buckets would still sit
   * below half the lowest lane ceiling with it: far from saturation, where lanes do not compete.
   */
  private creditFor(admitted: readonly Waiter[], tat: Units, now: number): Units {
    const base = this.options.creditRequests ?? 0;
    if (base === 0 || this.credit[0] >= base / 2) return ZERO;
    // Scale with demand: a replica admitting big batches gets credit for two batches like it.
    const n = Math.max(base, 2 * admitted.length);
    const total = admitted.reduce<Units>((sum, w) => addUnits(sum, w.cost), ZERO);
    const grant: Units = [n, Math.ceil((total[1] / admitted.length) * n), Math.ceil((total[2] / admitted.length) * n)];
    const floor = Math.min(...LANES.map((l) => this.options.ceilings[l])) / 2;
    return waitFor(tat, grant, this.rates, now, floor) === 0 ? grant : ZERO;
  }

  private addCredit(grant: Units): void {
    this.credit = addUnits(this.credit, grant);
    clearTimeout(this.creditTimer);
    this.creditTimer = setTimeout(() => {
      // Unused credit goes back to the shared buckets.
      const unused = this.credit;
      this.credit = ZERO;
      this.correct([-unused[0], -unused[1], -unused[2]]);
    }, this.options.creditTtlMs ?? 1000);
    this.creditTimer.unref();
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
        if (this.waiters.length > 0 || !isZero(this.pending) || this.drainRequested || this.clampRequested !== undefined) this.kick();
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
    while (this.waiters.length > 0 || !isZero(this.pending) || this.drainRequested || this.clampRequested !== undefined) {
      if (this.waiters.length === 0) await this.sleep(this.flushDelayMs);
      const state = this.cached ?? (await this.options.store.read(this.options.tier));
      this.cached = state;
      const now = this.now();
      const pendingSnap = this.pending;
      const drainSnap = this.drainRequested;
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

      const grant = admitted.length > 0 ? this.creditFor(admitted, tat, now) : ZERO;
      if (!isZero(grant)) tat = spend(tat, grant, this.rates, now);
      if (admitted.length > 0 || !isZero(pendingSnap) || drainSnap || clamped) {
        const ok = await this.options.store.write(this.options.tier, tat, state.version);
        if (!ok) {
          // Another replica wrote first: re-read and decide again.
          this.cached = undefined;
          continue;
        }
        this.cached = { tat, version: state.version + 1 };
        this.pending = subUnits(this.pending, pendingSnap);
        if (!isZero(grant)) this.addCredit(grant);
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
      } else if (this.clampRequested === clampSnap) {
        // A clamp that changed nothing needs no write; one that arrived meanwhile stays for the next pass.
        this.clampRequested = undefined;
      }
      if (this.waiters.length > 0 && admitted.length === 0) {
        await this.sleep(Math.max(1, Math.ceil(nextWake)));
        // Other replicas may have refunded meanwhile.
        this.cached = undefined;
      }
    }
  }
}
