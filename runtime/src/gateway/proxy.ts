import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorMessage } from '../shared/errors';
import { readBody, sendJson, type Handler } from '../shared/http';
import type { Logger } from '../shared/logger';
import type { ApiKeyProvider } from './api-key-provider';
import { MemoryBreakerStore, type BreakerStore } from './breaker-store';
import { CircuitBreaker, type BreakerTicket } from './circuit-breaker';
import { CircuitOpenError, GatewayHttpError, RateLimitedError, invalidRequest } from './gateway-errors';
import { noopGatewayMetrics, type GatewayMetrics, type UpstreamErrorKind } from './gateway-metrics';
import type { Units } from './gcra';
import { MemoryLimitStore, type LimitStore } from './limit-store';
import { LANES, parseGatewayLimits, tierOf, type GatewayLimits, type Lane } from '../shared/gateway-limits';
import { availableCap, limitsBelowConfig, parseProviderLimits } from './provider-limits';
import { routeModel } from './routing';
import { TierLimiter } from './tier-limiter';
import { SseUsageTap, chargedInput, correction, estimateInputTokens, type Usage } from './usage';

export interface GatewayOptions {
  readonly upstreamUrl: string;
  readonly keys: ApiKeyProvider;
  readonly logger: Logger;
  /** Tiers, lanes, queue, breaker and routing. @default parseGatewayLimits(undefined) */
  readonly limits?: GatewayLimits;
  /** Shared bucket state; DynamoLimitStore on the gateway table in every deployed stage. @default in-process */
  readonly limitStore?: LimitStore;
  /** Shared breaker state; DynamoBreakerStore on the gateway table when deployed. @default in-process */
  readonly breakerStore?: BreakerStore;
  /** @default no-op */
  readonly metrics?: GatewayMetrics;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** @default 10 MiB */
  readonly maxBodyBytes?: number;
  /** @default Date.now */
  readonly now?: () => number;
  /** For retry-after jitter. @default Math.random */
  readonly random?: () => number;
}

export interface Gateway {
  readonly handler: Handler;
  readonly breaker: CircuitBreaker;
  limiter(tier: string): TierLimiter;
}

/** Request headers forwarded upstream; everything else (auth above all) is the gateway's to set. */
const FORWARDED = ['content-type', 'anthropic-version', 'anthropic-beta', 'accept'];
/** Response headers that must not be copied: the body is re-framed by this server. */
const HOP_BY_HOP = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'content-encoding']);
/** Upstream statuses that say the provider (not the request) is failing. */
const isUpstreamFailure = (status: number): boolean => status >= 500;
/** Stream `error` events that count against the breaker; others (e.g. invalid_request) are the caller's. */
const FAILING_STREAM_ERRORS = new Set(['overloaded_error', 'api_error', 'timeout_error']);

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function parseLane(value: string | undefined): Lane {
  if (value === undefined) return 'normal';
  if ((LANES as readonly string[]).includes(value)) return value as Lane;
  throw invalidRequest(`x-openclaw-priority is "${value}"; send one of ${LANES.join(', ')}, or omit it for normal`);
}

function parseRequest(raw: Buffer): Record<string, unknown> & { model: string; max_tokens: number } {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw invalidRequest('The body is not JSON; send a Messages API request');
  }
  if (typeof body !== 'object' || body === null) throw invalidRequest('The body must be a JSON object (a Messages API request)');
  const b = body as Record<string, unknown>;
  if (typeof b['model'] !== 'string' || typeof b['max_tokens'] !== 'number' || !Number.isInteger(b['max_tokens']) || b['max_tokens'] < 1) {
    throw invalidRequest('model: a string and max_tokens: a positive integer are required');
  }
  return b as Record<string, unknown> & { model: string; max_tokens: number };
}

function isSpendLimit(body: string): boolean {
  try {
    const parsed = JSON.parse(body) as { error?: { details?: { error_code?: string } } };
    return parsed.error?.details?.error_code === 'enforced_spend_limit_reached';
  } catch {
    return false;
  }
}

/**
 * An Anthropic Messages API-compatible gateway: workers point the SDK's baseURL here and hold no
 * key. Each /v1/messages call is routed to a model, checked against that model's circuit, admitted
 * by its tier's shared buckets in its priority lane (or queued briefly, or refused with 429), sent
 * upstream, and charged what the provider reports. SSE streams pass through chunk by chunk.
 */
