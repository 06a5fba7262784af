import { loadStageConfig, readSiteConfig, deriveCapacityPlan } from '../../lib/config';
import { App, Stack } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { BAND_RATIOS, MAX_STEPS_PER_POLICY, WorkerDemandScaling, surgeBands, type WorkerDemandScalingProps } from '../../lib/constructs/worker-demand-scaling';
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
  it('GIVEN 1 to 400 workers WHEN banded THEN bands are contiguous, each ≤ 3 % wider than the last (or one worker), and set their middle', () => {
    const bands = surgeBands(1, 400, 1.03, 0);
    bands.forEach((b, i) => {
      const next = bands[i + 1];
      if (next !== undefined) expect(next.lower).toBe(b.upper);
      if (b.upper !== undefined) {
        expect(b.upper - b.lower === 1 || b.upper / b.lower <= 1.03 + 1 / b.lower).toBe(true);
        expect(b.capacity).toBeGreaterThanOrEqual(b.lower);
        expect(b.capacity).toBeLessThanOrEqual(b.upper);
        expect(b.capacity).toBe(Math.ceil((b.lower + b.upper) / 2));
      }
    });
    expect(bands[bands.length - 1]).toMatchObject({ capacity: 400 });
    expect(bands[bands.length - 1]?.upper).toBeUndefined();
  });
});

