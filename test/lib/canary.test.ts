import { CANARY_SHARE_PATTERN, parseCanaryShare } from '../../runtime/src/shared/agent-version';
import { ENV } from '../../runtime/src/shared/config';
import { DIMENSIONS, METRIC_NAMESPACE } from '../../runtime/src/shared/metrics-contract';
import { canaryRule, renderMetricMath, rollbackExpression } from '../../lib/canary/rollback-rule';
import { ROLLBACK_HANDLER_SOURCE } from '../../lib/canary/rollback-handler';
import { loadStageConfig } from '../../lib/config';
import { canaryParameterNames } from '../../lib/constructs/agent-canary-pool';
import { TEST_DIGEST, resourcesOf, synthStage } from './support/synth-stage';

const CANDIDATE_DIGEST = `sha256:${'cd'.repeat(32)}`;
const prod = synthStage('prod', { imageDigest: TEST_DIGEST, canaryDigest: CANDIDATE_DIGEST, canaryPrompts: 'dist/prompts-next', canaryModel: 'claude-opus-5' });
const services = prod.json.services;
const observability = prod.json.observability;
const config = loadStageConfig('prod');

type Res = Record<string, any>;
const taskDefinition = (prefix: string): Res => {
  const found = resourcesOf(services, 'AWS::ECS::TaskDefinition').filter(([id]) => id.startsWith(prefix));
  if (found.length !== 1) throw new Error(`expected one task definition ${prefix}*, found ${found.length}`);
  return found[0]![1];
};
const envOf = (prefix: string): Record<string, unknown> =>
  Object.fromEntries((taskDefinition(prefix)['ContainerDefinitions'][0]['Environment'] as Array<{ Name: string; Value: unknown }>).map((e) => [e.Name, e.Value]));
const refTo = (prefix: string) => ({ Ref: expect.stringMatching(new RegExp(`^${prefix}`)) });
const policiesOf = (rolePrefix: string): Res[] =>
  resourcesOf(services, 'AWS::IAM::Policy')
    .filter(([, p]) => (p['Roles'] as Res[]).some((r) => String(r['Ref']).startsWith(rolePrefix)))
    .flatMap(([, p]) => p['PolicyDocument']['Statement'] as Res[]);

