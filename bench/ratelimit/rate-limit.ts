import Anthropic from '@anthropic-ai/sdk';
import { createGatewayHandler } from '../../runtime/src/gateway/proxy';
import { staticKeyProvider } from '../../runtime/src/gateway/api-key-provider';
import { parseGatewayLimits } from '../../runtime/src/shared/gateway-limits';
import { startStubModel } from '../../tools/local/stub-model';
import { listen } from '../../runtime/src/shared/http';
import { silentLogger } from '../../runtime/src/shared/logger';
import { UpstreamRateLimit } from './upstream-limit';

export interface RateLimitBenchOptions {
  /** The provider's limit the stub enforces (requests per minute); low enough that this machine can offer 10× it. @default 300 */
  readonly rpm?: number;
  /** Offered load as a multiple of the limit. @default 10 */
  readonly overload?: number;
  /** Stub model latency (ms). @default 100 */
  readonly modelLatencyMs?: number;
  /** Measured window (ms), after the callers have run for `warmupMs`. @default 12_000 */
  readonly windowMs?: number;
  /**
   * The window opens once the provider's bucket holds under a quarter of its minute of burst (the
   * steady state, not the starting burst), or after this long at most. @default 30_000
   */
  readonly maxWarmupMs?: number;
}

export interface RateLimitCase {
  readonly path: 'direct' | 'gateway';
  /**
   * Upstream successes in the window ÷ what the limit made available in it: the refill over the
   * window plus whatever the bucket's level fell by (burst left over from the warm-up).
   */
  readonly utilisation: number;
  /** Provider 429s during the window. */
  readonly upstream429s: number;
  readonly upstreamRequests: number;
  /** Calls that failed at the caller after the SDK's retries, in the window. */
  readonly callerFailures: number;
  readonly callerSuccesses: number;
  /** Time the overload ran before the window opened (ms). */
  readonly warmupMs: number;
}

export interface RateLimitResult {
  readonly rpm: number;
  readonly callers: number;
  readonly overload: number;
  readonly windowMs: number;
  readonly direct: RateLimitCase;
  readonly gateway: RateLimitCase;
}

const MODEL = 'claude-sonnet-5';

/**
 * Callers that each send one request at a time with the Anthropic SDK (its default two retries),
 * enough of them to offer `overload` × the provider's limit, against a stub that enforces the
 * limit: once straight at the stub, once through the gateway configured with the same limit.
 */
export async function runRateLimitBench(options: RateLimitBenchOptions = {}): Promise<RateLimitResult> {
  const rpm = options.rpm ?? 300;
  const overload = options.overload ?? 10;
  const latency = options.modelLatencyMs ?? 100;
  const windowMs = options.windowMs ?? 12_000;
  const maxWarmupMs = options.maxWarmupMs ?? 30_000;
  // Each caller offers at most 1000/latency requests per second when nothing is refused.
  const callers = Math.ceil((overload * rpm) / 60 / (1000 / latency));
  const direct = await runCase('direct', { rpm, latency, windowMs, maxWarmupMs, callers });
  const gateway = await runCase('gateway', { rpm, latency, windowMs, maxWarmupMs, callers });
  return { rpm, callers, overload, windowMs, direct, gateway };
}

async function runCase(path: RateLimitCase['path'], o: { rpm: number; latency: number; windowMs: number; maxWarmupMs: number; callers: number }): Promise<RateLimitCase> {
  const limit = new UpstreamRateLimit(o.rpm);
  const stub = await startStubModel({ latencyMs: o.latency, intercept: limit.intercept });
  let gatewayServer: Awaited<ReturnType<typeof listen>> | undefined;
  try {
    let baseURL = stub.url;
    if (path === 'gateway') {
      const limits = parseGatewayLimits({ tiers: { sonnet: { models: [MODEL], rpm: o.rpm, itpm: 1_000_000_000, otpm: 1_000_000_000 } } });
      gatewayServer = await listen(createGatewayHandler({ upstreamUrl: stub.url, keys: staticKeyProvider('bench-key'), logger: silentLogger, limits }), 0, silentLogger, '127.0.0.1');
      baseURL = gatewayServer.url;
    }
    const client = new Anthropic({ baseURL, apiKey: 'bench', maxRetries: 2, timeout: 60_000 });
    const startedAt = Date.now();
    let windowStart = Number.POSITIVE_INFINITY;
    let stopAt = Number.POSITIVE_INFINITY;
    let successes = 0;
    let failures = 0;
    let rejectedAtStart = 0;
    let levelAtStart = 0;
    const inWindow = () => Date.now() >= windowStart && Date.now() < stopAt;
    const caller = async () => {
      while (Date.now() < stopAt) {
        try {
          await client.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'bench [tools:0]' }] });
          if (inWindow()) successes += 1;
        } catch {
          // A caller that gives up on a task takes the next one: no extra pause.
          if (inWindow()) failures += 1;
        }
      }
    };
    const opener = setInterval(() => {
      if (limit.level() >= 0.25 && Date.now() - startedAt < o.maxWarmupMs) return;
      clearInterval(opener);
      rejectedAtStart = limit.rejected;
      levelAtStart = limit.level();
      windowStart = Date.now();
      stopAt = windowStart + o.windowMs;
    }, 20);
    await Promise.all(Array.from({ length: o.callers }, caller));
    clearInterval(opener);
    const accepted = limit.acceptedBetween(windowStart, stopAt);
    const available = (o.rpm * o.windowMs) / 60_000 + Math.max(0, levelAtStart - limit.level()) * o.rpm;
    return {
      path,
      utilisation: accepted / available,
      upstream429s: limit.rejected - rejectedAtStart,
      upstreamRequests: accepted + (limit.rejected - rejectedAtStart),
      callerFailures: failures,
      callerSuccesses: successes,
      warmupMs: windowStart - startedAt,
    };
  } finally {
    await gatewayServer?.close();
    await stub.close();
  }
}
