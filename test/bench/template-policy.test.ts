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
    const surge = steps.filter((p) => p.adjustmentType === 'ExactCapacity');
    expect(surge.length).toBeGreaterThan(1);
    for (const p of surge) {
      // High resolution: 30 s periods on the intake's published metrics only.
      expect(p.alarm).toMatchObject({ periodSeconds: 30, evaluationPeriods: 1, datapointsToAlarm: 1 });
      expect(p.alarm.metric.queries.map((q) => q.base).sort()).toEqual(['demandArrivals', 'demandBacklog', 'demandInFlight']);
      expect(p.adjustments.length).toBeLessThanOrEqual(20);
    }
    // The top surge band sets maxTasks; the surge never asks for more than the fleet may have.
    expect(Math.max(...surge.flatMap((p) => p.adjustments.map((a) => a.change)))).toBe(worker.maxTasks);
    const steady = steps.filter((p) => p.adjustmentType === 'PercentChangeInCapacity');
    expect(steady).toHaveLength(3);
    for (const p of steady) {
      expect(p.alarm).toMatchObject({ periodSeconds: 60, evaluationPeriods: 15 });
      expect(p.alarm.metric.queries.map((q) => q.base).sort()).toEqual(['runningTasks', 'sentMessages', 'sentMessages']);
      expect(p.cooldownSeconds).toBe(900);
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
