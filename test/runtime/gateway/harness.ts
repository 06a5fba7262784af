import { listen, type RunningServer } from '../../../runtime/src/shared/http';
import { silentLogger } from '../../../runtime/src/shared/logger';
import { staticKeyProvider, type ApiKeyProvider } from '../../../runtime/src/gateway/api-key-provider';
import { DynamoBreakerStore } from '../../../runtime/src/gateway/breaker-store';
import type { GatewayMetrics } from '../../../runtime/src/gateway/gateway-metrics';
import { DynamoLimitStore } from '../../../runtime/src/gateway/limit-store';
import { parseGatewayLimits, type GatewayLimits } from '../../../runtime/src/shared/gateway-limits';
import { createGateway, type Gateway } from '../../../runtime/src/gateway/proxy';
import type { TestAws } from '../../support/aws';
import type { PriceTable } from '../../../runtime/src/shared/model-profiles';

export interface Replica {
  readonly url: string;
  readonly gateway: Gateway;
  close(): Promise<void>;
}

export interface ReplicaOptions {
  readonly aws: TestAws;
  readonly upstreamUrl: string;
  readonly limits: GatewayLimits;
  readonly metrics?: GatewayMetrics;
  readonly keys?: ApiKeyProvider;
  readonly spendCeilingUsdPerHour?: number;
  readonly prices?: PriceTable;
}

/** One gateway replica on a free port, sharing buckets and breakers through the test's gateway table. */
export async function startReplica(options: ReplicaOptions): Promise<Replica> {
  const gateway = createGateway({
    upstreamUrl: options.upstreamUrl,
    keys: options.keys ?? staticKeyProvider('sk-test-upstream'),
    logger: silentLogger,
    limits: options.limits,
    limitStore: new DynamoLimitStore({ client: options.aws.dynamo, tableName: options.aws.resources.gatewayTable }),
    breakerStore: new DynamoBreakerStore({ client: options.aws.dynamo, tableName: options.aws.resources.gatewayTable }),
    ...(options.metrics !== undefined ? { metrics: options.metrics } : {}),
    ...(options.spendCeilingUsdPerHour !== undefined ? { spendCeilingUsdPerHour: options.spendCeilingUsdPerHour } : {}),
    ...(options.prices !== undefined ? { prices: options.prices } : {}),
  });
  const server: RunningServer = await listen(gateway.handler, 0, silentLogger, '127.0.0.1');
  return { url: server.url, gateway, close: () => server.close() };
}

/** Limits for tests: one small tier per model, everything else at its default unless overridden. */
export function testLimits(overrides: Record<string, unknown> = {}): GatewayLimits {
  return parseGatewayLimits({
    tiers: {
      sonnet: { models: ['claude-sonnet-5'], rpm: 100_000, itpm: 100_000_000, otpm: 100_000_000 },
      haiku: { models: ['claude-haiku-5-5'], rpm: 100_000, itpm: 100_000_000, otpm: 100_000_000 },
    },
    ...overrides,
  });
}

/** A Messages API call with plain fetch (no SDK retries), for load and header assertions. */
export function postMessage(
  url: string,
  options: { model?: string; maxTokens?: number; priority?: string; intent?: string; stream?: boolean; prompt?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const body = {
    model: options.model ?? 'claude-sonnet-5',
    max_tokens: options.maxTokens ?? 100,
    stream: options.stream ?? false,
    messages: [{ role: 'user', content: options.prompt ?? 'Say hello [tools:0]' }],
  };
  return fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      ...(options.priority !== undefined ? { 'x-openclaw-priority': options.priority } : {}),
      ...(options.intent !== undefined ? { 'x-openclaw-intent': options.intent } : {}),
      ...options.headers,
    },
    body: JSON.stringify(body),
  });
}

/** Counts the gateway's metric events, per kind and lane. */
export class CountingMetrics implements GatewayMetrics {
  readonly counts = new Map<string, number>();
  readonly circuitStates: string[] = [];

  private bump(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  admitted(e: { lane: string }): void {
    this.bump(`admitted:${e.lane}`);
  }
  queued(e: { lane: string }): void {
    this.bump(`queued:${e.lane}`);
  }
  rejected(e: { lane: string; reason: string }): void {
    this.bump(`rejected:${e.lane}`);
    this.bump(`rejected:${e.reason}`);
  }
  upstreamError(e: { kind: string }): void {
    this.bump(`upstream:${e.kind}`);
  }
  circuit(e: { state: string }): void {
    this.circuitStates.push(e.state);
  }
  readonly spendUses: number[] = [];
  spendCeilingUse(e: { use: number }): void {
    this.spendUses.push(e.use);
  }
  fallback(e: { reason: string }): void {
    this.bump('fallback');
    this.bump(`fallback:${e.reason}`);
  }
}

export interface Sent {
  readonly lane: string;
  readonly status: number;
  readonly retryAfterMs?: number;
  readonly queuedMs?: number;
}

export interface FloodOptions {
  readonly model?: string;
  readonly perSecond: number;
  readonly durationMs: number;
  /** The lane of the i-th request. */
  readonly lane: (i: number) => string;
  /** @default 100 */
  readonly maxTokens?: number;
}

/** Offer requests at a fixed rate whatever the answers, alternating replicas; resolves with every outcome. */
export function flood(replicas: readonly Replica[], options: FloodOptions): Promise<Sent[]> {
  const sent: Promise<Sent>[] = [];
  let i = 0;
  const started = Date.now();
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      // Catch up on ticks the timer missed, so the offered rate holds on a busy machine.
      const elapsed = Math.min(Date.now() - started, options.durationMs);
      const due = Math.floor((elapsed / 1000) * options.perSecond);
      while (i < due) {
        const lane = options.lane(i);
        const replica = replicas[i % replicas.length] as Replica;
        i += 1;
        sent.push(
          postMessage(replica.url, { model: options.model ?? 'claude-sonnet-5', maxTokens: options.maxTokens ?? 100, priority: lane, headers: { 'x-stainless-timeout': '4' } }).then(async (res) => {
            await res.arrayBuffer();
            const retry = res.headers.get('retry-after-ms');
            const queued = res.headers.get('x-openclaw-queued-ms');
            return { lane, status: res.status, ...(retry !== null ? { retryAfterMs: Number(retry) } : {}), ...(queued !== null ? { queuedMs: Number(queued) } : {}) };
          }),
        );
      }
      if (Date.now() - started >= options.durationMs) {
        clearInterval(timer);
        void Promise.all(sent).then(resolve);
      }
    }, 10);
  });
}
