import { startStubModel, type StubModel } from '../../../tools/local/stub-model';
import { createTestAws, type TestAws } from '../../support/aws';
import { CountingMetrics, flood, startReplica, testLimits, type Replica } from './harness';

const RPM = 120; // two requests a second
const RUN_MS = 8000;

describe('priority lanes under a batch flood, two replicas', () => {
  let aws: TestAws;
  let stub: StubModel;
  let replicas: Replica[];
  let metrics: CountingMetrics;

  beforeAll(async () => {
    aws = await createTestAws();
    stub = await startStubModel();
    metrics = new CountingMetrics();
    const limits = testLimits({ tiers: { sonnet: { models: ['claude-sonnet-5'], rpm: RPM, itpm: 100_000_000, otpm: 100_000_000 } }, queue: { maxWaitMs: 1000 } });
    replicas = await Promise.all([0, 1].map(() => startReplica({ aws, upstreamUrl: stub.url, limits, metrics })));
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.close()));
    await stub.close();
    aws.destroy();
  });

  it('GIVEN batch traffic at 10x the limit WHEN high-priority calls arrive THEN every high call is admitted and batch gets only its share', async () => {
    // 20 batch calls a second (10x the limit), one high call a second (half the limit).
    const [batchSent, highResults] = await Promise.all([
      flood(replicas, { perSecond: (10 * RPM) / 60, durationMs: RUN_MS, lane: () => 'batch' }),
      flood(replicas, { perSecond: 1, durationMs: RUN_MS, lane: () => 'high' }),
    ]);
    const batchStatus = batchSent.map((s) => s.status);
    expect(highResults.length).toBe(RUN_MS / 1000);
    expect(highResults.filter((h) => h.status !== 200)).toEqual([]);
    const admittedBatch = batchStatus.filter((s) => s === 200).length;
    // Batch may fill 60% of the minute's capacity at once and then shares the refill with high.
    expect(admittedBatch).toBeGreaterThanOrEqual(RPM * 0.6);
    expect(admittedBatch + highResults.length).toBeLessThanOrEqual(RPM + (RPM * (RUN_MS + 2000)) / 60_000);
    expect(batchStatus.filter((s) => s === 429).length).toBe(batchStatus.length - admittedBatch);
    expect(metrics.count('rejected:batch')).toBeGreaterThan(0);
    expect(metrics.count('rejected:high')).toBe(0);
  }, 60_000);
});
