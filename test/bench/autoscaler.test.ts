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

describe('Autoscaler: high-resolution alarms and exact capacity', () => {
  const arrivals30: FleetMetricSpec = { queries: [{ id: 'a', base: 'demandArrivals', statistic: 'Sum', periodSeconds: 30 }], label: 'arrivals per 30 s' };
  const surge: StepPolicySpec = {
    kind: 'step',
    name: 'surge',
    alarm: { metric: arrivals30, periodSeconds: 30, evaluationPeriods: 1, datapointsToAlarm: 1, threshold: 100, comparison: 'GreaterThanOrEqualToThreshold' },
    adjustmentType: 'ExactCapacity',
    adjustments: [
      { lower: 0, upper: 100, change: 50 },
      { lower: 100, change: 80 },
    ],
    cooldownSeconds: 120,
    cooldownFromTemplate: true,
    metricAggregation: 'Average',
  };
  /** One publisher datum every 10 s: `perTick` arrivals in each. */
  const publish = (a: Autoscaler, from: number, to: number, perTick: number) => {
    for (let t = from; t <= to; t += 10) a.record({ t, demandArrivals: perTick });
  };

  it('GIVEN a 30 s alarm WHEN its period breaches THEN it acts 10 s after the period (not on the minute) and sets the exact capacity', () => {
    const a = new Autoscaler(fleet([surge], 200), { highResDelaySeconds: 10 });
    publish(a, 10, 30, 50); // (0, 30]: 150 arrivals
    expect(a.evaluate(30, 10)).toBeUndefined(); // not published yet
    expect(a.evaluate(40, 10)).toMatchObject({ desired: 50, policy: 'surge' });
  });

  it('GIVEN the alarm stays in ALARM WHEN evaluated every 10 s THEN CloudWatch re-invokes the policy only once a minute', () => {
    const a = new Autoscaler(fleet([surge], 200), { highResDelaySeconds: 10 });
    publish(a, 10, 300, 80); // 240 per 30 s: the top band
    expect(a.evaluate(40, 10)?.desired).toBe(80);
    const invoked: number[] = [];
    for (let t = 50; t <= 160; t += 10) {
      // Something else lowered the capacity to 60: only an invocation can raise it again.
      if (a.evaluate(t, 60) !== undefined) invoked.push(t);
    }
    expect(invoked).toEqual([100, 160]);
  });

  it('GIVEN an exact capacity below the current one THEN it is a scale-in, as in AWS, but not within the policy\'s cooldown after its scale-out', () => {
    const a = new Autoscaler(fleet([surge], 200), { highResDelaySeconds: 10 });
    publish(a, 10, 30, 80); // (0, 30]: top band, exact 80
    expect(a.evaluate(40, 10)?.desired).toBe(80);
    publish(a, 40, 300, 50); // band 1 from (30, 60] on: exact 50
    for (let t = 50; t < 160; t += 10) expect(a.evaluate(t, 80)).toBeUndefined();
    expect(a.evaluate(160, 80)).toMatchObject({ desired: 50 });
  });
});

describe('Autoscaler: a scale-out in cooldown', () => {
  it('GIVEN a percent step re-invoked in its cooldown WHEN its cooldown base gives less than now THEN nothing happens (no scale-in)', () => {
    const percent: StepPolicySpec = { ...upperSteps, name: 'pct', adjustmentType: 'PercentChangeInCapacity', adjustments: [{ lower: 0, change: 10 }], cooldownSeconds: 600 };
    const a = new Autoscaler(fleet([percent], 1000), { metricDelaySeconds: 60 });
    feed(a, 60, 1200, 1000, 10);
    expect(a.evaluate(360, 100)?.desired).toBe(110);
    // Another policy raised the fleet to 300 meanwhile; the cooldown base (100) + 10 % is below it.
    for (let t = 420; t < 900; t += 60) expect(a.evaluate(t, 300)).toBeUndefined();
  });
});