export function createGateway(options: GatewayOptions): Gateway {
  const doFetch = options.fetch ?? globalThis.fetch;
  const maxBody = options.maxBodyBytes ?? 10 * 1024 * 1024;
  const limits = options.limits ?? parseGatewayLimits(undefined);
  const metrics = options.metrics ?? noopGatewayMetrics;
  const now = options.now ?? Date.now;
  const logger = options.logger;
  const limitStore = options.limitStore ?? new MemoryLimitStore();
  const breaker = new CircuitBreaker({
    store: options.breakerStore ?? new MemoryBreakerStore(),
    ...limits.breaker,
    logger,
    now,
    onStateChange: (model, state) => {
      metrics.circuit({ model, state });
      logger.info('gateway.circuit_state', { model, state });
    },
  });
  const limiters = new Map<string, TierLimiter>();
  const limiter = (tier: string): TierLimiter => {
    let l = limiters.get(tier);
    if (l === undefined) {
      const t = limits.tiers[tier];
      if (t === undefined) throw new GatewayHttpError(500, 'api_error', `No limits configured for tier ${tier}`);
      l = new TierLimiter({
        tier,
        limits: t,
        ceilings: limits.lanes,
        store: limitStore,
        maxDepth: limits.queue.maxDepth,
        jitter: limits.queue.jitter,
        creditRequests: limits.queue.creditRequests,
        now,
        ...(options.random !== undefined ? { random: options.random } : {}),
        onQueued: (lane) => metrics.queued({ lane, tier }),
      });
      limiters.set(tier, l);
    }
    return l;
  };

  const warnedBelowConfig = new Set<string>();
  /**
   * Calibrate the tier's buckets down to what the provider reports it has left, and tell an
   * operator once per tier and kind when GATEWAY_LIMITS promises more than the provider grants.
   */
  const calibrate = (tier: string, bucket: TierLimiter, upstream: Response) => {
    const reported = parseProviderLimits(upstream.headers, now());
    const cap = availableCap(reported);
    if (cap !== undefined) bucket.clamp(cap);
    const t = limits.tiers[tier];
    if (t === undefined) return;
    for (const below of limitsBelowConfig(reported, [t.rpm, t.itpm, t.otpm])) {
      const key = `${tier}/${below.dimension}`;
      if (warnedBelowConfig.has(key)) continue;
      warnedBelowConfig.add(key);
      logger.warn('gateway.provider_limit_below_config', { tier, ...below });
    }
  };

  const send = async (req: IncomingMessage, path: string, body: Buffer, signal: AbortSignal): Promise<Response> => {
    const attempt = async (key: string) => {
      const headers: Record<string, string> = { 'x-api-key': key };
      for (const name of FORWARDED) {
        const value = header(req, name);
        if (value !== undefined) headers[name] = value;
      }
      headers['anthropic-version'] ??= '2023-06-01';
      return doFetch(new URL(path, options.upstreamUrl), { method: 'POST', headers, body, signal });
    };
    let upstream = await attempt(await options.keys.get());
    if (upstream.status === 401) {
      // The key may have been rotated since we cached it.
      await upstream.body?.cancel();
      upstream = await attempt(await options.keys.refresh());
    }
    return upstream;
  };

  const copyHeaders = (upstream: Response, extra: Record<string, string>): Record<string, string> => {
    const headers: Record<string, string> = {};
    upstream.headers.forEach((value, name) => {
      if (!HOP_BY_HOP.has(name)) headers[name] = value;
    });
    return { ...headers, ...extra };
  };

  const countTokens = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req, maxBody);
    const upstream = await send(req, '/v1/messages/count_tokens', body, AbortSignal.timeout(limits.upstreamTimeoutMs));
    const text = Buffer.from(await upstream.arrayBuffer());
    res.writeHead(upstream.status, { ...copyHeaders(upstream, {}), 'content-length': String(text.length) });
    res.end(text);
  };

  const messages = async (req: IncomingMessage, res: ServerResponse) => {
    const raw = await readBody(req, maxBody);
    const body = parseRequest(raw);
    const lane = parseLane(header(req, 'x-openclaw-priority'));
    const intent = header(req, 'x-openclaw-intent');
    const route = routeModel(limits.routing, { model: body.model, maxTokens: body.max_tokens, system: body['system'], ...(intent !== undefined ? { intent } : {}) });
    const model = route.model;
    const payload = route.routed ? Buffer.from(JSON.stringify({ ...body, model })) : raw;
    const tier = tierOf(limits, model);
    const tierLimits = limits.tiers[tier];
    const bucket = limiter(tier);

    // The caller's own timeout bounds the wait; keep half of it for the upstream call itself.
    const callerTimeoutS = Number(header(req, 'x-stainless-timeout'));
    const budget = Number.isFinite(callerTimeoutS) && callerTimeoutS > 0 ? Math.min(limits.queue.maxWaitMs, (callerTimeoutS * 1000) / 2) : limits.queue.maxWaitMs;
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });

    let ticket: BreakerTicket;
    try {
      ticket = await breaker.enter(model);
    } catch (err) {
      if (err instanceof CircuitOpenError) metrics.rejected({ lane, tier, reason: 'circuit_open' });
      throw err;
    }
    const cost: Units = [1, estimateInputTokens(payload.length), body.max_tokens];
    let queuedMs: number;
    try {
      ({ queuedMs } = await bucket.acquire({ lane, cost, deadline: now() + budget, signal: abort.signal }));
    } catch (err) {
      await breaker.abandon(ticket);
      if (err instanceof RateLimitedError) metrics.rejected({ lane, tier, reason: err.reason });
      throw err;
    }
    metrics.admitted({ lane, tier, model, queuedMs, routed: route.routed });
    const ours = { 'x-openclaw-model': model, 'x-openclaw-tier': tier, 'x-openclaw-lane': lane, 'x-openclaw-queued-ms': String(queuedMs) };

    let settled = false;
    /** Charge what the provider reported; without a report, the input estimate and no output. */
    const settle = (usage: Usage | undefined, outputIfUnknown = 0) => {
      if (settled) return;
      settled = true;
      const input = usage?.input_tokens !== undefined ? chargedInput(usage, tierLimits?.chargeCacheReads ?? false) : cost[1];
      bucket.correct(correction(cost, { input, output: usage?.output_tokens ?? outputIfUnknown }));
    };
    const fail = (kind: UpstreamErrorKind, status?: number) => {
      metrics.upstreamError({ model, kind, ...(status !== undefined ? { status } : {}) });
      breaker.failure(ticket).catch((err: unknown) => logger.warn('gateway.breaker_write_failed', { model, error: errorMessage(err) }));
    };
    const succeed = () => {
      breaker.success(ticket).catch((err: unknown) => logger.warn('gateway.breaker_write_failed', { model, error: errorMessage(err) }));
    };

    const timer = setTimeout(() => abort.abort(new Error('upstream timeout')), limits.upstreamTimeoutMs);
    let upstream: Response;
    try {
      upstream = await send(req, '/v1/messages', payload, abort.signal);
    } catch (err) {
      clearTimeout(timer);
      settle(undefined);
      if (res.destroyed) return;
      const timedOut = abort.signal.aborted;
      fail(timedOut ? 'timeout' : 'connection');
      logger.warn('gateway.upstream_unreachable', { model, error: errorMessage(err) });
      throw new GatewayHttpError(timedOut ? 504 : 502, 'api_error', timedOut ? `Upstream did not answer within ${limits.upstreamTimeoutMs} ms` : `Upstream unreachable: ${errorMessage(err)}`, { model });
    }
    clearTimeout(timer);

    const isStream = upstream.ok && (upstream.headers.get('content-type') ?? '').includes('text/event-stream');
    if (!isStream) {
      const text = Buffer.from(await upstream.arrayBuffer());
      // A spend-limit 429 says nothing about the per-minute buckets.
      if (upstream.status !== 429 || !isSpendLimit(text.toString('utf8'))) calibrate(tier, bucket, upstream);
      const headers = copyHeaders(upstream, ours);
      if (upstream.ok) {
        let usage: Usage | undefined;
        try {
          usage = (JSON.parse(text.toString('utf8')) as { usage?: Usage }).usage;
        } catch {
          usage = undefined;
        }
        // A 200 without usage: assume the worst, that max_tokens were generated.
        settle(usage, cost[2]);
        succeed();
      } else {
        settle(undefined);
        if (upstream.status === 429) {
          if (isSpendLimit(text.toString('utf8'))) {
            headers['x-should-retry'] = 'false';
            metrics.upstreamError({ model, kind: 'spend_limit', status: 429 });
          } else {
            // The provider's bucket is empty whatever ours says: calibrate to it.
            bucket.drain();
            metrics.upstreamError({ model, kind: 'rate_limited', status: 429 });
          }
          await breaker.abandon(ticket);
        } else if (isUpstreamFailure(upstream.status)) fail('status', upstream.status);
        else succeed();
      }
      res.writeHead(upstream.status, { ...headers, 'content-length': String(text.length) });
      res.end(text);
      return;
    }

    // The headers come before the body: calibrate now, not when a long stream ends.
    calibrate(tier, bucket, upstream);
    res.writeHead(upstream.status, copyHeaders(upstream, ours));
    const tap = new SseUsageTap();
    try {
      for await (const chunk of upstream.body as unknown as AsyncIterable<Uint8Array>) {
        tap.push(chunk);
        if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
      }
    } catch (err) {
      const outcome = tap.outcome();
      // Unknown output: keep the whole reservation rather than risk overshooting the provider.
      settle(outcome.usage, cost[2]);
      if (!abort.signal.aborted || res.writableFinished) {
        fail('broken_stream');
        logger.warn('gateway.stream_broken', { model, error: errorMessage(err) });
      }
      res.destroy();
      return;
    }
    const outcome = tap.outcome();
    settle(outcome.usage, outcome.completed ? 0 : cost[2]);
    if (outcome.errorType !== undefined && FAILING_STREAM_ERRORS.has(outcome.errorType)) fail('stream_error');
    else succeed();
    res.end();
  };

  const handler: Handler = async (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'GET' && path === '/health') return sendJson(res, 200, { status: 'ok' });
    if (req.method === 'POST' && path === '/v1/messages') return messages(req, res);
    if (req.method === 'POST' && path === '/v1/messages/count_tokens') return countTokens(req, res);
    throw new GatewayHttpError(404, 'not_found_error', `No route for ${req.method ?? '?'} ${path}; the gateway serves POST /v1/messages and /v1/messages/count_tokens`);
  };
  return { handler, breaker, limiter };
}

/** The handler alone, for callers that need no access to the limiter or breaker. */
export function createGatewayHandler(options: GatewayOptions): Handler {
  return createGateway(options).handler;
}
