import type { IncomingMessage, ServerResponse } from 'node:http';
import { trace } from '@opentelemetry/api';
import { GEN_AI } from '../shared/spans';
import { errorMessage } from '../shared/errors';
import { readBody, sendJson, type Handler } from '../shared/http';
import type { Logger } from '../shared/logger';
import { parseGatewayLimits, type GatewayLimits } from '../shared/gateway-limits';
import { Admission } from './admission';
import type { ApiKeyProvider } from './api-key-provider';
import { MemoryBreakerStore, type BreakerStore } from './breaker-store';
import { CircuitBreaker } from './circuit-breaker';
import { notFound, upstreamUnavailable } from './gateway-errors';
import { noopGatewayMetrics, type GatewayMetrics } from './gateway-metrics';
import { MemoryLimitStore, type LimitStore } from './limit-store';
import { parseMessagesCall } from './messages-request';
import { isEventStream, relayBody, relayStream } from './pass-through';
import { SpendCeiling } from './spend-ceiling';
import type { TierLimiter } from './tier-limiter';
import type { PriceTable } from '../shared/model-profiles';
import { UpstreamClient, copyHeaders } from './upstream-client';
import type { UpstreamResponse, UpstreamTransport } from './upstream-transport';
import { readWithIdleTimeout } from './idle-timeout';

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
  /** How calls go upstream. @default httpTransport() (node:http, keep-alive pool) */
  readonly transport?: UpstreamTransport;
  /** @default 10 MiB */
  readonly maxBodyBytes?: number;
  /** @default Date.now */
  readonly now?: () => number;
  /** For retry-after jitter. @default Math.random */
  readonly random?: () => number;
  /** The fleet's spend ceiling in USD per hour, shared through `limitStore`. @default none */
  readonly spendCeilingUsdPerHour?: number;
  /** Prices for the spend ceiling. @default DEFAULT_PRICE_TABLE */
  readonly prices?: PriceTable;
}

export interface Gateway {
  readonly handler: Handler;
  readonly breaker: CircuitBreaker;
  /** The spend ceiling, when one is set. */
  readonly spend?: SpendCeiling;
  limiter(tier: string): TierLimiter;
}

/**
 * An Anthropic Messages API-compatible gateway: workers point the SDK's baseURL here and hold no
 * key. Each /v1/messages call is parsed and routed to a model (messages-request), admitted through
 * that model's circuit and its tier's shared buckets in its priority lane (admission), sent
 * upstream (upstream-client) and relayed back, SSE chunk by chunk, charged what the provider
 * reports (pass-through). Every error the gateway writes itself is in the provider's shape (error-map).
 */
export function createGateway(options: GatewayOptions): Gateway {
  const maxBody = options.maxBodyBytes ?? 10 * 1024 * 1024;
  const limits = options.limits ?? parseGatewayLimits(undefined);
  const metrics = options.metrics ?? noopGatewayMetrics;
  const now = options.now ?? Date.now;
  const logger = options.logger;
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
  const limitStore = options.limitStore ?? new MemoryLimitStore();
  const spend =
    options.spendCeilingUsdPerHour === undefined
      ? undefined
      : new SpendCeiling({
          usdPerHour: options.spendCeilingUsdPerHour,
          store: limitStore,
          ceilings: limits.lanes,
          maxDepth: limits.queue.maxDepth,
          jitter: limits.queue.jitter,
          onUse: (use) => metrics.spendCeilingUse({ use }),
          now,
          ...(options.prices !== undefined ? { prices: options.prices } : {}),
          ...(options.random !== undefined ? { random: options.random } : {}),
        });
  const admission = new Admission({
    limits,
    limitStore,
    ...(spend !== undefined ? { spend } : {}),
    breaker,
    metrics,
    logger,
    now,
    ...(options.random !== undefined ? { random: options.random } : {}),
  });
  const upstreamClient = new UpstreamClient({ upstreamUrl: options.upstreamUrl, keys: options.keys, ...(options.transport !== undefined ? { transport: options.transport } : {}) });

  const countTokens = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req, maxBody);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error('upstream timeout')), limits.upstreamTimeoutMs);
    let upstream: UpstreamResponse;
    let text: Buffer;
    try {
      upstream = await upstreamClient.send(req, '/v1/messages/count_tokens', body, abort.signal);
      text = await readWithIdleTimeout(upstream.body, limits.upstreamIdleTimeoutMs, abort);
    } finally {
      clearTimeout(timer);
    }
    res.writeHead(upstream.status, { ...copyHeaders(upstream, {}), 'content-length': String(text.length) });
    res.end(text);
  };

  const messages = async (req: IncomingMessage, res: ServerResponse) => {
    const call = parseMessagesCall(req, await readBody(req, maxBody), limits);
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const admitted = await admission.admitOrFallback(call, abort.signal);
    // From here on the call is the one admitted (its fallback's model and payload, if any).
    const payload = admitted.fallbackFrom !== undefined ? Buffer.from(JSON.stringify({ ...call.body, model: admitted.model })) : call.payload;

    const timer = setTimeout(() => abort.abort(new Error('upstream timeout')), limits.upstreamTimeoutMs);
    let upstream: UpstreamResponse;
    try {
      upstream = await upstreamClient.send(req, '/v1/messages', payload, abort.signal);
    } catch (err) {
      clearTimeout(timer);
      admitted.settle(undefined);
      if (res.destroyed) return;
      const timedOut = abort.signal.aborted;
      admitted.fail(timedOut ? 'timeout' : 'connection');
      logger.warn('gateway.upstream_unreachable', { model: admitted.model, error: errorMessage(err) });
      throw upstreamUnavailable(timedOut, timedOut ? `Upstream did not answer within ${limits.upstreamTimeoutMs} ms` : `Upstream unreachable: ${errorMessage(err)}`, admitted.model);
    }
    clearTimeout(timer);
    trace.getActiveSpan()?.setAttributes({ [GEN_AI.requestModel]: admitted.model, 'openclaw.gateway.queued_ms': admitted.queuedMs, 'openclaw.gateway.upstream_status': upstream.status });
    const relay = { abort, idleTimeoutMs: limits.upstreamIdleTimeoutMs, logger };
    if (isEventStream(upstream)) await relayStream(res, upstream, admitted, relay);
    else await relayBody(res, upstream, admitted, relay);
  };

  const handler: Handler = async (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'GET' && path === '/health') return sendJson(res, 200, { status: 'ok' });
    if (req.method === 'POST' && path === '/v1/messages') return messages(req, res);
    if (req.method === 'POST' && path === '/v1/messages/count_tokens') return countTokens(req, res);
    throw notFound(`No route for ${req.method ?? '?'} ${path}; the gateway serves POST /v1/messages and /v1/messages/count_tokens`);
  };
  return { handler, breaker, limiter: (tier) => admission.limiter(tier), ...(spend !== undefined ? { spend } : {}) };
}

/** The handler alone, for callers that need no access to the limiter or breaker. */
export function createGatewayHandler(options: GatewayOptions): Handler {
  return createGateway(options).handler;
}