describe('agent canary: candidate pool (prod, -c canaryDigest/-c canaryPrompts/-c canaryModel)', () => {
  test('GIVEN a candidate WHEN synthesized THEN it runs its own digest, prompts, model and AGENT_VERSION on its own lanes', () => {
    const td = taskDefinition('CanaryWorkerTask');
    expect(JSON.stringify(td['ContainerDefinitions'][0]['Image'])).toContain(`@${CANDIDATE_DIGEST}`);
    expect(JSON.stringify(taskDefinition('WorkerTask')['ContainerDefinitions'][0]['Image'])).toContain(`@${TEST_DIGEST}`);
    const env = envOf('CanaryWorkerTask');
    expect(env).toMatchObject({
      [ENV.agentVersion]: 'candidate',
      PROMPTS_DIR: 'dist/prompts-next',
      [ENV.model]: 'claude-opus-5',
      [ENV.queueUrlHigh]: refTo('CanaryLanesHigh'),
      [ENV.queueUrlNormal]: refTo('CanaryLanesNormal'),
      [ENV.killSwitchParam]: refTo('CanaryWorkerKillSwitch'),
    });
    const [, killSwitch] = resourcesOf(services, 'AWS::SSM::Parameter').find(([id]) => id.startsWith('CanaryWorkerKillSwitch')) ?? [];
    expect(killSwitch?.['Name']).toBe('/openclaw/prod/worker-candidate/kill-switch');
    // The stable pool is untouched: its own lanes, no AGENT_VERSION (the runtime's default is stable).
    const stable = envOf('WorkerTask');
    expect(stable[ENV.agentVersion]).toBeUndefined();
    expect(stable[ENV.queueUrlHigh]).toEqual({ 'Fn::ImportValue': expect.stringMatching(/High/) });
  });

  test('GIVEN the candidate pool WHEN it scales THEN it tracks backlog per task on its own lanes within its own bounds (the queue-demand publisher reads only the stable lanes)', () => {
    const targets = resourcesOf(services, 'AWS::ApplicationAutoScaling::ScalableTarget');
    const candidate = targets.find(([id]) => id.startsWith('CanaryWorkerScaling'))?.[1];
    const stable = targets.find(([id]) => id.startsWith('WorkerScaling'))?.[1];
    expect(candidate).toMatchObject({ MinCapacity: config.canary?.minTasks, MaxCapacity: config.canary?.maxTasks });
    expect(stable).toMatchObject({ MaxCapacity: config.services.worker.maxTasks });
    const policies = resourcesOf(services, 'AWS::ApplicationAutoScaling::ScalingPolicy');
    const backlog = (prefix: string) => policies.find(([id]) => id.startsWith(prefix))?.[1]['TargetTrackingScalingPolicyConfiguration'];
    const c = backlog('CanaryWorkerBacklogPerTask');
    expect(c['CustomizedMetricSpecification']['Metrics'].map((m: Res) => m['Expression'] ?? m['Id'])).toEqual(['high', 'normal', 'tasks', '(high + normal) / tasks']);
    expect(backlog('WorkerBacklogPerTask')).toBeUndefined();
    expect(policies.some(([id]) => id.startsWith('CanaryWorkerDemand'))).toBe(false);
  });

  test('GIVEN the intake WHEN it routes THEN it knows the candidate lanes and the share parameter, and may use exactly those', () => {
    expect(envOf('IntakeTask')).toMatchObject({
      [ENV.canaryQueueUrlHigh]: refTo('CanaryLanesHigh'),
      [ENV.canaryQueueUrlNormal]: refTo('CanaryLanesNormal'),
      [ENV.canaryShareParam]: refTo('CanaryShare'),
      [ENV.canaryShareCacheMs]: '15000',
    });
    const statements = policiesOf('IntakeTaskTaskDefinitionTaskRole');
    const send = statements.filter((s) => JSON.stringify(s['Action']).includes('sqs:SendMessage')).flatMap((s) => s['Resource'] as Res[]);
    expect(JSON.stringify(send)).toMatch(/CanaryLanesHigh/);
    expect(JSON.stringify(send)).toMatch(/CanaryLanesNormal/);
    const read = statements.find((s) => s['Action'] === 'ssm:GetParameter');
    expect(JSON.stringify(read?.['Resource'])).toMatch(/"Ref":"CanaryShare/);
  });

  test('GIVEN the share parameter WHEN created THEN it starts at 0 and only accepts what the intake parses', () => {
    const [, share] = resourcesOf(services, 'AWS::SSM::Parameter').find(([id]) => id.startsWith('CanaryShare')) ?? [];
    expect(share).toMatchObject({ Name: canaryParameterNames('prod').share, Value: '0', AllowedPattern: CANARY_SHARE_PATTERN });
    const pattern = new RegExp(share?.['AllowedPattern'] as string);
    for (const v of ['0', '10', '2.5', '100', '100.00', '-1', '101', '10%', '', 'ten', '1.234']) {
      expect(pattern.test(v)).toBe(parseCanaryShare(v) !== undefined);
    }
    const [, versions] = resourcesOf(services, 'AWS::SSM::Parameter').find(([id]) => id.startsWith('CanaryVersions')) ?? [];
    expect(JSON.parse(versions?.['Value'] as string)).toEqual({
      stable: { digest: TEST_DIGEST, model: config.model },
      candidate: { digest: CANDIDATE_DIGEST, model: 'claude-opus-5', promptsDir: 'dist/prompts-next' },
    });
  });

  test('rejects a malformed -c canaryDigest naming the key', () => {
    expect(() => synthStage('dev', { imageDigest: TEST_DIGEST, canaryDigest: 'latest' })).toThrow(/-c canaryDigest="latest" is invalid/);
  });
});

describe('agent canary: comparison alarm and automatic rollback (prod)', () => {
  const [, alarm] = resourcesOf(observability, 'AWS::CloudWatch::Alarm').find(([, p]) => String(p['AlarmName']).endsWith('-canary-regression')) ?? [];
  const thresholds = config.canary?.thresholds;

  test('GIVEN the alarm WHEN read THEN its expression is the rule rendered, over both versions in one window, and it pages', () => {
    if (alarm === undefined || thresholds === undefined) throw new Error('prod has no canary alarm');
    const metrics = alarm['Metrics'] as Res[];
    const expression = metrics.find((m) => m['ReturnData'] !== false && m['Expression'] !== undefined)?.['Expression'];
    expect(expression).toBe(renderMetricMath(rollbackExpression(canaryRule(thresholds))));
    const stats = metrics.filter((m) => m['MetricStat'] !== undefined);
    expect(stats).toHaveLength(10);
    for (const m of stats) {
      expect(m['MetricStat']['Period']).toBe(thresholds.windowMinutes * 60);
      expect(m['MetricStat']['Metric']['Namespace']).toBe(METRIC_NAMESPACE);
      const version = (m['MetricStat']['Metric']['Dimensions'] as Res[]).find((d) => d['Name'] === DIMENSIONS.agentVersion)?.['Value'];
      expect(m['Id']).toMatch(new RegExp(`^${version}_`));
    }
    expect(stats.find((m) => m['Id'] === 'candidate_p95DurationMs')?.['MetricStat']['Stat']).toBe('p95');
    expect(stats.find((m) => m['Id'] === 'stable_tasks')?.['MetricStat']['Stat']).toBe('SampleCount');
    expect(alarm).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 1, TreatMissingData: 'notBreaching' });
    expect(alarm['AlarmActions']).toEqual([{ Ref: expect.stringMatching(/^TopicsPage/) }]);
  });

  test('GIVEN the alarm enters ALARM WHEN EventBridge matches THEN the rollback Lambda runs, allowed only to write the share', () => {
    const [, rule] = resourcesOf(observability, 'AWS::Events::Rule').find(([id]) => id.startsWith('CanaryRollbackOnRegression')) ?? [];
    expect(rule?.['EventPattern']).toMatchObject({ source: ['aws.cloudwatch'], 'detail-type': ['CloudWatch Alarm State Change'], detail: { state: { value: ['ALARM'] } } });
    expect(JSON.stringify(rule?.['EventPattern']['resources'])).toContain('CanaryRollbackRegression');
    const [, fn] = resourcesOf(observability, 'AWS::Lambda::Function').find(([id]) => id.startsWith('CanaryRollbackHandler')) ?? [];
    expect(fn?.['Code']['ZipFile']).toBe(ROLLBACK_HANDLER_SOURCE);
    expect(JSON.stringify(fn?.['Environment'])).toContain('CanaryShare');
    const statements = resourcesOf(observability, 'AWS::IAM::Policy')
      .filter(([id]) => id.startsWith('CanaryRollbackRole'))
      .flatMap(([, p]) => p['PolicyDocument']['Statement'] as Res[]);
    expect(statements.find((s) => s['Action'] === 'ssm:PutParameter')?.['Resource']).toBeDefined();
    expect(JSON.stringify(statements)).not.toContain('"*"');
  });
});

