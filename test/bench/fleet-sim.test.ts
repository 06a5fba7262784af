import { BLACK_FRIDAY, meanTaskSeconds, percentile, simulateSpike, type SpikeScenario } from '../../bench/sim/fleet-sim';
import type { FleetScalingSpec } from '../../bench/sim/scaling-spec';

const short: SpikeScenario = { ...BLACK_FRIDAY, baselineWorkers: 10, warmupSeconds: 1200, spikeSeconds: 600, afterSeconds: 3600 };
const backlogTracking = (min: number, max: number): FleetScalingSpec => ({
  source: 'test',
  minCapacity: min,
  maxCapacity: max,
  policies: [
    {
      kind: 'target',
      name: 'tt',
      metric: {
        queries: [
          { id: 'q', base: 'visibleMessages', statistic: 'Sum', periodSeconds: 60 },
          { id: 'tasks', base: 'runningTasks', statistic: 'Average', periodSeconds: 60 },
        ],
        expression: 'q / tasks',
        label: 'backlog per task',
      },
      targetValue: 5,
      scaleOutCooldownSeconds: 60,
      scaleInCooldownSeconds: 300,
      disableScaleIn: false,
    },
  ],
});

describe('simulateSpike', () => {
  it('is deterministic for a seed', () => {
    const a = simulateSpike(backlogTracking(1, 100), short);
    const b = simulateSpike(backlogTracking(1, 100), short);
    expect(a.summary).toEqual(b.summary);
    expect(simulateSpike(backlogTracking(1, 100), { ...short, seed: 1 }).summary).not.toEqual(a.summary);
  });

  it('never runs more workers than maxCapacity, and new workers take the Fargate start time to run', () => {
    const r = simulateSpike(backlogTracking(1, 25), short);
    expect(Math.max(...r.timeline.map((p) => p.running))).toBeLessThanOrEqual(25);
    const out = r.decisions.find((d) => d.desired > d.from && d.t >= short.warmupSeconds);
    expect(out).toBeDefined();
    const at = out?.t ?? 0;
    const before = r.timeline.find((p) => p.t === at)?.running ?? 0;
    // Nothing launched at `at` can be running 59 s later (start takes 60-90 s).
    expect(r.timeline.filter((p) => p.t > at && p.t < at + short.taskStartSeconds[0]).every((p) => p.running <= before)).toBe(true);
  });

  it('GIVEN a fixed fleet too small for the spike THEN the backlog grows and waits exceed those of a fleet that can scale', () => {
    const fixed = simulateSpike({ ...backlogTracking(10, 10) }, short);
    const scaling = simulateSpike(backlogTracking(1, 100), short);
    expect(fixed.summary.peakVisible).toBeGreaterThan(scaling.summary.peakVisible);
    expect(fixed.summary.p95WaitSeconds).toBeGreaterThan(scaling.summary.p95WaitSeconds);
    expect(fixed.summary).toMatchObject({ neededWorkers: 10, uncappedNeed: 80, peakRunning: 10 });
  });

  it('GIVEN a provider limit below the fleet demand THEN LLM calls wait at the gateway', () => {
    const limited = simulateSpike(backlogTracking(10, 10), { ...short, providerRpm: 20 });
    expect(limited.summary.p95GatewayWaitSeconds).toBeGreaterThan(1);
    expect(simulateSpike(backlogTracking(10, 10), short).summary.p95GatewayWaitSeconds).toBe(0);
  });

  it('derives the mean task time from the distributions', () => {
    expect(meanTaskSeconds({ ...short, llmCallSeconds: [2, 20], llmCallsPerTask: [2, 6], toolSeconds: [0, 1] })).toBe(4 * 11 + 3 * 0.5);
    expect(percentile([5, 1, 4, 2, 3], 95)).toBe(5);
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
  });
});
