import { staticKeyProvider } from '../../../runtime/src/gateway/api-key-provider';
import { DynamoBreakerStore } from '../../../runtime/src/gateway/breaker-store';
import { WINDOW_MS, clamp, drain, remaining, type Units } from '../../../runtime/src/gateway/gcra';
import { DynamoLimitStore } from '../../../runtime/src/gateway/limit-store';
import { availableCap, limitsBelowConfig, parseProviderLimits } from '../../../runtime/src/gateway/provider-limits';
import { createGateway } from '../../../runtime/src/gateway/proxy';
import { startStubModel, type StubCall, type StubModel, type StubOverride, type StubRateLimitHeaders } from '../../../tools/local/stub-model';
import { listen, type RunningServer } from '../../../runtime/src/shared/http';
import { silentLogger, type LogFields, type Logger } from '../../../runtime/src/shared/logger';
import { createTestAws, eventually, type TestAws } from '../../support/aws';
import { postMessage, testLimits } from './harness';

const RESET = '2026-11-25T12:00:30Z';

describe('parseProviderLimits (anthropic-ratelimit-* response headers)', () => {
  it('GIVEN every header well formed WHEN parsed THEN each kind has its limit, remaining and reset, and retry-after is in ms', () => {
    const headers = new Headers({
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '49',
      'anthropic-ratelimit-requests-reset': RESET,
      'anthropic-ratelimit-input-tokens-limit': '30000',
      'anthropic-ratelimit-input-tokens-remaining': '29000',
      'anthropic-ratelimit-input-tokens-reset': '2026-11-25T12:00:01.500+01:00',
      'anthropic-ratelimit-output-tokens-limit': '8000',
      'anthropic-ratelimit-output-tokens-remaining': '0',
      'anthropic-ratelimit-output-tokens-reset': RESET,
      'retry-after': '2',
    });
    const parsed = parseProviderLimits(headers);
    expect(parsed).toEqual({
      requests: { limit: 50, remaining: 49, resetAt: Date.parse(RESET) },
      inputTokens: { limit: 30000, remaining: 29000, resetAt: Date.parse('2026-11-25T11:00:01.500Z') },
      outputTokens: { limit: 8000, remaining: 0, resetAt: Date.parse(RESET) },
      retryAfterMs: 2000,
    });
    expect(availableCap(parsed)).toEqual([49, 29000, 0]);
  });

  it('GIVEN no rate-limit headers WHEN parsed THEN nothing is reported and there is nothing to calibrate', () => {
    const parsed = parseProviderLimits(new Headers({ 'content-type': 'application/json' }));
    expect(parsed).toEqual({ requests: {}, inputTokens: {}, outputTokens: {} });
    expect(availableCap(parsed)).toBeUndefined();
    expect(limitsBelowConfig(parsed, [1, 1, 1])).toEqual([]);
  });

  it('GIVEN malformed values WHEN parsed THEN they are left out without throwing, and the good ones kept', () => {
    const headers = new Headers({
      'anthropic-ratelimit-requests-limit': '-5',
      'anthropic-ratelimit-requests-remaining': '12.5',
      'anthropic-ratelimit-requests-reset': 'tomorrow',
      'anthropic-ratelimit-input-tokens-limit': '1e6',
      'anthropic-ratelimit-input-tokens-remaining': 'lots',
      'anthropic-ratelimit-input-tokens-reset': '2026-13-45',
      'anthropic-ratelimit-output-tokens-limit': '99999999999999999999',
      'anthropic-ratelimit-output-tokens-remaining': ' 7 ',
      'anthropic-ratelimit-output-tokens-reset': '1',
      'retry-after': 'soon',
    });
    const parsed = parseProviderLimits(headers);
    expect(parsed).toEqual({ requests: {}, inputTokens: {}, outputTokens: { remaining: 7 } });
    expect(availableCap(parsed)).toEqual([Infinity, Infinity, 7]);
  });

  it('GIVEN a retry-after HTTP date WHEN parsed THEN it becomes the ms from now', () => {
    const now = Date.parse('2026-11-25T12:00:00Z');
    expect(parseProviderLimits(new Headers({ 'retry-after': 'Wed, 25 Nov 2026 12:00:03 GMT' }), now).retryAfterMs).toBe(3000);
  });

  it('GIVEN provider limits WHEN compared with the configured ones THEN only the kinds below config are named', () => {
    const parsed = parseProviderLimits(new Headers({ 'anthropic-ratelimit-requests-limit': '50', 'anthropic-ratelimit-input-tokens-limit': '40000', 'anthropic-ratelimit-output-tokens-limit': '8000' }));
    expect(limitsBelowConfig(parsed, [100, 30000, 8000])).toEqual([{ dimension: 'requests', providerLimit: 50, configuredLimit: 100 }]);
  });
});