describe('rollback handler (the Lambda text as deployed)', () => {
  /** Run the inline source with a recording SSM client in place of the runtime's bundled SDK. */
  function load(sent: Array<Record<string, unknown>>): (event: unknown) => Promise<Record<string, unknown>> {
    class PutParameterCommand {
      constructor(readonly input: Record<string, unknown>) {}
    }
    class SSMClient {
      async send(command: PutParameterCommand): Promise<void> {
        sent.push(command.input);
      }
    }
    const module = { exports: {} as Record<string, unknown> };
    const fakeRequire = (name: string) => {
      if (name !== '@aws-sdk/client-ssm') throw new Error(`the handler may only require @aws-sdk/client-ssm, asked for ${name}`);
      return { SSMClient, PutParameterCommand };
    };
    const fakeProcess = { env: { SHARE_PARAM: '/openclaw/prod/canary/share' } };
    const logged: string[] = [];
    new Function('require', 'exports', 'process', 'console', ROLLBACK_HANDLER_SOURCE)(fakeRequire, module.exports, fakeProcess, { log: (l: string) => logged.push(l) });
    return module.exports['handler'] as (event: unknown) => Promise<Record<string, unknown>>;
  }

  test('GIVEN an ALARM state change WHEN handled THEN the share is overwritten with 0', async () => {
    const sent: Array<Record<string, unknown>> = [];
    const out = await load(sent)({ detail: { alarmName: 'openclaw-prod-canary-regression', state: { value: 'ALARM', reason: 'Threshold Crossed' } } });
    expect(sent).toEqual([{ Name: '/openclaw/prod/canary/share', Value: '0', Overwrite: true }]);
    expect(out).toEqual({ rolledBack: true, parameter: '/openclaw/prod/canary/share' });
  });

  test('GIVEN any other state WHEN handled THEN nothing is written', async () => {
    const sent: Array<Record<string, unknown>> = [];
    expect(await load(sent)({ detail: { state: { value: 'OK' } } })).toEqual({ rolledBack: false, state: 'OK' });
    expect(await load(sent)({})).toEqual({ rolledBack: false, state: 'unknown' });
    expect(sent).toEqual([]);
  });
});
