import type { Lane } from '../shared/gateway-limits';
import { DEFAULT_PRICE_TABLE, profileFor, type ModelProfile, type PriceTable } from '../shared/model-profiles';
import { RateLimitedError, invalidRequest } from './gateway-errors';
import type { LimitStore } from './limit-store';
import { TierLimiter } from './tier-limiter';

/**
 * The bucket's window: it holds a quarter of the hourly ceiling, refilling continuously, so no
 * hour can see more than 1.25× the ceiling even from a standing start, and a burst cannot spend
 * the hour's budget in a minute.
 */
export const SPEND_WINDOW_MS = 15 * 60_000;
const MICRO_USD = 1_000_000;
/** The shared item's key: `$` keeps it apart from every tier name (tiers are [a-z0-9-]). */
export const SPEND_BUCKET = '$spend';

export interface SpendCeilingOptions {
  /** The fleet's ceiling in US dollars per hour (stage config, GATEWAY_SPEND_USD_PER_HOUR). */
  readonly usdPerHour: number;
  /** Shared with every replica, like the token buckets. */
  readonly store: LimitStore;
  /**
   * How full each lane may fill the spend bucket: batch is refused first, then normal; high keeps
   * the share above normal's ceiling.
   */
  readonly ceilings: Readonly<Record<Lane, number>>;
  /** @default DEFAULT_PRICE_TABLE */
  readonly prices?: PriceTable;
  /** @default 1000 */
  readonly maxDepth?: number;
  /** @default 0.25 */
  readonly jitter?: number;
  /** Report the ceiling's use (0–1) at most every `reportEveryMs`. */
  readonly onUse?: (use: number) => void;
  /** @default 10_000 */
  readonly reportEveryMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
  /** @default Math.random */
  readonly random?: () => number;
}

/** One call's charge against the ceiling: what was reserved, corrected once the usage is known. */
export interface SpendReservation {
  /** Charge the actual cost instead of the reservation. */
  settle(inputTokens: number, outputTokens: number): void;
  /** The call never went upstream: give the whole reservation back. */
  release(): void;
}

/**
 * The fleet's spend ceiling: a shared bucket of micro-dollars refilling at the hourly ceiling,
 * kept exactly like the token buckets (one conditional write per batch or leased slice). A call is
 * charged on admission at its worst case (estimated input and all of max_tokens at the model's
 * price), then corrected to what the provider reported, so in-flight calls can never overshoot.
 */
export class SpendCeiling {
  private readonly limiter: TierLimiter;
  private readonly prices: PriceTable;
  private readonly now: () => number;
  private lastReport = Number.NEGATIVE_INFINITY;
  private readonly costliest: ModelProfile;

  constructor(private readonly options: SpendCeilingOptions) {
    this.prices = options.prices ?? DEFAULT_PRICE_TABLE;
    this.now = options.now ?? Date.now;
    const profiles = Object.values(this.prices);
    this.costliest = profiles.reduce((a, b) => (b.outputUsdPerMTok > a.outputUsdPerMTok ? b : a), profiles[0] ?? { inputUsdPerMTok: 15, outputUsdPerMTok: 75, contextWindow: 200_000 });
    const perWindow = Math.max(1, Math.floor((options.usdPerHour * MICRO_USD * SPEND_WINDOW_MS) / 3_600_000));
    this.limiter = new TierLimiter({
      tier: SPEND_BUCKET,
      // Only the third kind is used: micro-dollars per window.
      limits: { rpm: Number.MAX_SAFE_INTEGER, itpm: Number.MAX_SAFE_INTEGER, otpm: perWindow },
      windowMs: SPEND_WINDOW_MS,
      ceilings: options.ceilings,
      store: options.store,
      maxDepth: options.maxDepth ?? 1000,
      jitter: options.jitter ?? 0.25,
      now: this.now,
      ...(options.random !== undefined ? { random: options.random } : {}),
    });
  }

  /** Micro-dollars a call of `model` costs; an unpriced model is charged as the costliest one. */
  private microUsd(model: string, inputTokens: number, outputTokens: number): number {
    const p = profileFor(this.prices, model) ?? this.costliest;
    return Math.ceil(((inputTokens * p.inputUsdPerMTok + outputTokens * p.outputUsdPerMTok) / 1_000_000) * MICRO_USD);
  }

  /** Reserve the call's worst case, or throw 429 `spend_limited` (retry-after-ms set) for its lane. */
  async reserve(call: { model: string; lane: Lane; inputTokens: number; maxTokens: number; deadline: number; signal?: AbortSignal }): Promise<SpendReservation> {
    const reserved = this.microUsd(call.model, call.inputTokens, call.maxTokens);
    try {
      await this.limiter.acquire({ lane: call.lane, cost: [0, 0, reserved], deadline: call.deadline, ...(call.signal !== undefined ? { signal: call.signal } : {}) });
    } catch (err) {
      if (err instanceof RateLimitedError) {
        throw new RateLimitedError(
          `The fleet's spend ceiling of $${this.options.usdPerHour}/hour leaves lane "${call.lane}" no room for this call (up to $${(reserved / MICRO_USD).toFixed(4)}); retry after ${err.retryAfterMs} ms`,
          { tier: SPEND_BUCKET, lane: call.lane, retryAfterMs: err.retryAfterMs, reason: 'spend_limited' },
          'spend_limited',
        );
      }
      if (err instanceof Error && 'status' in err && err.status === 400) {
        throw invalidRequest(`This call may cost up to $${(reserved / MICRO_USD).toFixed(4)}, more than lane "${call.lane}" may spend in ${SPEND_WINDOW_MS / 60_000} minutes under the $${this.options.usdPerHour}/hour ceiling; lower max_tokens`);
      }
      throw err;
    } finally {
      this.report();
    }
    let done = false;
    return {
      settle: (inputTokens, outputTokens) => {
        if (done) return;
        done = true;
        this.limiter.correct([0, 0, this.microUsd(call.model, inputTokens, outputTokens) - reserved]);
      },
      release: () => {
        if (done) return;
        done = true;
        this.limiter.correct([0, 0, -reserved]);
      },
    };
  }

  /** The share of the ceiling in use now, from this replica's view (undefined before the first read). */
  use(): number | undefined {
    return this.limiter.fill()?.[2];
  }

  private report(): void {
    const now = this.now();
    if (this.options.onUse === undefined || now - this.lastReport < (this.options.reportEveryMs ?? 10_000)) return;
    const use = this.use();
    if (use === undefined) return;
    this.lastReport = now;
    this.options.onUse(use);
  }
}
