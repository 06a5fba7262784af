import { loadStageConfig, readSiteConfig } from '../../lib/config';
import { TEST_CONFIG_DIR } from '../lib/support/synth-stage';
import { prodWorkerScaling } from '../../bench/sim/prod-template';
import { queueProcessingPatternScaling } from '../../bench/sim/reference-pattern';
import { readFleetScaling, TemplatePolicyError } from '../../bench/sim/template-policy';
import type { StepPolicySpec } from '../../bench/sim/scaling-spec';

describe('readFleetScaling', () => {
  it('GIVEN QueueProcessingFargateService with defaults WHEN synthesized THEN its visible-messages steps, CPU target and bounds are read', () => {
    const spec = queueProcessingPatternScaling(2, 40);
    expect(spec).toMatchObject({ minCapacity: 2, maxCapacity: 40 });
    const upper = spec.policies.find((p) => p.kind === 'step' && p.alarm.comparison === 'GreaterThanOrEqualToThreshold');
    expect(upper).toMatchObject({
      kind: 'step',
      alarm: { threshold: 100, periodSeconds: 300, metric: { queries: [{ base: 'visibleMessages' }] } },
      adjustments: [
        { lower: 0, upper: 400, change: 1 },
        { lower: 400, change: 5 },
      ],
    });
    expect(spec.policies.find((p) => p.kind === 'target')).toMatchObject({ targetValue: 50, metric: { queries: [{ base: 'cpuUtilization' }] } });
    expect(queueProcessingPatternScaling(2, 40, { disableCpuBasedScaling: true }).policies.some((p) => p.kind === 'target')).toBe(false);
  });

  it('GIVEN the prod stage WHEN synthesized in-process THEN the deployed surge and steady policies are read, with the prod bounds', () => {
    const worker = loadStageConfig('prod', readSiteConfig(TEST_CONFIG_DIR, 'prod')).services.worker;
    const spec = prodWorkerScaling(TEST_CONFIG_DIR);
    expect(spec).toMatchObject({ minCapacity: worker.minTasks, maxCapacity: worker.maxTasks });
    const steps = spec.policies.filter((p): p is StepPolicySpec => p.kind === 'step');
    // No target tracking on the stable pool: surge + steady + scale-from-zero, all step policies.
    expect(spec.policies.every((p) => p.kind === 'step')).toBe(true);
    const exact = steps.filter((p) => p.adjustmentType === 'ExactCapacity');
    const family = (name: string) => exact.filter((p) => p.name.startsWith(`WorkerDemand${name}`));
    expect(family('Onset').length + family('Confirm').length + family('Release').length).toBe(exact.length);
    for (const p of family('Onset')) {
      // High resolution: one 10-second reading of the intake's published metrics.
      expect(p.alarm).toMatchObject({ periodSeconds: 10, evaluationPeriods: 1, datapointsToAlarm: 1 });
      expect(p.alarm.metric.queries.map((q) => q.base).sort()).toEqual(['demandArrivals', 'demandBacklog', 'demandInFlight']);
    }
    for (const p of family('Confirm')) {
      // Three 30-second datapoints, all of them short; the step reads their mean.
      expect(p.alarm).toMatchObject({ periodSeconds: 30, evaluationPeriods: 3, datapointsToAlarm: 3 });
      expect(p.metricAggregation).toBe('Average');
      expect(p.alarm.metric.queries.map((q) => q.base).sort()).toEqual(['demandArrivals', 'demandBacklog', 'demandInFlight']);
    }
    for (const p of family('Release')) {
      expect(p.alarm).toMatchObject({ periodSeconds: 900, evaluationPeriods: 1 });
      expect(p.alarm.metric.queries.map((q) => q.base).sort()).toEqual(['runningTasks', 'sentMessages', 'sentMessages', 'visibleMessages', 'visibleMessages']);
    }
    for (const p of exact) expect(p.adjustments.length).toBeLessThanOrEqual(20);
    // The top band of every family sets maxTasks; none asks for more than the fleet may have.
    for (const name of ['Onset', 'Confirm', 'Release']) expect(Math.max(...family(name).flatMap((p) => p.adjustments.map((a) => a.change)))).toBe(worker.maxTasks);
    const steady = steps.filter((p) => p.adjustmentType === 'PercentChangeInCapacity');
    expect(steady).toHaveLength(2);
    for (const p of steady) {
      expect(p.alarm.periodSeconds).toBe(600);
      expect(p.alarm.metric.queries.map((q) => q.base).sort()).toEqual(['runningTasks', 'runningTasks', 'runningTasks', 'sentMessages', 'sentMessages', 'visibleMessages', 'visibleMessages']);
      expect(p.cooldownSeconds).toBe(1800);
    }
  }, 180_000);

  it('names what is missing or not modelled', () => {
    expect(() => readFleetScaling({ Resources: {} }, { source: 'empty.json' })).toThrow(/expected one ECS ScalableTarget in empty.json, found 0/);
    const template = {
      Resources: {
        T: { Type: 'AWS::ApplicationAutoScaling::ScalableTarget', Properties: { ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: 1, MaxCapacity: 2 } },
        P: {
          Type: 'AWS::ApplicationAutoScaling::ScalingPolicy',
          Properties: {
            ScalingTargetId: { Ref: 'T' },
            PolicyType: 'TargetTrackingScaling',
            TargetTrackingScalingPolicyConfiguration: { TargetValue: 3, CustomizedMetricSpecification: { Namespace: 'Custom', MetricName: 'Thing', Statistic: 'Average' } },
          },
        },
      },
    };
    expect(() => readFleetScaling(template, { source: 't.json' })).toThrow(TemplatePolicyError);
    expect(() => readFleetScaling(template, { source: 't.json' })).toThrow(/does not model metric Custom\/Thing/);
  });

  it('GIVEN a 10-second alarm on a one-minute AWS metric WHEN read THEN it is refused: CloudWatch would leave it INSUFFICIENT_DATA', () => {
    const template = {
      Resources: {
        T: { Type: 'AWS::ApplicationAutoScaling::ScalableTarget', Properties: { ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: 1, MaxCapacity: 2 } },
        P: {
          Type: 'AWS::ApplicationAutoScaling::ScalingPolicy',
          Properties: { ScalingTargetId: { Ref: 'T' }, PolicyType: 'StepScaling', StepScalingPolicyConfiguration: { AdjustmentType: 'ChangeInCapacity', StepAdjustments: [{ MetricIntervalLowerBound: 0, ScalingAdjustment: 1 }] } },
        },
        A: {
          Type: 'AWS::CloudWatch::Alarm',
          Properties: {
            AlarmActions: [{ Ref: 'P' }],
            Namespace: 'AWS/SQS',
            MetricName: 'ApproximateNumberOfMessagesVisible',
            Statistic: 'Maximum',
            Period: 10,
            EvaluationPeriods: 1,
            Threshold: 1,
            ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          },
        },
      },
    };
    expect(() => readFleetScaling(template, { source: 't.json' })).toThrow(/10s periods of one-minute metrics \(visibleMessages\)/);
  });
});