describe('the worker fleet on arrivals (prod template)', () => {
  const T = worker.averageTaskSeconds;
  const family = (name: string) => policies.filter(([id]) => id.startsWith(`WorkerDemand${name}`) && !id.includes('Alarm'));
  const expressionOf = (policyId: string) => (alarmFor(policyId)?.['Metrics'] as Res[]).find((m) => m['Expression'] !== undefined)?.['Expression'] as string;
  const statsOf = (policyId: string) =>
    (alarmFor(policyId)?.['Metrics'] as Res[]).filter((m) => m['MetricStat'] !== undefined).map((m) => [m['MetricStat']['Metric']['MetricName'], m['MetricStat']['Stat'], m['MetricStat']['Period']]);
  const capacities = (ps: Array<[string, Res]>) => ps.flatMap(([, p]) => p['StepScalingPolicyConfiguration']['StepAdjustments'].map((s: Res) => s['ScalingAdjustment'] as number));

  it('GIVEN the exact-capacity families WHEN synthesized THEN each policy sets an exact capacity in ≤ 20 steps, side by side (onset, release) or overlapping with the same bands (confirm)', () => {
    for (const [name, from, ratio] of [['Onset', 20, BAND_RATIOS.onset], ['Release', 1, BAND_RATIOS.release]] as const) {
      const ps = family(name);
      for (const [, p] of ps) {
        expect(p['StepScalingPolicyConfiguration']).toMatchObject({ AdjustmentType: 'ExactCapacity', MetricAggregationType: 'Average' });
        expect(p['StepScalingPolicyConfiguration']['StepAdjustments'].length).toBeLessThanOrEqual(MAX_STEPS_PER_POLICY);
      }
      expect(capacities(ps).sort((a, b) => a - b)).toEqual(surgeBands(from, worker.maxTasks, ratio, 0).map((b) => b.capacity));
    }
    const confirm = family('Confirm');
    const bands = surgeBands(10, worker.maxTasks, BAND_RATIOS.confirm, 0);
    // Every band is in some policy, and a band in two policies sets the same capacity in both.
    expect(new Set(capacities(confirm))).toEqual(new Set(bands.map((b) => b.capacity)));
    expect(confirm.length).toBeGreaterThan(Math.ceil(bands.length / MAX_STEPS_PER_POLICY));
  });

  it('GIVEN the onset and confirm alarms WHEN synthesized THEN they read the intake\'s high-resolution metrics (10 s, and 3 × 30 s all short) and set arrivals × mean task time', () => {
    for (const [id] of family('Onset')) {
      expect(alarmFor(id)).toMatchObject({ EvaluationPeriods: 1, DatapointsToAlarm: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
      expect(statsOf(id)).toEqual([
        [QUEUE_DEMAND_METRICS.backlog, 'Average', 10],
        [QUEUE_DEMAND_METRICS.inFlight, 'Average', 10],
        [QUEUE_DEMAND_METRICS.arrivals, 'Sum', 10],
      ]);
      expect(expressionOf(id)).toContain(`a * ${T / 10}`);
      expect(expressionOf(id)).toContain('b <= 3 * a');
    }
    for (const [id] of family('Confirm')) {
      expect(alarmFor(id)).toMatchObject({ EvaluationPeriods: 3, DatapointsToAlarm: 3 });
      expect(statsOf(id).map(([, , period]) => period)).toEqual([30, 30, 30]);
      expect(expressionOf(id)).toContain(`a * ${T / 30}`);
    }
  });

  it('GIVEN the release WHEN synthesized THEN it acts on 15 minutes of SQS arrivals and backlog against the fewest running workers', () => {
    for (const [id, p] of family('Release')) {
      expect(p['StepScalingPolicyConfiguration']).toMatchObject({ Cooldown: 900 });
      expect(alarmFor(id)).toMatchObject({ EvaluationPeriods: 1 });
      expect(statsOf(id)).toEqual([
        ['NumberOfMessagesSent', 'Sum', 900],
        ['NumberOfMessagesSent', 'Sum', 900],
        ['ApproximateNumberOfMessagesVisible', 'Average', 900],
        ['ApproximateNumberOfMessagesVisible', 'Average', 900],
        ['RunningTaskCount', 'Minimum', 900],
      ]);
      expect(expressionOf(id)).toContain(`(vh + vn) * ${T / deriveCapacityPlan(worker).surgeDrainSeconds}`);
    }
  });

  it('GIVEN the steady policies WHEN synthesized THEN they compare SQS arrivals × mean task time with running workers over 10-minute datapoints, skip datapoints the fleet moved in, and cool down 30 minutes', () => {
    const steady = policies.filter(([id]) => id.startsWith('WorkerDemandSteady'));
    expect(steady).toHaveLength(2);
    for (const [id, p] of steady) {
      expect(p['StepScalingPolicyConfiguration']).toMatchObject({ AdjustmentType: 'PercentChangeInCapacity', MetricAggregationType: 'Average', Cooldown: 1800 });
      const alarm = alarmFor(id);
      expect(alarm?.['EvaluationPeriods']).toBe(alarm?.['DatapointsToAlarm']);
      expect(statsOf(id).map(([name, stat, period]) => `${name}/${stat}/${period}`).sort()).toEqual(
        [
          'NumberOfMessagesSent/Sum/600',
          'NumberOfMessagesSent/Sum/600',
          'ApproximateNumberOfMessagesVisible/Average/600',
          'ApproximateNumberOfMessagesVisible/Average/600',
          'RunningTaskCount/Average/600',
          'RunningTaskCount/Minimum/600',
          'RunningTaskCount/Maximum/600',
        ].sort(),
      );
      expect(expressionOf(id)).toMatch(/^IF\(tmax <= 1\.1 \* tmin \+ 2, /);
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
    .filter(([id]) => id.startsWith('WorkerDemandOnset') || id.startsWith('WorkerDemandConfirm'))
    .flatMap(([id]) => (alarmFor(id)?.['Metrics'] as Res[]).filter((m) => m['MetricStat'] !== undefined).flatMap((m) => (m['MetricStat']['Metric']['Dimensions'] as Res[]).map((d) => d['Value'] as string)));
}

describe('WorkerDemandScaling props', () => {
  const build = (overrides: Partial<WorkerDemandScalingProps>) => {
    const stack = new Stack(new App(), 'Props');
    const scalingTarget = new appscaling.ScalableTarget(stack, 'Target', {
      serviceNamespace: appscaling.ServiceNamespace.ECS,
      scalableDimension: 'ecs:service:DesiredCount',
      resourceId: 'service/c/s',
      minCapacity: 1,
      maxCapacity: 50,
    });
    const lanes = { high: new sqs.Queue(stack, 'High'), normal: new sqs.Queue(stack, 'Normal') };
    const runningTasks = new cloudwatch.Metric({ namespace: 'ECS/ContainerInsights', metricName: 'RunningTaskCount' });
    return () => new WorkerDemandScaling(stack, 'Demand', { scalingTarget, stage: 'dev', lanes, runningTasks, maxTasks: 50, averageTaskSeconds: 60, drainSeconds: 600, policyNamePrefix: 'p', ...overrides });
  };

  it('GIVEN valid props WHEN built THEN every family has policies and the bands end at maxTasks', () => {
    const scaling = build({})();
    for (const bands of [scaling.bands.onset, scaling.bands.confirm, scaling.bands.release]) expect(bands[bands.length - 1]?.capacity).toBe(50);
  });

  it.each([
    [{ headroom: 0.3 }, /headroom=0\.3 is invalid; use 0 to 0\.2/],
    [{ onsetFactor: 0.9 }, /onsetFactor=0\.9 is invalid; use 1 to 2/],
    [{ averageTaskSeconds: 0 }, /averageTaskSeconds=0 is invalid/],
    [{ drainSeconds: 30 }, /drainSeconds=30 is invalid; use at least averageTaskSeconds \(60\)/],
    [{ maxTasks: 1 }, /maxTasks=1 is invalid; use at least 2/],
  ])('GIVEN %j WHEN built THEN synth fails naming the prop, the value and the fix', (overrides, message) => {
    expect(build(overrides)).toThrow(message);
  });
});
