import { DynamoLimitStore } from '../../../runtime/src/gateway/limit-store';
import { WINDOW_MS } from '../../../runtime/src/gateway/gcra';
import type { GatewayLimits } from '../../../runtime/src/shared/gateway-limits';
import { startStubModel, type StubModel } from '../../../tools/local/stub-model';
import { createTestAws, type TestAws } from '../../support/aws';
import { flood, postMessage, startReplica, testLimits, type Replica } from './harness';

/** 5% high (half of what the limit allows), the rest split between normal and batch. */
const mixedLane = (i: number) => (i % 20 === 0 ? 'high' : i % 2 === 1 ? 'batch' : 'normal');

/**
 * A minute-long overload at ten times the limits, through two replicas that share their buckets in
 * DynamoDB Local. Small absolute limits keep it cheap: sonnet is bound by requests per minute,
 * haiku by output tokens per minute (with max_tokens reserved up front and the rest refunded).
 */
const SONNET_RPM = 150;
const HAIKU_OTPM = 2550;
const RUN_MS = 61_000;
/** Steady state: after the first reservations settle, until the end of the first minute. */
const STEADY_FROM_MS = 10_000;

describe('rate limits under a minute of 10x overload across two replicas', () => {
  let aws: TestAws;
  let stub: StubModel;
  let replicas: Replica[];
  let limits: GatewayLimits;

  beforeAll(async () => {
    aws = await createTestAws();
    stub = await startStubModel();
    limits = testLimits({
      tiers: {
        sonnet: { models: ['claude-sonnet-5'], rpm: SONNET_RPM, itpm: 100_000_000, otpm: 100_000_000 },
        haiku: { models: ['claude-haiku-5-5'], rpm: 100_000, itpm: 100_000_000, otpm: HAIKU_OTPM },
      },
      queue: { maxWaitMs: 2000 },
    });
    replicas = await Promise.all([startReplica({ aws, upstreamUrl: stub.url, limits }), startReplica({ aws, upstreamUrl: stub.url, limits })]);
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.close()));
    await stub.close();
    aws.destroy();
  });

  it('GIVEN saturated buckets WHEN offered 10x the limits for a minute THEN the fleet admits within 2% of the limits, no more and no less', async () => {
    // One output-token reply from the stub, to turn calls into tokens.
    const probe = (await (await postMessage(replicas[0]?.url ?? '', { model: 'claude-haiku-5-5', prompt: 'Say hello [tools:0]' })).json()) as { usage: { output_tokens: number } };
    const perReply = probe.usage.output_tokens;
    // The probe may have leased a slice of capacity; let it go back before the state is set below.
    await new Promise((r) => setTimeout(r, (limits.queue.lease.ttlMs ?? 0) + 500));

    // Start with the buckets filled to the normal lane's ceiling (what a long overload leaves), so
    // the minute measures the refill rate and not a stored burst.
    const store = new DynamoLimitStore({ client: aws.dynamo, tableName: aws.resources.gatewayTable });
    const t0 = Date.now();
    const full = t0 + limits.lanes.normal * WINDOW_MS;
    for (const tier of ['sonnet', 'haiku']) {
      // A replica may be writing the probe's refund at the same moment: compare-and-set until ours lands.
      let written = false;
      for (let attempt = 0; attempt < 20 && !written; attempt += 1) {
        const state = await store.read(tier);
        written = await store.write(tier, [full, full, full], state.version);
      }
      expect(written).toBe(true);
    }
    const callsBefore = stub.calls.length;

    const sonnetOffered = (10 * SONNET_RPM) / 60;
    const haikuOffered = (10 * HAIKU_OTPM) / perReply / 60;
    const [sonnet, haiku] = await Promise.all([flood(replicas, { model: 'claude-sonnet-5', perSecond: sonnetOffered, durationMs: RUN_MS, lane: mixedLane }), flood(replicas, { model: 'claude-haiku-5-5', perSecond: haikuOffered, durationMs: RUN_MS, lane: mixedLane })]);

    const calls = stub.calls.slice(callsBefore);
    const inWindow = (model: string, from: number, to: number) => calls.filter((c) => c.model === model && c.at >= t0 + from && c.at < t0 + to).length;
    const steadyMs = WINDOW_MS - STEADY_FROM_MS;
    const figures = {
      sonnetMinute: inWindow('claude-sonnet-5', 0, WINDOW_MS),
      sonnetSteady: inWindow('claude-sonnet-5', STEADY_FROM_MS, WINDOW_MS),
      sonnetSteadyExpected: (SONNET_RPM * steadyMs) / WINDOW_MS,
      haikuOutputMinute: inWindow('claude-haiku-5-5', 0, WINDOW_MS) * perReply,
      haikuOutputSteady: inWindow('claude-haiku-5-5', STEADY_FROM_MS, WINDOW_MS) * perReply,
      haikuOutputSteadyExpected: (HAIKU_OTPM * steadyMs) / WINDOW_MS,
      offered: sonnet.length + haiku.length,
      rejected: [...sonnet, ...haiku].filter((s) => s.status === 429).length,
    };
    process.stdout.write(`gateway overload figures: ${JSON.stringify(figures)}\n`);

    // Never above the limit over the minute...
    expect(figures.sonnetMinute).toBeLessThanOrEqual(SONNET_RPM * 1.02);
    expect(figures.sonnetMinute).toBeGreaterThanOrEqual(SONNET_RPM * 0.98);
    expect(figures.haikuOutputMinute).toBeLessThanOrEqual(HAIKU_OTPM * 1.02);
    // ...and, once the pipeline is full, using all of it.
    expect(Math.abs(figures.sonnetSteady / figures.sonnetSteadyExpected - 1)).toBeLessThanOrEqual(0.02);
    expect(Math.abs(figures.haikuOutputSteady / figures.haikuOutputSteadyExpected - 1)).toBeLessThanOrEqual(0.02);

    // The overflow was told to come back later, with spread-out retry-after values.
    const rejected = [...sonnet, ...haiku].filter((s) => s.status === 429);
    expect(rejected.length).toBeGreaterThan(figures.offered * 0.8);
    expect(rejected.every((s) => (s.retryAfterMs ?? 0) > 0)).toBe(true);
    expect(new Set(rejected.map((s) => s.retryAfterMs)).size).toBeGreaterThan(rejected.length / 4);
    // The high lane (5% of the offer, well under the limit) was never refused.
    const high = [...sonnet, ...haiku].filter((s) => s.lane === 'high');
    expect(high.filter((s) => s.status !== 200)).toEqual([]);
  }, 150_000);
});
