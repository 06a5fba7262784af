import { DynamoBreakerStore } from '../../../runtime/src/gateway/breaker-store';
import { WINDOW_MS } from '../../../runtime/src/gateway/gcra';
import { DynamoLimitStore } from '../../../runtime/src/gateway/limit-store';
import { parseGatewayLimits } from '../../../runtime/src/shared/gateway-limits';
import { startStubModel, type StubModel } from '../../../tools/local/stub-model';
import { createTestAws, type TestAws } from '../../support/aws';
import { CountingMetrics, postMessage, startReplica, testLimits, type Replica } from './harness';

const big = { rpm: 100_000, itpm: 100_000_000, otpm: 100_000_000 };

describe('fallback models (real proxy, stub upstream, DynamoDB Local)', () => {
  let aws: TestAws;
  let stub: StubModel;
  let gateway: Replica;
  let metrics: CountingMetrics;

  beforeAll(async () => {
    aws = await createTestAws();
    stub = await startStubModel();
    metrics = new CountingMetrics();
    const limits = testLimits({
      tiers: {
        opus: { models: ['claude-opus-5'], ...big, fallback: 'sonnet' },
        sonnet: { models: ['claude-sonnet-5'], ...big, rpm: 60, fallback: 'haiku' },
        haiku: { models: ['claude-haiku-5-5'], ...big },
      },
      breaker: { refreshMs: 60_000 },
      queue: { lease: { horizonMs: 0 } },
    });
    gateway = await startReplica({ aws, upstreamUrl: stub.url, limits, metrics });
  });
  afterAll(async () => {
    await gateway.close();
    await stub.close();
    aws.destroy();
  });

  it('GIVEN the primary circuit open WHEN called THEN the fallback tier serves it and says so; a pinned call gets the 503 instead', async () => {
    await new DynamoBreakerStore({ client: aws.dynamo, tableName: aws.resources.gatewayTable }).open('claude-opus-5', Date.now() + 60_000, false);
    const res = await postMessage(gateway.url, { model: 'claude-opus-5' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-openclaw-model')).toBe('claude-sonnet-5');
    expect(res.headers.get('x-openclaw-fallback-from')).toBe('claude-opus-5');
    expect(((await res.json()) as { model: string }).model).toBe('claude-sonnet-5');
    expect(stub.calls.at(-1)?.model).toBe('claude-sonnet-5');
    expect(metrics.count('fallback:circuit_open')).toBe(1);

    const before = stub.calls.length;
    const pinned = await postMessage(gateway.url, { model: 'claude-opus-5', headers: { 'x-openclaw-pin-model': 'true' } });
    expect(pinned.status).toBe(503);
    expect(pinned.headers.get('x-should-retry')).toBe('false');
    expect(stub.calls.length).toBe(before);
    expect(metrics.count('fallback')).toBe(1);
  });

  it('GIVEN the primary lane cannot be admitted before its deadline WHEN called THEN the fallback serves it; pinned, it is refused with 429', async () => {
    // The sonnet bucket full to its brim: a minute of waiting, far past a 0.4 s budget.
    const store = new DynamoLimitStore({ client: aws.dynamo, tableName: aws.resources.gatewayTable });
    const full = Date.now() + WINDOW_MS;
    let written = false;
    for (let i = 0; i < 20 && !written; i += 1) written = await store.write('sonnet', [full, full, full], (await store.read('sonnet')).version);
    expect(written).toBe(true);
    const timeout = { 'x-stainless-timeout': '0.4' };

    const res = await postMessage(gateway.url, { model: 'claude-sonnet-5', priority: 'batch', headers: timeout });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-openclaw-model')).toBe('claude-haiku-5-5');
    expect(stub.calls.at(-1)?.model).toBe('claude-haiku-5-5');
    expect(metrics.count('fallback:no_capacity')).toBe(1);

    const pinned = await postMessage(gateway.url, { model: 'claude-sonnet-5', priority: 'batch', headers: { ...timeout, 'x-openclaw-pin-model': 'true' } });
    expect(pinned.status).toBe(429);
    expect(await pinned.json()).toMatchObject({ error: { type: 'rate_limit_error' } });
  });

  it('GIVEN a fallback that names no tier WHEN the limits are parsed THEN the error names the key and the tiers to choose from', () => {
    expect(() => parseGatewayLimits({ tiers: { sonnet: { models: ['claude-sonnet-5'], ...big, fallback: 'gpt' } } })).toThrow(/tiers\.sonnet\.fallback.*"gpt" must name another tier/);
  });
});
