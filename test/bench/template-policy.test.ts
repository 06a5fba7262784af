import { deriveCapacityPlan, loadStageConfig, readSiteConfig } from '../../lib/config';
import { TEST_CONFIG_DIR } from '../lib/support/synth-stage';
import { prodWorkerScaling } from '../../bench/sim/prod-template';
import { queueProcessingPatternScaling } from '../../bench/sim/reference-pattern';
import { readFleetScaling, TemplatePolicyError } from '../../bench/sim/template-policy';

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

  it('GIVEN the prod stage WHEN synthesized in-process THEN the worker bounds and backlog target match the prod config', () => {
    const worker = loadStageConfig('prod', readSiteConfig(TEST_CONFIG_DIR, 'prod')).services.worker;
    const spec = prodWorkerScaling(TEST_CONFIG_DIR);
    expect(spec).toMatchObject({ minCapacity: worker.minTasks, maxCapacity: worker.maxTasks });
    const tracking = spec.policies.find((p) => p.kind === 'target');
    expect(tracking).toMatchObject({ targetValue: deriveCapacityPlan(worker).backlogPerTaskTarget });
    expect(tracking?.kind === 'target' ? tracking.metric.queries.map((q) => q.base).sort() : []).toEqual(['runningTasks', 'visibleMessages', 'visibleMessages']);
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
});
