import { errorMessage } from '../shared/errors';
import type { GatewayLimits, Lane } from '../shared/gateway-limits';
import type { Logger } from '../shared/logger';
import type { BreakerTicket, CircuitBreaker } from './circuit-breaker';
import { CircuitOpenError, RateLimitedError, gatewayMisconfigured } from './gateway-errors';
import type { GatewayMetrics, UpstreamErrorKind } from './gateway-metrics';
import type { Units } from './gcra';
import type { LimitStore } from './limit-store';
import { availableCap, limitsBelowConfig, parseProviderLimits, type HeaderSource } from './provider-limits';
import type { SpendCeiling, SpendReservation } from './spend-ceiling';
import { TierLimiter } from './tier-limiter';
import { chargedInput, correction, estimateInputTokens, type Usage } from './usage';
import { fallbackCall, type MessagesCall } from './messages-request';

export interface AdmissionOptions {
  readonly limits: GatewayLimits;
  readonly limitStore: LimitStore;
  readonly breaker: CircuitBreaker;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  readonly now: () => number;
  readonly random?: () => number;
  /** The fleet's spend ceiling, when the stage sets one. */
  readonly spend?: SpendCeiling;
}

/**
 * One admitted call's accounting: the reservation it holds in its tier's buckets and its breaker
 * ticket. Each method is safe to call once the outcome is known; `settle` charges only once.
 */
export interface AdmittedCall {
  readonly model: string;
  /** The model the caller asked for, when its tier's fallback serves the call. */
  readonly fallbackFrom?: string;
  readonly tier: string;
  readonly lane: Lane;
  readonly queuedMs: number;
  /** Requests, estimated input tokens, max_tokens: what was reserved. */
  readonly cost: Units;
  /** Charge what the provider reported; without a report, the input estimate and `outputIfUnknown`. */
  settle(usage: Usage | undefined, outputIfUnknown?: number): void;
  /** Count an upstream error that says nothing about the provider's health (no breaker). */
  count(kind: UpstreamErrorKind, status?: number): void;
  /** The provider failed this call: count it against the breaker. */
  fail(kind: UpstreamErrorKind, status?: number): void;
  /** The provider answered: close a failing streak (or the probe). */
  succeed(): void;
  /** The call never counted for the breaker (e.g. a provider 429): give a probe back. */
  abandon(): Promise<void>;
  /** The provider's bucket is empty: treat ours as empty too. */
  drain(): void;
  /** Calibrate the tier's buckets to the provider's rate-limit headers. */
  calibrate(headers: HeaderSource): void;
}

/**
 * Admission and lanes: the circuit of the call's model, then its tier's shared buckets in its
 * priority lane (queued within the call's wait budget, or refused with 429). One limiter per tier.
 */
export class Admission {
  private readonly limiters = new Map<string, TierLimiter>();
  private readonly warnedBelowConfig = new Set<string>();

  constructor(private readonly options: AdmissionOptions) {}

  limiter(tier: string): TierLimiter {
    let l = this.limiters.get(tier);
    if (l === undefined) {
      const { limits, limitStore, metrics, now, random } = this.options;
      const t = limits.tiers[tier];
      if (t === undefined) throw gatewayMisconfigured(`No limits configured for tier ${tier}`);
      l = new TierLimiter({
        tier,
        limits: t,
        ceilings: limits.lanes,
        store: limitStore,
        maxDepth: limits.queue.maxDepth,
        jitter: limits.queue.jitter,
        lease: limits.queue.lease,
        now,
        ...(random !== undefined ? { random } : {}),
        onQueued: (lane) => metrics.queued({ lane, tier }),
      });
      this.limiters.set(tier, l);
    }
    return l;
  }

  /**
   * Admit the call; when its model's circuit is open, or its lane cannot be admitted before its
   * deadline, serve it from its tier's fallback instead (unless pinned). If the fallback cannot
   * take it either, the caller gets the refusal for the model it asked for.
   */
  async admitOrFallback(call: MessagesCall, signal: AbortSignal): Promise<AdmittedCall> {
    try {
      return await this.admit(call, signal);
    } catch (err) {
      const degraded = err instanceof CircuitOpenError || (err instanceof RateLimitedError && err.reason !== 'spend_limited');
      const alternative = degraded && !signal.aborted ? fallbackCall(call, this.options.limits) : undefined;
      if (alternative === undefined) throw err;
      let admitted: AdmittedCall;
      try {
        admitted = await this.admit(alternative, signal);
      } catch {
        throw err;
      }
      this.options.metrics.fallback({ requested: call.model, model: alternative.model, reason: err instanceof CircuitOpenError ? 'circuit_open' : 'no_capacity' });
      this.options.logger.info('gateway.fallback', { requested: call.model, model: alternative.model, lane: call.lane });
      return admitted;
    }
  }

