import { loadStageConfig, readSiteConfig, deriveCapacityPlan } from '../../lib/config';
import { MAX_STEPS_PER_POLICY, surgeBands } from '../../lib/constructs/worker-demand-scaling';
import { ENV } from '../../runtime/src/shared/config';
import { QUEUE_DEMAND_INTERVAL_SECONDS, QUEUE_DEMAND_METRICS, QUEUE_DEMAND_NAMESPACE } from '../../runtime/src/shared/queue-demand-contract';
import { TEST_CONFIG_DIR, resourcesOf, synthStage } from './support/synth-stage';

type Res = Record<string, any>;
const prod = synthStage('prod');
const services = prod.json.services;
const worker = loadStageConfig('prod', readSiteConfig(TEST_CONFIG_DIR, 'prod')).services.worker;
const policies = resourcesOf(services, 'AWS::ApplicationAutoScaling::ScalingPolicy');
const alarms = resourcesOf(services, 'AWS::CloudWatch::Alarm');
const alarmFor = (policyId: string): Res | undefined => alarms.find(([, a]) => (a['AlarmActions'] ?? []).some((x: Res) => x['Ref'] === policyId))?.[1];

describe('surgeBands', () => {
  it('GIVEN 2 to 400 workers WHEN banded THEN bands are contiguous, each ≤ 3 % wider than the last (or one worker), and never set less than their top', () => {
    const bands = surgeBands(2, 400, 1.03, 0.05);
    bands.forEach((b, i) => {
      const next = bands[i + 1];
      if (next !== undefined) expect(next.lower).toBe(b.upper);
      if (b.upper !== undefined) {
        expect(b.upper - b.lower === 1 || b.upper / b.lower <= 1.03 + 1 / b.lower).toBe(true);
        expect(b.capacity).toBeGreaterThanOrEqual(b.upper);
        expect(b.capacity).toBeLessThanOrEqual(Math.ceil(b.upper * 1.05));
      }
    });
    expect(bands[bands.length - 1]).toMatchObject({ capacity: 400 });
    expect(bands[bands.length - 1]?.upper).toBeUndefined();
  });
});

