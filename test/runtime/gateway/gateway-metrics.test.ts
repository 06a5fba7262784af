import { gatewayMetricsFrom } from '../../../runtime/src/gateway/gateway-metrics';
import { InMemoryMetrics } from '../../../runtime/src/shared/metrics';
import { METRICS } from '../../../runtime/src/shared/metrics-contract';

describe('gateway metrics', () => {
  it('GIVEN no batching WHEN requests are admitted THEN each is one record with its queue wait', () => {
    const out = new InMemoryMetrics();
    const metrics = gatewayMetricsFrom(out);
    metrics.admitted({ lane: 'normal', tier: 'sonnet', model: 'claude-sonnet-5', queuedMs: 12, routed: false });
    metrics.admitted({ lane: 'normal', tier: 'sonnet', model: 'claude-sonnet-5', queuedMs: 0, routed: false });
    expect(out.find(METRICS.gatewayAdmitted).map((r) => [r.value, r.properties['queuedMs']])).toEqual([
      [1, 12],
      [1, 0],
    ]);
  });

  it('GIVEN batching WHEN counters repeat THEN one record per metric and dimension set carries their sum, and gauges are not held back', () => {
    const out = new InMemoryMetrics();
    const metrics = gatewayMetricsFrom(out, { batchMs: 60_000 });
    for (let i = 0; i < 3; i += 1) metrics.admitted({ lane: 'normal', tier: 'sonnet', model: 'claude-sonnet-5', queuedMs: i, routed: false });
    metrics.admitted({ lane: 'high', tier: 'sonnet', model: 'claude-sonnet-5', queuedMs: 0, routed: false });
    for (let i = 0; i < 5; i += 1) metrics.rejected({ lane: 'batch', tier: 'sonnet', reason: 'deadline' });
    metrics.rejected({ lane: 'batch', tier: 'sonnet', reason: 'queue_full' });
    metrics.circuit({ model: 'claude-sonnet-5', state: 'open' });
    // The gauge is written at once; the counters wait for the flush.
    expect(out.records.map((r) => r.name)).toEqual([METRICS.circuitOpen]);

    metrics.flush(true);
    expect(out.find(METRICS.gatewayAdmitted, { Lane: 'normal' }).map((r) => r.value)).toEqual([3]);
    expect(out.find(METRICS.gatewayAdmitted, { Lane: 'high' }).map((r) => r.value)).toEqual([1]);
    expect(out.find(METRICS.gatewayRejected).map((r) => [r.value, r.properties['reason']])).toEqual([
      [5, 'deadline'],
      [1, 'queue_full'],
    ]);
    expect(out.sum(METRICS.gatewayAdmitted)).toBe(4);

    // A flush with nothing new writes nothing.
    const before = out.records.length;
    metrics.flush();
    expect(out.records).toHaveLength(before);
  });
});