  /** Enter the model's circuit and take capacity in the tier's buckets, or throw 503/429. */
  async admit(call: MessagesCall, signal: AbortSignal): Promise<AdmittedCall> {
    const { breaker, metrics, now } = this.options;
    const { model, tier, lane } = call;
    const bucket = this.limiter(tier);
    let ticket: BreakerTicket;
    try {
      ticket = await breaker.enter(model);
    } catch (err) {
      if (err instanceof CircuitOpenError) metrics.rejected({ lane, tier, reason: 'circuit_open' });
      throw err;
    }
    const cost: Units = [1, estimateInputTokens(call.payload.length), call.body.max_tokens];
    const deadline = now() + call.waitBudgetMs;
    let queuedMs: number;
    let spent: SpendReservation | undefined;
    try {
      // The spend ceiling first: a refusal there must not hold token capacity meanwhile.
      spent = await this.options.spend?.reserve({ model, lane, inputTokens: cost[1], maxTokens: cost[2], deadline, signal });
      ({ queuedMs } = await bucket.acquire({ lane, cost, deadline, signal }));
    } catch (err) {
      spent?.release();
      await breaker.abandon(ticket);
      if (err instanceof RateLimitedError) metrics.rejected({ lane, tier, reason: err.reason });
      throw err;
    }
    metrics.admitted({ lane, tier, model, queuedMs, routed: call.routed });
    return this.accounting(call, bucket, ticket, cost, queuedMs, spent);
  }

  private accounting(call: MessagesCall, bucket: TierLimiter, ticket: BreakerTicket, cost: Units, queuedMs: number, spent: SpendReservation | undefined): AdmittedCall {
    const { breaker, metrics, logger, limits } = this.options;
    const { model, tier, lane } = call;
    const tierLimits = limits.tiers[tier];
    let settled = false;
    const writeFailed = (err: unknown) => logger.warn('gateway.breaker_write_failed', { model, error: errorMessage(err) });
    return {
      model,
      ...(call.fallbackFrom !== undefined ? { fallbackFrom: call.fallbackFrom } : {}),
      tier,
      lane,
      queuedMs,
      cost,
      settle: (usage, outputIfUnknown = 0) => {
        if (settled) return;
        settled = true;
        const input = usage?.input_tokens !== undefined ? chargedInput(usage, tierLimits?.chargeCacheReads ?? false) : cost[1];
        const output = usage?.output_tokens ?? outputIfUnknown;
        bucket.correct(correction(cost, { input, output }));
        // Cache reads are billed even where they do not count against the input bucket; at the input
        // price here (they cost a fraction of it), which errs on the side of the ceiling.
        spent?.settle(usage?.input_tokens !== undefined ? chargedInput(usage, true) : cost[1], output);
      },
      count: (kind, status) => metrics.upstreamError({ model, kind, ...(status !== undefined ? { status } : {}) }),
      fail: (kind, status) => {
        metrics.upstreamError({ model, kind, ...(status !== undefined ? { status } : {}) });
        breaker.failure(ticket).catch(writeFailed);
      },
      succeed: () => {
        breaker.success(ticket).catch(writeFailed);
      },
      abandon: () => breaker.abandon(ticket),
      drain: () => bucket.drain(),
      calibrate: (headers) => this.calibrate(tier, bucket, headers),
    };
  }

  /**
   * Calibrate the tier's buckets down to what the provider reports it has left, and tell an
   * operator once per tier and kind when GATEWAY_LIMITS promises more than the provider grants.
   */
  private calibrate(tier: string, bucket: TierLimiter, headers: HeaderSource): void {
    const reported = parseProviderLimits(headers, this.options.now());
    const cap = availableCap(reported);
    if (cap !== undefined) bucket.clamp(cap);
    const t = this.options.limits.tiers[tier];
    if (t === undefined) return;
    for (const below of limitsBelowConfig(reported, [t.rpm, t.itpm, t.otpm])) {
      const key = `${tier}/${below.dimension}`;
      if (this.warnedBelowConfig.has(key)) continue;
      this.warnedBelowConfig.add(key);
      this.options.logger.warn('gateway.provider_limit_below_config', { tier, ...below });
    }
  }
}
