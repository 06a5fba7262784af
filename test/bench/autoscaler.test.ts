import { Autoscaler, stepChange } from '../../bench/sim/autoscaler';
import type { FleetMetricSpec, FleetScalingSpec, StepPolicySpec, TargetTrackingSpec } from '../../bench/sim/scaling-spec';

const visibleMax300: FleetMetricSpec = { queries: [{ id: 'm', base: 'visibleMessages', statistic: 'Maximum', periodSeconds: 300 }], label: 'visible' };
const backlogPerTask: FleetMetricSpec = {
  queries: [
    { id: 'q', base: 'visibleMessages', statistic: 'Sum', periodSeconds: 60 },
    { id: 'tasks', base: 'runningTasks', statistic: 'Average', periodSeconds: 60 },
  ],
  expression: 'q / tasks',
  label: 'backlog per task',
};

const upperSteps: StepPolicySpec = {
  kind: 'step',
  name: 'upper',
  alarm: { metric: visibleMax300, periodSeconds: 300, evaluationPeriods: 1, datapointsToAlarm: 1, threshold: 100, comparison: 'GreaterThanOrEqualToThreshold' },
  adjustmentType: 'ChangeInCapacity',
  adjustments: [
    { lower: 0, upper: 400, change: 1 },
    { lower: 400, change: 5 },
  ],
  cooldownSeconds: 300,
  cooldownFromTemplate: false,
  metricAggregation: 'Average',
};
const lowerStep: StepPolicySpec = {
  ...upperSteps,
  name: 'lower',
  alarm: { ...upperSteps.alarm, threshold: 0, comparison: 'LessThanOrEqualToThreshold' },
  adjustments: [{ upper: 0, change: -1 }],
};
const tracking: TargetTrackingSpec = {
  kind: 'target',
  name: 'tt',
  metric: backlogPerTask,
  targetValue: 5,
  scaleOutCooldownSeconds: 60,
  scaleInCooldownSeconds: 300,
  disableScaleIn: false,
};
const fleet = (policies: FleetScalingSpec['policies'], max = 100): FleetScalingSpec => ({ source: 'test', minCapacity: 1, maxCapacity: max, policies });

/** Feed one sample a minute from `from` to `to` (inclusive). */
function feed(a: Autoscaler, from: number, to: number, visible: number, running: number): void {
  for (let t = from; t <= to; t += 60) a.record({ t, visibleMessages: visible, runningTasks: running, cpuUtilization: 5 });
}

describe('stepChange', () => {
  it('uses [lower, upper) above the threshold and (lower, upper] below it', () => {
    expect(stepChange(upperSteps, 0)).toBe(1);
    expect(stepChange(upperSteps, 399)).toBe(1);
    expect(stepChange(upperSteps, 400)).toBe(5);
    expect(stepChange(upperSteps, -1)).toBeUndefined();
    expect(stepChange(lowerStep, 0)).toBe(-1);
    expect(stepChange(lowerStep, 1)).toBeUndefined();
  });
});

describe('Autoscaler', () => {
  it('GIVEN a breach WHEN its datapoint is not yet published THEN nothing happens; after the delay the step applies', () => {
    const a = new Autoscaler(fleet([upperSteps]), { metricDelaySeconds: 60 });
    feed(a, 60, 300, 1000, 10);
    // The period (0, 300] ends at 300 and is readable from 360.
    expect(a.evaluate(300, 10)).toBeUndefined();
    expect(a.evaluate(360, 10)).toMatchObject({ desired: 15, policy: 'upper' });
  });

  it('GIVEN a step scale-out WHEN the alarm stays on during the cooldown THEN the added capacity counts and nothing more is added until it ends', () => {
    const a = new Autoscaler(fleet([upperSteps]), { metricDelaySeconds: 60 });
    feed(a, 60, 1200, 1000, 10);
    expect(a.evaluate(360, 10)?.desired).toBe(15);
    for (let t = 420; t < 660; t += 60) expect(a.evaluate(t, 15)).toBeUndefined();
    expect(a.evaluate(660, 15)?.desired).toBe(20);
  });

  it('GIVEN backlog per task above target for 3 minutes THEN target tracking sets ceil(capacity × metric ÷ target), capped at max', () => {
    const a = new Autoscaler(fleet([tracking], 30), { metricDelaySeconds: 60 });
    feed(a, 60, 120, 200, 10); // 20 per task, only two datapoints readable by 240
    expect(a.evaluate(180, 10)).toBeUndefined();
    feed(a, 180, 180, 200, 10);
    expect(a.evaluate(240, 10)).toMatchObject({ desired: 30 }); // ceil(10 × 20 / 5) = 40, max 30
  });

  it('scales in gradually after 15 low minutes, at most 10% per action', () => {
    const a = new Autoscaler(fleet([tracking]), { metricDelaySeconds: 60 });
    feed(a, 60, 840, 0, 50);
    expect(a.evaluate(840, 50)).toBeUndefined(); // 14 datapoints readable
    feed(a, 900, 900, 0, 50);
    expect(a.evaluate(960, 50)?.desired).toBe(45);
  });

  it('GIVEN a scale-out and a scale-in at the same time THEN the scale-out wins', () => {
    const cpuTracking: TargetTrackingSpec = { ...tracking, name: 'cpu', metric: { queries: [{ id: 'm', base: 'cpuUtilization', statistic: 'Average', periodSeconds: 60 }], label: 'cpu' }, targetValue: 50 };
    const a = new Autoscaler(fleet([cpuTracking, upperSteps]), { metricDelaySeconds: 60 });
    feed(a, 60, 1200, 1000, 10); // CPU 5% wants fewer workers, 1000 visible wants more
    expect(a.evaluate(1200, 10)).toMatchObject({ desired: 15, policy: 'upper' });
  });
});