describe('the worker fleet on arrivals (prod template)', () => {
  const surge = policies.filter(([id]) => id.startsWith('WorkerDemandSurge'));
  const T = worker.averageTaskSeconds;

  it('GIVEN the surge WHEN synthesized THEN each policy sets an exact capacity in ≤ 20 steps, and together they cover every band once', () => {
    const bands = surgeBands(2, worker.maxTasks, 1.03, 0.05);
    expect(surge).toHaveLength(Math.ceil(bands.length / MAX_STEPS_PER_POLICY));
    const capacities = surge.flatMap(([, p]) => {
      const c = p['StepScalingPolicyConfiguration'];
      expect(c).toMatchObject({ AdjustmentType: 'ExactCapacity', MetricAggregationType: 'Average', Cooldown: 120 });
      expect(c['StepAdjustments'].length).toBeLessThanOrEqual(MAX_STEPS_PER_POLICY);
      return c['StepAdjustments'].map((s: Res) => s['ScalingAdjustment']);
    });
    expect(capacities).toEqual(bands.map((b) => b.capacity));
  });

  it('GIVEN a surge alarm WHEN synthesized THEN it is high resolution (30 s, 1 of 1) on the intake\'s metrics: arrivals × mean task time, only while tasks wait', () => {
    for (const [id] of surge) {
      const alarm = alarmFor(id);
      expect(alarm).toMatchObject({ EvaluationPeriods: 1, DatapointsToAlarm: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
      const metrics = alarm?.['Metrics'] as Res[];
      const stats = metrics.filter((m) => m['MetricStat'] !== undefined);
      expect(stats.map((m) => [m['MetricStat']['Metric']['Namespace'], m['MetricStat']['Metric']['MetricName'], m['MetricStat']['Stat'], m['MetricStat']['Period']])).toEqual([
        [QUEUE_DEMAND_NAMESPACE, QUEUE_DEMAND_METRICS.backlog, 'Average', 30],
        [QUEUE_DEMAND_NAMESPACE, QUEUE_DEMAND_METRICS.inFlight, 'Average', 30],
        [QUEUE_DEMAND_NAMESPACE, QUEUE_DEMAND_METRICS.arrivals, 'Sum', 30],
      ]);
      const expression = metrics.find((m) => m['Expression'] !== undefined)?.['Expression'] as string;
      expect(expression).toContain(`a * ${T / 30}`);
      expect(expression).toContain(`b * ${T / deriveCapacityPlan(worker).surgeDrainSeconds}`);
      expect(expression).toMatch(/^IF\(b >= 0\.2 \* f \+ 10 AND/);
    }
  });

  it('GIVEN the steady policies WHEN synthesized THEN they compare SQS arrivals × mean task time with running workers over 15 one-minute periods, with a 15-minute cooldown', () => {
    const steady = policies.filter(([id]) => id.startsWith('WorkerDemandSteady'));
    expect(steady).toHaveLength(3);
    for (const [id, p] of steady) {
      expect(p['StepScalingPolicyConfiguration']).toMatchObject({ AdjustmentType: 'PercentChangeInCapacity', MetricAggregationType: 'Average', Cooldown: 900 });
      const alarm = alarmFor(id);
      expect(alarm).toMatchObject({ EvaluationPeriods: 15 });
      const names = (alarm?.['Metrics'] as Res[]).filter((m) => m['MetricStat'] !== undefined).map((m) => [m['MetricStat']['Metric']['MetricName'], m['MetricStat']['Period']]);
      expect(names).toEqual([
        ['NumberOfMessagesSent', 60],
        ['NumberOfMessagesSent', 60],
        ['RunningTaskCount', 60],
      ]);
    }
  });
});

describe('the queue-demand publisher in the template', () => {
  const intakeTask = resourcesOf(services, 'AWS::ECS::TaskDefinition').find(([id]) => id.startsWith('IntakeTask'))?.[1];
  const env = Object.fromEntries((intakeTask?.['ContainerDefinitions'][0]['Environment'] as Array<{ Name: string; Value: unknown }>).map((e) => [e.Name, e.Value]));

  it('GIVEN the intake WHEN synthesized THEN it publishes every 10 s (the interval the alarms are built on)', () => {
    expect(env[ENV.queueDemandIntervalMs]).toBe(String(QUEUE_DEMAND_INTERVAL_SECONDS * 1000));
  });

  it('GIVEN the intake task role WHEN synthesized THEN it may PutMetricData into the OpenClaw namespace only, and read its lanes\' attributes', () => {
    const statements = resourcesOf(services, 'AWS::IAM::Policy')
      .filter(([id]) => id.startsWith('IntakeTaskTaskDefinitionTaskRole'))
      .flatMap(([, p]) => p['PolicyDocument']['Statement'] as Res[]);
    const put = statements.filter((s) => [s['Action']].flat().includes('cloudwatch:PutMetricData'));
    expect(put).toEqual([{ Action: 'cloudwatch:PutMetricData', Effect: 'Allow', Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': QUEUE_DEMAND_NAMESPACE } } }]);
    expect(statements.some((s) => [s['Action']].flat().includes('sqs:GetQueueAttributes'))).toBe(true);
  });

  it('GIVEN the surge alarms WHEN they name the Stage dimension THEN it is the STAGE the intake publishes under', () => {
    expect(new Set(surgeDimensions())).toEqual(new Set([env[ENV.stage]]));
    expect(env[ENV.stage]).toBe('prod');
  });
});

function surgeDimensions(): string[] {
  return policies
    .filter(([id]) => id.startsWith('WorkerDemandSurge'))
    .flatMap(([id]) => (alarmFor(id)?.['Metrics'] as Res[]).filter((m) => m['MetricStat'] !== undefined).flatMap((m) => (m['MetricStat']['Metric']['Dimensions'] as Res[]).map((d) => d['Value'] as string)));
}