describe('gcra clamp', () => {
  const rates = { perMinute: [60, 6000, 600] as Units };
  const now = 1_000_000;

  it('GIVEN a full bucket WHEN clamped to fewer units THEN exactly that many remain, and 0 is a drain', () => {
    const full: Units = [0, 0, 0];
    expect(remaining(clamp(full, [5, Infinity, 0], rates, now), rates, now)).toEqual([5, 6000, 0]);
    expect(clamp(full, [0, 0, 0], rates, now)).toEqual(drain(full, now));
  });

  it('GIVEN a bucket with less than reported WHEN clamped THEN it is left as it is: capacity is never raised', () => {
    const half: Units = [now + WINDOW_MS / 2, now + WINDOW_MS / 2, now + WINDOW_MS / 2];
    expect(clamp(half, [59, 5000, 600], rates, now)).toEqual(half);
  });
});

class CapturingLogger implements Logger {
  readonly warnings: { event: string; fields: LogFields | undefined }[] = [];
  debug(): void {}
  info(): void {}
  error(): void {}
  warn(event: string, fields?: LogFields): void {
    this.warnings.push({ event, fields });
  }
  child(): Logger {
    return this;
  }
}

describe('gateway calibrates its buckets from the provider headers (DynamoDB Local, stub upstream)', () => {
  const T0 = Date.parse('2026-11-25T12:00:00Z');
  /**
   * A frozen clock: admissions depend only on what was spent and reported, never on elapsed time.
   * Every refusal must therefore be one that waiting could not fix within the 100 ms budget.
   */
  const now = () => T0;
  let aws: TestAws;
  let stub: StubModel;
  let server: RunningServer;
  let store: DynamoLimitStore;
  const logger = new CapturingLogger();
  /** Headers the stub reports, per model, one entry per call; none once the queue is empty. */
  const reports = new Map<string, (StubRateLimitHeaders | undefined)[]>();
  /** Raw headers (malformed ones) the stub adds, per model. */
  const raw = new Map<string, Record<string, string>>();
  const models = ['m-alpha', 'm-bravo', 'm-charlie', 'm-delta', 'm-echo', 'm-foxtrot'] as const;
  const tier = (model: string) => model.slice(2);
  const limits = testLimits({
    tiers: {
      ...Object.fromEntries(models.map((m) => [tier(m), { models: [m], rpm: 100, itpm: 1_000_000, otpm: 1_000_000 }])),
      charlie: { models: ['m-charlie'], rpm: 5, itpm: 1_000_000, otpm: 1_000_000 },
      // 10 ms per output token: a drained bucket is ~1 s from fitting max_tokens 100, beyond the 100 ms wait.
      delta: { models: ['m-delta'], rpm: 100, itpm: 1_000_000, otpm: 6000 },
    },
    fallbackTier: 'alpha',
  });
  const callsFor = (model: string) => stub.calls.filter((c: StubCall) => c.model === model).length;
  const send = (model: string, extra: { stream?: boolean } = {}) =>
    postMessage(server.url, { model, priority: 'high', headers: { 'x-stainless-timeout': '0.2' }, ...extra }).then(async (res) => {
      await res.arrayBuffer();
      return res;
    });
  const requestsLeft = (t: string, expected: number) =>
    eventually(async () => {
      const { tat } = await store.read(t);
      const left = remaining(tat, { perMinute: [limits.tiers[t]?.rpm ?? 0, 1_000_000, 1_000_000] }, T0)[0];
      return left === expected ? left : undefined;
    }, `tier ${t} to hold ${expected} requests`);

  beforeAll(async () => {
    aws = await createTestAws();
    stub = await startStubModel({
      rateLimitHeaders: (call) => reports.get(call.model)?.shift(),
      intercept: (call): StubOverride | undefined => {
        const headers = raw.get(call.model);
        return headers !== undefined ? { headers } : undefined;
      },
    });
    store = new DynamoLimitStore({ client: aws.dynamo, tableName: aws.resources.gatewayTable });
    const gateway = createGateway({
      upstreamUrl: stub.url,
      keys: staticKeyProvider('sk-test-upstream'),
      logger,
      limits,
      limitStore: store,
      breakerStore: new DynamoBreakerStore({ client: aws.dynamo, tableName: aws.resources.gatewayTable }),
      now,
      random: () => 0,
    });
    server = await listen(gateway.handler, 0, silentLogger, '127.0.0.1');
  });
  afterAll(async () => {
    await server.close();
    await stub.close();
    aws.destroy();
  });

  it('GIVEN a full bucket WHEN the provider reports 0 requests remaining THEN the next request is refused with 429 and retry-after-ms without reaching upstream', async () => {
    reports.set('m-alpha', [{ requests: { limit: 100, remaining: 0 } }]);
    expect((await send('m-alpha')).status).toBe(200);
    const next = await send('m-alpha');
    expect(next.status).toBe(429);
    expect(Number(next.headers.get('retry-after-ms'))).toBeGreaterThan(0);
    expect(callsFor('m-alpha')).toBe(1);
    await requestsLeft('alpha', 0);
  });

  it('GIVEN the provider reports 2 requests remaining WHEN more are sent THEN exactly 2 more go upstream', async () => {
    reports.set('m-bravo', [{ requests: { remaining: 2 } }]);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await send('m-bravo')).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(callsFor('m-bravo')).toBe(3);
  });

  it('GIVEN the provider reports more remaining than our bucket holds WHEN requests keep coming THEN our configured limit still holds: capacity is not raised', async () => {
    reports.set('m-charlie', Array.from({ length: 10 }, () => ({ requests: { limit: 5, remaining: 1000 }, outputTokens: { remaining: 10_000_000 } })));
    const statuses: number[] = [];
    for (let i = 0; i < 7; i += 1) statuses.push((await send('m-charlie')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(callsFor('m-charlie')).toBe(5);
    await requestsLeft('charlie', 0);
    const { tat } = await store.read('charlie');
    // Five requests at 12 s each: exactly what was spent, nothing taken back by the reports.
    expect(tat[0]).toBe(T0 + 5 * 12_000);
  });

  it('GIVEN a streaming reply reporting 0 output tokens remaining WHEN the next request comes THEN it is refused without reaching upstream', async () => {
    reports.set('m-delta', [{ outputTokens: { limit: 1_000_000, remaining: 0 } }]);
    const first = await send('m-delta', { stream: true });
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toContain('text/event-stream');
    const next = await send('m-delta');
    expect(next.status).toBe(429);
    expect(Number(next.headers.get('retry-after-ms'))).toBeGreaterThan(0);
    expect(callsFor('m-delta')).toBe(1);
  });

  it('GIVEN the provider limit is below the configured one WHEN replies report it THEN one warning names both values and the configured capacity is unchanged', async () => {
    const report: StubRateLimitHeaders = { requests: { limit: 50 }, inputTokens: { limit: 5_000_000 } };
    reports.set('m-echo', [report, report, report]);
    for (let i = 0; i < 3; i += 1) expect((await send('m-echo')).status).toBe(200);
    const warned = logger.warnings.filter((w) => w.event === 'gateway.provider_limit_below_config');
    expect(warned).toEqual([{ event: 'gateway.provider_limit_below_config', fields: { tier: 'echo', dimension: 'requests', providerLimit: 50, configuredLimit: 100 } }]);
    expect(limits.tiers['echo']?.rpm).toBe(100);
    await requestsLeft('echo', 97);
  });

  it('GIVEN malformed rate-limit headers WHEN they come back THEN the replies pass and the buckets are untouched', async () => {
    raw.set('m-foxtrot', { 'anthropic-ratelimit-requests-remaining': 'none', 'anthropic-ratelimit-requests-reset': 'garbage', 'anthropic-ratelimit-requests-limit': '-1' });
    for (let i = 0; i < 2; i += 1) expect((await send('m-foxtrot')).status).toBe(200);
    expect(callsFor('m-foxtrot')).toBe(2);
    await requestsLeft('foxtrot', 98);
    expect(logger.warnings.filter((w) => w.fields?.['tier'] === 'foxtrot')).toEqual([]);
  });
});
