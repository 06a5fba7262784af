import { startStubModel, type StubModel } from '../../../tools/local/stub-model';
import { createTestAws, type TestAws } from '../../support/aws';
import { CountingMetrics, postMessage, startReplica, testLimits, type Replica } from './harness';

/** A dollar per output token and input for free: spend is output tokens, easy to count. */
const PRICES = { 'claude-sonnet': { inputUsdPerMTok: 0, outputUsdPerMTok: 1_000_000, contextWindow: 200_000 } };
/** $400/hour: the 15-minute bucket holds $100; batch may fill it to $60, normal to $80, high to $100. */
const CEILING = 400;
const MAX_TOKENS = 10;

describe('fleet spend ceiling across two replicas (DynamoDB Local, stub upstream)', () => {
  let aws: TestAws;
  let stub: StubModel;
  let replicas: Replica[];
  let metrics: CountingMetrics;

  beforeAll(async () => {
    aws = await createTestAws();
    stub = await startStubModel();
    metrics = new CountingMetrics();
    // Leasing off, so each replica's view of the bucket is the table's at every admission.
    const limits = testLimits({ queue: { maxWaitMs: 3000, lease: { horizonMs: 0 } } });
    replicas = await Promise.all([0, 1].map(() => startReplica({ aws, upstreamUrl: stub.url, limits, metrics, spendCeilingUsdPerHour: CEILING, prices: PRICES })));
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.close()));
    await stub.close();
    aws.destroy();
  });

  const send = (i: number, lane: string) => postMessage(replicas[i % 2]?.url ?? '', { maxTokens: MAX_TOKENS, priority: lane });

  async function untilRefused(lane: string, from: number): Promise<{ admitted: number; refusal: Response; spentUsd: number }> {
    let spentUsd = 0;
    for (let i = 0; i < 200; i += 1) {
      const res = await send(from + i, lane);
      if (res.status !== 200) return { admitted: i, refusal: res, spentUsd };
      spentUsd += ((await res.json()) as { usage: { output_tokens: number } }).usage.output_tokens;
    }
    throw new Error(`lane ${lane} was never refused`);
  }

  it('GIVEN the ceiling filling WHEN each lane sends until refused THEN batch stops first, then normal, high keeps its share, and refusals are 429 spend_limited with retry-after-ms', async () => {
    const upstreamBefore = stub.calls.length;
    const batch = await untilRefused('batch', 0);
    expect(batch.refusal.status).toBe(429);
    expect(await batch.refusal.json()).toMatchObject({ type: 'error', error: { type: 'spend_limited', message: expect.stringContaining('$400/hour') } });
    expect(Number(batch.refusal.headers.get('retry-after-ms'))).toBeGreaterThan(0);
    // Batch spent up to its 60% ceiling ($60), less at most one reservation.
    expect(batch.spentUsd).toBeLessThanOrEqual(60);
    expect(batch.spentUsd).toBeGreaterThan(60 - MAX_TOKENS - 1);

    const normal = await untilRefused('normal', 1000);
    expect(normal.admitted).toBeGreaterThan(0);
    expect(await normal.refusal.json()).toMatchObject({ error: { type: 'spend_limited' } });
    expect(batch.spentUsd + normal.spentUsd).toBeLessThanOrEqual(80);

    // Batch is still refused while high is admitted from the share reserved for it.
    expect((await send(0, 'batch')).status).toBe(429);
    const high = await send(1, 'high');
    expect(high.status).toBe(200);
    const highAll = await untilRefused('high', 2000);
    const total = batch.spentUsd + normal.spentUsd + highAll.spentUsd + ((await high.json()) as { usage: { output_tokens: number } }).usage.output_tokens;
    // Never above the bucket ($100 for 15 minutes at $400/hour), whichever replica admitted.
    expect(total).toBeLessThanOrEqual(100);
    expect(total).toBeGreaterThan(100 - MAX_TOKENS - 1);
    expect(metrics.count('rejected:spend_limited')).toBeGreaterThanOrEqual(4);
    // Refused calls never reached the provider.
    expect(stub.calls.length - upstreamBefore).toBe(batch.admitted + normal.admitted + 1 + highAll.admitted);
    // The metric's source: the ceiling's use as a replica sees it.
    expect(replicas[0]?.gateway.spend?.use()).toBeGreaterThanOrEqual(0.9);
    expect(metrics.spendUses.length).toBeGreaterThan(0);
  }, 60_000);
});
